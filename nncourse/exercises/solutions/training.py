"""Answers to the exercises of notebooks 04 (optimizers) and 05 (regularization)."""
import numpy as np


def momentum_step(p, g, velocity, lr, momentum):
    velocity = momentum * velocity + g  # PyTorch's convention: the velocity sums raw gradients
    return p - lr * velocity, velocity


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g        # running mean of the gradient
    v = beta2 * v + (1 - beta2) * g**2     # running mean of its square
    m_hat = m / (1 - beta1**t)             # bias correction: both start at 0
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def inverted_dropout(x, keep, p):
    return x * keep / (1 - p)  # dropped units are 0, kept ones scaled so the mean is unchanged
