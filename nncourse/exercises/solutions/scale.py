"""Answers to the exercises of notebook 11 (training at scale)."""


def ring_allreduce_traffic(n, K):
    # reduce-scatter and all-gather each take K - 1 steps, and in each step a worker sends one chunk of n / K
    return 2 * (K - 1) * n / K


def zero_memory_per_gpu(n_params, gpus, stage):
    # mixed-precision Adam: 2 bytes of bf16 weights, 2 of bf16 gradients, 12 of float32 state
    # (master weights, first and second moments) per parameter; ZeRO shards them over the GPUs
    weights, gradients, optimizer = 2.0 * n_params, 2.0 * n_params, 12.0 * n_params
    if stage >= 1:
        optimizer /= gpus   # stage 1: optimizer state
    if stage >= 2:
        gradients /= gpus   # stage 2: + gradients
    if stage >= 3:
        weights /= gpus     # stage 3 (FSDP's FULL_SHARD): + the weights themselves
    return weights, gradients, optimizer
