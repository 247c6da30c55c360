"""Answers to the exercises of notebook 12 (efficient inference)."""
import numpy as np


def mlp_macs(sizes):
    # one multiply-accumulate per weight: in * out for every consecutive pair of layer sizes
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def quantize_per_channel_symmetric(w, bits):
    qmax = 2 ** (bits - 1) - 1                        # e.g. 127 for 8 bits, 7 for 4 bits
    amax = np.abs(w).max(axis=1, keepdims=True)       # (rows, 1): one range per output channel
    scale = np.where(amax > 0, amax, 1.0) / qmax      # a row of zeros: any positive scale works
    q = np.clip(np.round(w / scale), -qmax - 1, qmax).astype(np.int64)
    return q, scale.ravel()
