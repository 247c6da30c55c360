"""The exercise machinery: nudges that name what is wrong, staged hints, answers on request, solved copies."""
import nbformat
import numpy as np
import pytest

from nncourse.exercises import Exercise, Question, REGISTRY, load_all, report, solve


def _square(x):
    return x**2


@pytest.fixture
def square():
    cases = lambda: [(np.array([1.0, -2.0, 3.0]),), (np.linspace(-1, 1, 6).reshape(2, 3),)]
    ex = Exercise("test_square", solution=_square, cases=cases,
                  hints=["Multiply x by itself.", "x**2 works elementwise."],
                  mistakes=[(lambda x: 2 * x, "that is the derivative of x², not x².")])
    yield ex
    REGISTRY.pop("test_square")


@pytest.mark.parametrize("answer, words", [
    (lambda x: x * x, "✓ test_square: correct on all 2 test cases"),
    (lambda x: 2 * x, "the derivative of x², not x²"),                        # a named mistake
    (lambda x: -x**2, "wrong sign"),
    (lambda x: 3 * x**2, "3 times the answer"),
    (lambda x: (x**2)[:1], "has shape (1,), expected (3,)"),
    (lambda x: x**2 + np.where(x == 3, 1, 0), "wrong at index (2,): you give 10, the answer is 9"),
    (lambda x: x**2 / (x - x), "inf or nan"),
    (lambda x: x.undefined, "raised AttributeError"),
    (lambda x: "text", "expected numbers"),
])
def test_the_first_message_names_what_is_wrong_without_the_answer(square, capsys, answer, words):
    with np.errstate(all="ignore"):
        result = square.check(answer)
    out = capsys.readouterr().out
    assert words in out
    assert bool(result) == out.startswith("✓")
    assert "x**2 works" not in out and "def _square" not in out  # no hint, no solution yet
    if not result:
        assert "exercises.test_square.hint()" in out and "exercises.test_square.solution()" in out


def test_not_attempted_and_the_same_verdict_every_run(square, capsys):
    def stub(x):
        raise NotImplementedError

    assert not square.check(stub)
    assert "not attempted yet" in capsys.readouterr().out
    off_by_one_case = lambda x: x**2 + (x.ndim == 2)
    assert [bool(square.check(off_by_one_case, quiet=True)) for _ in range(5)] == [False] * 5
    assert "test case 2 of 2" in square.last_result.message


def test_hints_come_one_at_a_time_then_the_solution_on_request(square, capsys):
    square.hint()
    assert capsys.readouterr().out.startswith("Hint 1/2 for test_square: Multiply x by itself.")
    square.hint()
    out = capsys.readouterr().out
    assert "Hint 2/2" in out and "last hint" in out
    square.solution()
    assert "def _square(x):\n    return x**2" in capsys.readouterr().out


def test_use_returns_the_learners_function_once_it_passes(square, capsys):
    mine = lambda x: x * x
    assert square.use(mine) is mine
    assert square.use(lambda x: x) is _square
    assert "Using the course's test_square" in capsys.readouterr().out


def test_value_exercises_and_custom_comparisons(capsys):
    def any_positive_multiple(got, want, case):
        got = np.asarray(got, dtype=float)
        if got.shape != want.shape:
            return f"shape {got.shape}, expected {want.shape}"
        ratio = got[want != 0] / want[want != 0]
        return None if np.allclose(ratio, ratio[0]) and ratio[0] > 0 else "not a positive multiple"

    kernel = Exercise("test_kernel", solution="test_kernel = [1, -1]  # YOUR ANSWER", reference=lambda: np.array([1.0, -1.0]),
                      cases=[()], compare=any_positive_multiple, hints=["a difference"])
    try:
        assert kernel.check([2, -2]) and not kernel.check([-1, 1])
        assert "not a positive multiple" in capsys.readouterr().out
        kernel.solution()
        assert "test_kernel = [1, -1]" in capsys.readouterr().out
    finally:
        REGISTRY.pop("test_kernel")


def test_names_are_unique_and_every_exercise_passes_with_its_own_answer():
    load_all()
    assert REGISTRY
    with pytest.raises(ValueError, match="unique"):
        Exercise("momentum_step", solution=_square, cases=[], hints=["x"])
    for name, exercise in REGISTRY.items():
        if callable(exercise.solution_object):
            with np.errstate(all="ignore"):
                assert exercise.check(exercise.solution_object, quiet=True), name


def test_solve_replaces_stubs_and_the_report_cell_demands_every_check_passed(square, capsys):
    code = ("%matplotlib inline\n"
            "def test_square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n\n\n"
            "exercises.test_square.check(test_square)\n")
    solved, names = solve.solve_source(code)
    assert names == ["test_square"]
    assert "raise NotImplementedError" not in solved and "def _square(x):\n    return x**2" in solved
    assert solved.startswith("%matplotlib inline\n") and solved.endswith("exercises.test_square.check(test_square)")
    assert solve.stubs("def helper(x):\n    return x\n") == []
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    solve.solve_notebook(nb)
    assert "report(require=['test_square'])" in nb.cells[-1].source
    with pytest.raises(KeyError, match="no exercise"):
        solve.solve_source("def not_an_exercise():\n    raise NotImplementedError\n")
    for exercise in REGISTRY.values():  # other tests' wrong answers are not this test's business
        exercise.last_result = None
    square.check(lambda x: x * x, quiet=True)
    report(require=["test_square"])
    square.check(lambda x: x, quiet=True)
    with pytest.raises(AssertionError, match="failed: .*test_square"):
        report()
    with pytest.raises(AssertionError, match="never checked"):
        report(require=["some_exercise_never_run"])


def test_questions_reveal_their_model_answer_only_when_asked(capsys):
    q = Question("test_which_criterion", model_answer="It depends on who bears the cost of an error.")
    assert "answer()" in repr(q) and capsys.readouterr().out == ""
    q.answer()
    assert "who bears the cost" in capsys.readouterr().out


def test_every_notebook_stub_is_an_exercise_and_every_exercise_is_in_a_notebook():
    """The solved run can solve every stub (strict), and no exercise is orphaned."""
    from pathlib import Path

    load_all()
    in_notebooks = set()
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        nb = solve.solve_notebook(nbformat.read(path, as_version=4))
        assert all("raise NotImplementedError" not in c.source for c in nb.cells if c.cell_type == "code"), path.name
        in_notebooks |= {name for c in nb.cells if c.cell_type == "code" for name in REGISTRY if f"exercises.{name}." in c.source
                         or f".{name}.check(" in c.source or f".{name}.use(" in c.source}
    orphans = sorted(name for name in REGISTRY if name not in in_notebooks and not name.startswith("test_"))
    assert not orphans, f"exercises no notebook uses: {orphans}"
