"""Answers to the exercises of notebook 03 (backpropagation)."""
import numpy as np


def mse_loss(pred, target):
    diff = pred - target
    loss = np.mean(diff**2)
    dpred = 2 * diff / diff.size  # each element appears once in a mean over diff.size terms
    return loss, dpred


def cross_entropy_gradient(logits, targets):
    n = len(targets)
    shifted = logits - logits.max(axis=1, keepdims=True)  # softmax is unchanged, exp cannot overflow
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    probs[np.arange(n), targets] -= 1                    # softmax - one_hot(targets)
    return probs / n                                     # the loss is a mean over the batch


def softmax_mlp_backward(X, y, W1, b1, W2, b2):
    """Loss and gradients of Linear(W1, b1) -> ReLU -> Linear(W2, b2) -> softmax cross-entropy.

    X (N, D), y (N,) class indices, W1 (H, D), b1 (H,), W2 (C, H), b2 (C,); the loss is the mean
    over the batch. Returns (loss, dW1, db1, dW2, db2), each gradient shaped like its parameter.
    """
    N = len(X)
    # forward
    z1 = X @ W1.T + b1                                   # (N, H)
    h = np.maximum(z1, 0)                                # (N, H)
    logits = h @ W2.T + b2                               # (N, C)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    # backward
    dlogits = probs.copy()
    dlogits[np.arange(N), y] -= 1
    dlogits /= N                                         # (N, C): the mean over the batch
    dW2 = dlogits.T @ h                                  # (C, H): summed over the batch
    db2 = dlogits.sum(axis=0)                            # (C,)
    dh = dlogits @ W2                                    # (N, H): summed over the output units
    dz1 = dh * (z1 > 0)                                  # ReLU passes the gradient only where it was active
    dW1 = dz1.T @ X                                      # (H, D)
    db1 = dz1.sum(axis=0)                                # (H,)
    return loss, dW1, db1, dW2, db2
