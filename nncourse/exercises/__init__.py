"""Exercises with staged help: a check that names what is wrong, hints on request, the answer last.

In a notebook an exercise looks like this (Neuromatch's pattern)::

    def momentum_step(p, g, velocity, lr, momentum):
        # YOUR CODE HERE
        raise NotImplementedError

    exercises.momentum_step.check(momentum_step)

``check`` runs the learner's function on fixed, seeded test cases and prints ✓, or a **nudge**
that says *what* is wrong without the fix: the shape, a flipped sign, a constant factor, an
overflow, a known mistake ("you used the uncorrected m"), or the first test case that failed.
``exercises.momentum_step.hint()`` prints the next hint each time it is called;
``exercises.momentum_step.solution()`` prints the answer. A check never raises, so a notebook runs
to the end solved or not; ``use(fn)`` hands later cells the learner's function once it passes
(the course's version until then), so the learner's code is what the notebook then runs.

For teachers: every answer lives in ``nncourse.exercises.solutions``, and
``python -m nncourse.exercises.solve notebooks/04_optimization.ipynb`` writes a solved copy (the
test suite runs every notebook solved). One exercise module per notebook concept.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Every Exercise, by the name of the function or variable the learner writes (unique course-wide,
# so a notebook's stub names its exercise; ``solve`` relies on it).
REGISTRY: dict[str, "Exercise"] = {}


class CheckResult:
    """The outcome of a check: truthy if passed, equal to True/False, silent as a cell's last value."""

    def __init__(self, passed: bool, message: str = ""):
        self.passed = bool(passed)
        self.message = message

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other) -> bool:
        return self.passed == bool(other)

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        pass  # the check printed its message already


Cases = Sequence[tuple] | Callable[[], Sequence[tuple]]
# A comparison returns None when ``got`` is acceptable for this case, else a nudge (what is wrong).
Compare = Callable[[Any, Any, tuple], "str | None"]


class Exercise:
    """One exercise: ``check(fn)`` with nudges, ``hint()`` in stages, ``solution()`` on request.

    Parameters
    ----------
    name : the learner's function (or variable) name in the notebook, e.g. ``"momentum_step"``.
    solution : the answer, a function in ``nncourse.exercises.solutions`` (its source is what
        ``solution()`` prints and what ``solve`` puts into the notebook); for a value exercise
        (``kernel = ...``), a string of code that assigns it.
    cases : the test cases, argument tuples, or a function returning them. Build them from a fixed
        seed (``np.random.default_rng(<number>)`` inside that function), never from a module-level
        generator, so the same code always gets the same verdict.
    hints : from gentle to nearly the answer; ``hint()`` prints one more each call.
    mistakes : ``(wrong_function, message)`` pairs: when the learner's output equals a typical wrong
        answer's on a failing case, the nudge is that message (say what is wrong, not the fix).
    reference : computes the expected output from a case (defaults to ``solution``); anything
        ``np.allclose`` to it (atol, rtol) is accepted, so every equivalent formula passes.
    compare : replaces the comparison with the reference: ``compare(got, want, case)`` returns
        None when ``got`` is right (accept every equivalent answer: a scaled kernel, ...) or a nudge.
    describe : names a case in messages (default: the shapes and ranges of its arguments).
    """

    def __init__(self, name: str, *, solution: Callable | str, cases: Cases, hints: Sequence[str],
                 mistakes: Sequence[tuple[Callable, str]] = (), reference: Callable | None = None,
                 compare: Compare | None = None, describe: Callable[[tuple], str] | None = None,
                 output_names: Sequence[str] | None = None, atol: float = 1e-8, rtol: float = 1e-6,
                 handle: str | None = None):
        if not hints:
            raise ValueError(f"exercise {name!r}: give at least one hint")
        if reference is None and not callable(solution):
            raise ValueError(f"exercise {name!r}: a value exercise needs a reference or a compare function")
        self.name, self.solution_object, self._cases = name, solution, cases
        self.hints, self.mistakes = list(hints), list(mistakes)
        self.reference = reference if reference is not None else solution
        self.compare, self.describe = compare, describe or describe_case
        self.output_names, self.atol, self.rtol = output_names, atol, rtol
        self.handle = handle or f"exercises.{name}"
        self.hints_shown = 0
        self.last_result: CheckResult | None = None
        if name in REGISTRY and REGISTRY[name].solution_object is not solution:
            raise ValueError(f"two exercises are called {name!r}; names must be unique across the course")
        REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"Exercise({self.name!r}: {self.handle}.check(...), .hint(), .solution())"

    # -- the learner's side ----------------------------------------------------------------------
    def cases(self) -> list[tuple]:
        return list(self._cases() if callable(self._cases) else self._cases)

    def check(self, answer, *, quiet: bool = False) -> CheckResult:
        """Run ``answer`` (a function, or the value itself) on every case; print ✓ or a nudge."""
        passed, message = self._verdict(answer)
        self.last_result = CheckResult(passed, message)
        self._last_answer = answer  # so that use(answer) right after need not run the cases again
        if not quiet:
            print(message)
        return self.last_result

    def hint(self) -> None:
        """Print the next hint (each call gives one more)."""
        if self.hints_shown < len(self.hints):
            self.hints_shown += 1
            print(f"Hint {self.hints_shown}/{len(self.hints)} for {self.name}: {self.hints[self.hints_shown - 1]}")
        if self.hints_shown >= len(self.hints):
            print(f"(That was the last hint. {self.handle}.solution() shows the answer.)")

    def solution(self) -> None:
        """Print the answer."""
        print(solution_source(self))

    def use(self, answer):
        """``answer`` once it has passed its check, else the course's solution (said so), so that
        the cells after an exercise run either way and run the learner's code when it is right."""
        if getattr(self, "_last_answer", None) is answer and self.last_result is not None:
            passed = self.last_result.passed  # checked just before (a function is re-created when redefined)
        else:
            passed, _ = self._verdict(answer)
        if passed:
            return answer
        print(f"(Using the course's {self.name} until yours passes {self.handle}.check.)")
        return self.solution_object if callable(self.solution_object) else self.reference()

    # -- the verdict -----------------------------------------------------------------------------
    def _more(self) -> str:
        return f"\n  More help: {self.handle}.hint()   The answer: {self.handle}.solution()"

    def _verdict(self, answer) -> tuple[bool, str]:
        cases = self.cases()
        for k, case in enumerate(cases, start=1):
            if callable(answer):
                try:
                    got = answer(*_copy(case))
                except NotImplementedError:
                    return False, (f"… {self.name}: not attempted yet. Replace `raise NotImplementedError` "
                                   f"with your code.{self._more()}")
                except Exception as err:  # the learner's bug: report it, do not crash the notebook
                    return False, (f"✗ {self.name}: your code raised {type(err).__name__}: {err}\n"
                                   f"  on test case {k} of {len(cases)}: {self.describe(case)}{self._more()}")
            else:
                got = answer
            want = self.reference(*_copy(case))
            problem = (self.compare(got, want, case) if self.compare is not None
                       else self.default_compare(got, want, case))
            if problem:
                return False, (f"✗ {self.name}: {problem}\n  (test case {k} of {len(cases)}: "
                               f"{self.describe(case)}){self._more()}")
        what = f"all {len(cases)} test cases" if len(cases) > 1 else "the test case"
        return True, f"✓ {self.name}: correct on {what}."

    def default_compare(self, got, want, case) -> str | None:
        """None when ``got`` is allclose to ``want``, else a nudge: the tuple size, a shape, a named
        mistake, an overflow, the sign, a constant factor, or the first wrong entry. A ``compare=``
        function can call it for what it does not check itself."""
        wants = want if isinstance(want, tuple) else (want,)
        if isinstance(want, tuple):
            if not isinstance(got, (tuple, list)):
                return f"return {len(want)} values as a tuple ({self._names(len(want))}); you returned one {_kind(got)}."
            if len(got) != len(want):
                return f"return {len(want)} values ({self._names(len(want))}); you returned {len(got)}."
        gots = tuple(got) if isinstance(want, tuple) else (got,)
        for i, (g, w) in enumerate(zip(gots, wants)):
            which = f"{self._label(i)} " if isinstance(want, tuple) else ""
            try:
                g_arr = np.asarray(g, dtype=float)
            except (TypeError, ValueError):
                return f"your {which}result is a {_kind(g)}, expected numbers{_shape_words(np.shape(w))}."
            w_arr = np.asarray(w, dtype=float)
            if g_arr.shape != w_arr.shape:
                return f"your {which}result has shape {g_arr.shape}, expected {w_arr.shape}."
            if np.allclose(g_arr, w_arr, atol=self.atol, rtol=self.rtol, equal_nan=True):
                continue
            # What kind of wrong? Known mistakes first, then overflow, sign and scale.
            for wrong, message in self.mistakes:
                if _matches(wrong, case, got, self.atol, self.rtol):
                    return message
            if not np.isfinite(g_arr).all() and np.isfinite(w_arr).all():
                largest = max((np.abs(np.asarray(a, dtype=float)).max() for a in case if _numeric(a)), default=0)
                return (f"your {which}result contains inf or nan where the answer is finite (inputs up to "
                        f"±{largest:g} here): an overflow, or a division by zero?")
            if np.allclose(g_arr, -w_arr, atol=self.atol, rtol=self.rtol) and np.abs(w_arr).max() > self.atol:
                return f"your {which}result has the wrong sign (it is exactly minus the answer)."
            scale = _constant_factor(g_arr, w_arr)
            if scale is not None:
                return f"your {which}result is {scale:.4g} times the answer: a constant factor is off."
            index = np.unravel_index(np.argmax(np.abs(g_arr - w_arr)), g_arr.shape) if g_arr.shape else ()
            where = f" at index {tuple(int(j) for j in index)}" if index else ""
            return (f"your {which}result is wrong{where}: you give {_fmt(g_arr[index])}, "
                    f"the answer is {_fmt(w_arr[index])}.")
        return None

    def _label(self, i: int) -> str:
        return f"'{self.output_names[i]}'" if self.output_names else f"value {i + 1} of the returned tuple:"

    def _names(self, n: int) -> str:
        return ", ".join(self.output_names) if self.output_names else f"{n} arrays"


class Question:
    """A judgement question: no check, a model answer revealed only on request (``answer()``)."""

    def __init__(self, name: str, *, model_answer: str, handle: str | None = None):
        self.name, self.model_answer = name, model_answer
        self.handle = handle or f"exercises.{name}"

    def __repr__(self) -> str:
        return f"Question({self.name!r}: write your answer, then {self.handle}.answer())"

    def answer(self) -> None:
        print(self.model_answer)


def solution_source(exercise: Exercise) -> str:
    """The code of an exercise's answer (what ``solution()`` prints and ``solve`` inserts)."""
    solution = exercise.solution_object
    return inspect.getsource(solution).rstrip() + "\n" if callable(solution) else solution.rstrip() + "\n"


def load_all() -> dict[str, Exercise]:
    """Import every exercise module (filling REGISTRY) and return REGISTRY."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in {"solve", "solutions"}:
            importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY


def report(require: Sequence[str] = ()) -> None:
    """Print each checked exercise's verdict; raise AssertionError if one failed or one named in
    ``require`` was never checked (the solved-notebooks run ends with this)."""
    checked = {name: ex.last_result for name, ex in REGISTRY.items() if ex.last_result is not None}
    for name, result in checked.items():
        print(f"{'✓' if result else '✗'} {name}")
    failed = [name for name, result in checked.items() if not result]
    missing = [name for name in require if name not in checked]
    assert not failed and not missing, f"failed: {failed}; never checked: {missing}"


# -- helpers ---------------------------------------------------------------------------------------
def describe_case(case: tuple) -> str:
    """Arguments in a few words: arrays by shape and range, numbers as they are."""
    parts = []
    for a in case:
        if isinstance(a, np.ndarray):
            if a.size and np.issubdtype(a.dtype, np.number):
                parts.append(f"array {a.shape} in [{a.min():.3g}, {a.max():.3g}]")
            else:
                parts.append(f"array {a.shape}")
        else:
            text = repr(a)
            parts.append(text if len(text) < 40 else text[:37] + "...")
    return "arguments " + ", ".join(parts) if parts else "no arguments"


def _copy(case):
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case)


def _numeric(a) -> bool:
    try:
        return np.asarray(a, dtype=float).size > 0
    except (TypeError, ValueError):
        return False


def _matches(wrong: Callable, case: tuple, got, atol: float, rtol: float) -> bool:
    try:
        with np.errstate(all="ignore"):
            expected = wrong(*_copy(case))
        return _close(got, expected, atol, rtol)
    except Exception:
        return False


def _close(got, want, atol, rtol) -> bool:
    if isinstance(want, tuple):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and all(
            _close(g, w, atol, rtol) for g, w in zip(got, want))
    try:
        got_arr, want_arr = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    except (TypeError, ValueError):
        return False
    return got_arr.shape == want_arr.shape and bool(np.allclose(got_arr, want_arr, atol=atol, rtol=rtol,
                                                                equal_nan=True))


def _constant_factor(got: np.ndarray, want: np.ndarray) -> float | None:
    """c if got == c * want for one constant c (not 0, not 1), else None."""
    mask = np.abs(want) > 1e-12
    if not mask.any() or not np.isfinite(got).all() or not np.allclose(got[~mask], 0, atol=1e-12):
        return None
    ratios = got[mask] / want[mask]
    c = float(np.median(ratios))
    if abs(c) < 1e-12 or abs(c - 1) < 1e-6 or not np.allclose(ratios, c, rtol=1e-6, atol=0):
        return None
    return c


def _fmt(x) -> str:
    return f"{float(x):.6g}"


def _kind(x) -> str:
    return type(x).__name__


def _shape_words(shape) -> str:
    return f" of shape {shape}" if shape else ""
