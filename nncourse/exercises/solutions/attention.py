"""Answers to the exercises of notebook 08 (attention and transformers)."""
from collections import Counter

import numpy as np


def my_causal_mask(T):
    return np.tril(np.ones((T, T), dtype=bool))  # row i (the query) may see keys 0..i: on and below the diagonal


def layernorm_backward(dout, x_hat, inv_std, gamma):
    dbeta = dout.reshape(-1, dout.shape[-1]).sum(axis=0)              # beta was added at every position
    dgamma = (dout * x_hat).reshape(-1, dout.shape[-1]).sum(axis=0)   # gamma multiplied x_hat everywhere
    dx_hat = dout * gamma                                             # (..., E)
    # x_hat = (x - mean) * inv_std, and the mean and the variance depend on x too: those two paths
    # subtract dx_hat's average and its component along x_hat (means over the E features).
    dx = inv_std * (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
                    - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))
    return dx, dgamma, dbeta


def attention_flops(T, d):
    # Q K^T: T*T dot products of length d; weights @ V: T*d dot products of length T.
    # Each dot product of length n is n multiply-adds = 2n operations.
    return 2 * T * T * d + 2 * T * T * d


def train_bpe(chunks, num_merges):
    merges = {}                                       # (a, b) -> new id, in the order learned
    for step in range(num_merges):
        counts = Counter()
        for ids, n in chunks.items():                 # every adjacent pair, as often as its chunk occurs
            for pair in zip(ids, ids[1:]):
                counts[pair] += n
        pair = max(counts, key=counts.get)            # the most frequent; of equals, the first counted
        new_id = 256 + step
        merges[pair] = new_id
        merged = {}
        for ids, n in chunks.items():                 # every occurrence, left to right: 'aaa' -> 'aa' 'a'
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            merged[tuple(out)] = n
        chunks = merged                               # the next step counts the merged chunks
    return merges
