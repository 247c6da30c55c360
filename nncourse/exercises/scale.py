"""Exercises of notebook 11 (training at scale).

* ``ring_allreduce_traffic`` (warm-up): the elements one worker sends in a ring all-reduce; the
  notebook then uses it to price the gradient exchange of a 7B model on 8 GPUs.
* ``zero_memory_per_gpu`` (substantial): the bytes per GPU of weights, gradients and optimizer
  state under ZeRO stages 0-3; the notebook then uses it to find how many 80 GB GPUs each stage
  needs for a 7B and a 65B model, and checks it against the widget's formula.

Expected answers come from the package (``nncourse.scale``: the counted ring all-reduce and
``training_memory``); the answers a teacher can show are in ``nncourse.exercises.solutions.scale``.
"""
from __future__ import annotations

import numpy as np

from .. import scale
from . import Exercise
from .solutions import scale as solutions

# --- warm-up: ring traffic ------------------------------------------------------------------------


def _counted_traffic(n, K):
    """What the package's ring all-reduce actually sends per worker (n divisible by K here)."""
    _, stats = scale.ring_allreduce([np.zeros(n) for _ in range(K)])
    return float(stats.max_sent)


ring_allreduce_traffic = Exercise(
    "ring_allreduce_traffic", solution=solutions.ring_allreduce_traffic, reference=_counted_traffic,
    cases=[(12, 3), (8, 2), (40, 8), (60, 4), (7, 1)], atol=1e-9, rtol=1e-12,
    hints=["Count the steps: reduce-scatter needs K - 1 of them, all-gather K - 1 more.",
           "In every step each worker sends exactly one chunk, and a chunk is n / K elements.",
           "2 * (K - 1) steps times n / K elements."],
    mistakes=[(lambda n, K: (K - 1) * n / K, "you counted only one of the two phases (reduce-scatter or all-gather)."),
              (lambda n, K: 2 * (K - 1) * n, "each step sends one chunk (n / K elements), not the whole gradient."),
              (lambda n, K: 2 * K * n / K, "a ring of K workers needs K - 1 steps per phase, not K."),
              (lambda n, K: K * n, "that is the parameter server's busiest link; in a ring each worker sends a "
                                   "chunk per step.")])


# --- substantial: memory under ZeRO ---------------------------------------------------------------

def _zero_reference(n_params, gpus, stage):
    mem = scale.training_memory(_Shape(n_params), precision="bf16", optimizer="adam", zero_stage=stage, gpus=gpus)
    return mem["weights"], mem["gradients"], mem["optimizer"]


class _Shape:
    """A model with exactly ``params`` parameters for ``training_memory`` (activations unused here)."""
    layers, hidden = 1, 1

    def __init__(self, params):
        self.params = params


def _zero_cases():
    return [(1000, 4, 0), (1000, 4, 1), (1000, 4, 2), (1000, 4, 3), (7_000, 8, 2), (7_000_000, 8, 3),
            (500, 1, 3), (1200, 3, 1)]


def _stage_shift(shift):
    def wrong(n, gpus, stage):
        return solutions.zero_memory_per_gpu(n, gpus, min(3, stage + shift))
    return wrong


def _no_master(n, gpus, stage):
    w, g, o = solutions.zero_memory_per_gpu(n, gpus, stage)
    return w, g, o * 8 / 12


def _fp32_everything(n, gpus, stage):
    w, g, o = solutions.zero_memory_per_gpu(n, gpus, stage)
    return 2 * w, 2 * g, o * 8 / 12


def _only_this_stage(n, gpus, stage):
    w, g, o = 2.0 * n, 2.0 * n, 12.0 * n
    return (w / gpus if stage == 3 else w, g / gpus if stage == 2 else g, o / gpus if stage == 1 else o)


def _compare_zero(got, want, case):
    problem = zero_memory_per_gpu.default_compare(got, want, case)
    if problem is None or any(problem == message for _, message in zero_memory_per_gpu.mistakes):
        return problem
    try:  # the right total in the wrong places
        if (len(got) == 3 and np.isclose(float(np.sum(got)), float(np.sum(want)), rtol=1e-9)):
            return ("the total is right but the three parts are not: return (weights, gradients, optimizer "
                    "state) in that order.")
    except (TypeError, ValueError):
        pass
    return problem


zero_memory_per_gpu = Exercise(
    "zero_memory_per_gpu", solution=solutions.zero_memory_per_gpu, reference=_zero_reference,
    cases=_zero_cases, compare=_compare_zero, output_names=("weights", "gradients", "optimizer"),
    atol=1e-6, rtol=1e-9,
    hints=["First stage 0 (plain data parallelism): every GPU holds everything. How many bytes per parameter "
           "do bf16 weights, bf16 gradients and Adam's float32 state (including the master copy) take?",
           "2 + 2 + 12 = 16 bytes per parameter. Each stage divides one more of the three by the number of GPUs, "
           "and keeps the earlier stages' division.",
           "Stage 1 divides the optimizer state by gpus; stage 2 also the gradients; stage 3 also the weights."],
    mistakes=[(_stage_shift(1), "you shard one thing too many: stage s shards s of the three (stage 1 only the "
                                "optimizer state)."),
              (_stage_shift(-1), "you shard one thing too few: stage 1 already shards the optimizer state."),
              (_only_this_stage, "each stage keeps the sharding of the stages before it (stage 3 shards all three)."),
              (_no_master, "your optimizer state misses the float32 master copy of the weights (Adam's two moments "
                           "are 8 bytes; mixed precision keeps 4 more)."),
              (_fp32_everything, "the weights and gradients are bf16 here: 2 bytes each, not 4.")])
