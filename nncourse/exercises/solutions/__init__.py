"""The answers to the course's exercises, one module per exercise module (for teachers).

Each ``Exercise`` names its answer here; ``exercise.solution()`` prints it and
``python -m nncourse.exercises.solve`` writes it into a solved copy of a notebook.
"""
