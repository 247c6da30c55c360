"""Self-checking exercises: the learner writes a function, a check call prints ✓ or a hint.

A check never raises, so a notebook runs clean whether or not the exercise is solved. It
returns a :class:`CheckResult`, which is truthy when the answer is right (``== True``), so tests
can prove that it accepts a right answer and rejects a wrong one, and which displays nothing in
a notebook (the check has already printed its message). One module per notebook
(``exercises.perceptron`` for notebook 01, ...).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class CheckResult:
    """The outcome of a check: truthy if passed, equal to True/False, silent as a cell's last value."""

    def __init__(self, passed: bool):
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other) -> bool:
        return self.passed == bool(other)

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        pass  # the check printed ✓ or a hint already


def check(fn: Callable, reference: Callable, cases: Sequence[tuple], *, name: str, hint: str,
          atol: float = 1e-8) -> CheckResult:
    """Compare ``fn(*case)`` with ``reference(*case)`` on every case; print ✓ or a hint.

    Results may be numbers, arrays or tuples of them. A ``NotImplementedError`` counts as
    "not attempted yet".
    """
    for case in cases:
        try:
            got = fn(*_copy(case))
        except NotImplementedError:
            print(f"… {name}: not attempted yet. Replace `raise NotImplementedError` with your code.")
            return CheckResult(False)
        except Exception as err:  # a learner's bug: report it, do not crash the notebook
            print(f"✗ {name}: your function raised {type(err).__name__}: {err}\n  Hint: {hint}")
            return CheckResult(False)
        want = reference(*_copy(case))
        if not _close(got, want, atol):
            print(f"✗ {name}: for input {_short(case)} you returned {_short(got)}, expected {_short(want)}."
                  f"\n  Hint: {hint}")
            return CheckResult(False)
    print(f"✓ {name}: correct on all {len(cases)} test cases.")
    return CheckResult(True)


def _copy(case):
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case)


def _close(got, want, atol) -> bool:
    if isinstance(want, tuple):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and all(
            _close(g, w, atol) for g, w in zip(got, want))
    try:
        got_arr, want_arr = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    except (TypeError, ValueError):
        return False
    return got_arr.shape == want_arr.shape and bool(np.allclose(got_arr, want_arr, atol=atol, rtol=1e-6))


def _short(value) -> str:
    text = np.array2string(np.asarray(value), precision=4) if not isinstance(value, tuple) else \
        "(" + ", ".join(_short(v) for v in value) + ")"
    return text if len(text) < 120 else text[:117] + "..."
