"""Write solved copies of notebooks: every exercise stub replaced by its answer.

A stub is a ``def name(...)`` whose body raises ``NotImplementedError``, or an assignment marked
``# YOUR ANSWER`` (``kernel = np.zeros((3, 3))  # YOUR ANSWER``), where ``name`` is an exercise in
``nncourse.exercises.REGISTRY``. A solved notebook ends with a cell that fails unless every
exercise it checks passed (the test suite runs every notebook this way).

    python -m nncourse.exercises.solve notebooks/04_optimization.ipynb -o solved/
"""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

from . import REGISTRY, load_all, solution_source

REPORT_CELL = "import nncourse.exercises\n\nnncourse.exercises.report(require={names!r})  # solved copy: every exercise passes"


def stubs(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of each exercise stub in a cell's code (1-based, inclusive)."""
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return []
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and _raises_not_implemented(node):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found.append((node.name, first, node.end_lineno))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            lines = source.splitlines()[node.lineno - 1:node.end_lineno]
            if "# YOUR ANSWER" in lines[-1]:
                found.append((node.targets[0].id, node.lineno, node.end_lineno))
    return found


def solve_source(source: str) -> tuple[str, list[str]]:
    """A cell's code with its stubs replaced by the answers, and the exercise names solved
    (a stub without an exercise is an error)."""
    lines, solved = source.splitlines(), []
    for name, first, last in reversed(stubs(source)):
        if name not in REGISTRY:
            raise KeyError(f"stub {name!r} has no exercise in nncourse.exercises (known: {sorted(REGISTRY)})")
        lines[first - 1:last] = solution_source(REGISTRY[name]).rstrip("\n").splitlines()
        solved.append(name)
    return "\n".join(lines), solved[::-1]


def solve_notebook(nb):
    """Solve an nbformat notebook in place and return it (with the report cell appended)."""
    import nbformat

    load_all()
    names = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source, solved = solve_source(cell.source)
            names += solved
    if names:
        nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL.format(names=names)))
    return nb


def _raises_not_implemented(node: ast.FunctionDef) -> bool:
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _without_magics(source: str) -> str:
    """IPython magics (%pip, !ls) as comments, so the cell parses; line numbers are kept."""
    return "\n".join("#" + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def main(argv=None) -> None:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("solved"), help="folder for the solved copies")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        nb = solve_notebook(nbformat.read(path, as_version=4))
        nbformat.write(nb, args.output / path.name)
        print(f"{args.output / path.name}")


if __name__ == "__main__":
    main()
