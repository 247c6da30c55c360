"""The exercises of notebook 11: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
import numpy as np
import pytest

from nncourse.exercises import scale as ex
from nncourse.exercises.solutions import scale as solutions
from exercise_support import not_attempted, verdict as _verdict


# --- ring_allreduce_traffic ------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    solutions.ring_allreduce_traffic,
    lambda n, K: 2 * n * (1 - 1 / K),
    lambda n, K: (K - 1) * (n / K) + (K - 1) * (n / K),
])
def test_ring_traffic_accepts_equivalent_answers(answer):
    assert _verdict(ex.ring_allreduce_traffic, answer) == (True, "✓ ring_allreduce_traffic: correct on all 5 test cases.")


def test_ring_traffic_reference_is_the_counted_ring():
    for n, K in ex.ring_allreduce_traffic.cases():
        assert ex._counted_traffic(n, K) == pytest.approx(solutions.ring_allreduce_traffic(n, K))


@pytest.mark.parametrize("wrong, words", [
    (lambda n, K: (K - 1) * n / K, "only one of the two phases"),
    (lambda n, K: 2 * (K - 1) * n, "not the whole gradient"),
    (lambda n, K: 2.0 * n, "K - 1 steps per phase"),
    (lambda n, K: K * n, "parameter server"),
    (not_attempted, "not attempted"),
])
def test_ring_traffic_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.ring_allreduce_traffic, wrong)
    assert not passed and words in message, message
    assert "2 * (K - 1)" not in message


# --- zero_memory_per_gpu ---------------------------------------------------------------------------

def _with_a_table(n, gpus, stage):
    sharded_from = {"weights": 3, "gradients": 2, "optimizer": 1}  # the first stage that shards each
    size = {"weights": 2 * n, "gradients": 2 * n, "optimizer": 12 * n}
    return tuple(size[k] / gpus if stage >= sharded_from[k] else size[k] for k in size)


@pytest.mark.parametrize("answer", [solutions.zero_memory_per_gpu, _with_a_table,
                                    lambda n, gpus, stage: [2 * n / gpus ** (stage > 2), 2 * n / gpus ** (stage > 1),
                                                            12 * n / gpus ** (stage > 0)]])
def test_zero_memory_accepts_equivalent_answers(answer):
    assert _verdict(ex.zero_memory_per_gpu, answer)[0]


def test_zero_memory_total_is_16_bytes_per_parameter_at_stage_0():
    assert sum(solutions.zero_memory_per_gpu(1e9, 8, 0)) == 16e9
    assert sum(solutions.zero_memory_per_gpu(1e9, 8, 3)) == 2e9


@pytest.mark.parametrize("wrong, words", [
    (ex._stage_shift(1), "one thing too many"),
    (ex._stage_shift(-1), "one thing too few"),
    (ex._only_this_stage, "keeps the sharding of the stages before it"),
    (ex._no_master, "master copy"),
    (ex._fp32_everything, "2 bytes each"),
    (lambda n, gpus, stage: solutions.zero_memory_per_gpu(n, gpus, stage)[::-1], "in that order"),
    (lambda n, gpus, stage: sum(solutions.zero_memory_per_gpu(n, gpus, stage)), "return 3 values"),
    (not_attempted, "not attempted"),
])
def test_zero_memory_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.zero_memory_per_gpu, wrong)
    assert not passed and words in message, message


def test_use_gives_the_learners_function_once_it_passes(capsys):
    assert ex.zero_memory_per_gpu.use(_with_a_table) is _with_a_table
    assert ex.zero_memory_per_gpu.use(not_attempted) is solutions.zero_memory_per_gpu
    assert "Using the course's zero_memory_per_gpu" in capsys.readouterr().out
    np.testing.assert_allclose(ex._zero_reference(10, 2, 2), (20, 10, 60))
