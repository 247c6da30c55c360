"""The benchmark harness times each side in its own blocks, alternating the order (issue 23)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from timing import median_seconds, time_separately  # noqa: E402


def test_each_function_runs_in_blocks_of_its_own_in_alternating_order():
    log = []
    a, b = (lambda: log.append("a")), (lambda: log.append("b"))
    timings = time_separately(a, b, repeats=2, blocks=3, warmup=1)
    # per block: 1 warm-up + 2 timed calls of one function, then of the other; the order flips each block
    assert "".join(log) == "aaabbb" + "bbbaaa" + "aaabbb"
    assert [len(t.block_medians) for t in timings] == [3, 3]
    assert all(t.min <= t.median for t in timings)


def test_two_copies_of_the_same_function_come_out_at_a_ratio_near_one():
    x = np.random.default_rng(0).standard_normal((120, 120))

    def work():
        for _ in range(5):
            x @ x

    def same_work():
        for _ in range(5):
            x @ x

    first, second = time_separately(work, same_work, repeats=10, blocks=4)
    assert 0.5 < first.median / second.median < 2, (first, second)
    assert len(median_seconds(work, same_work, repeats=8)) == 2


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="repeats and blocks must be at least 1"):
        time_separately(lambda: None, repeats=0)
