"""Answers to the exercises of notebook 15 (robustness and privacy)."""
import numpy as np


def linf_project(x_adv, x, eps):
    # Back into the eps-ball around x (each pixel within eps of the original) ...
    x_adv = x + np.clip(x_adv - x, -eps, eps)
    # ... and into the valid pixel range [0, 1].
    return np.clip(x_adv, 0.0, 1.0)


def private_gradient(per_example, max_norm, noise_multiplier, noise):
    norms = np.linalg.norm(per_example, axis=1, keepdims=True)       # (B, 1): each example's whole gradient
    clipped = per_example * np.minimum(1.0, max_norm / (norms + 1e-6))  # scale down only when above C
    total = clipped.sum(axis=0) + noise_multiplier * max_norm * noise  # noise std sigma * C, on the sum
    return total / len(per_example)                                   # divide by the batch size
