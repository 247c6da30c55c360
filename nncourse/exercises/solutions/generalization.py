"""Answers to the exercises of notebook 05 (generalization)."""
import numpy as np


def inverted_dropout(x, keep, p):
    return x * keep / (1 - p)  # dropped units are 0, kept ones scaled so the mean is unchanged


def batchnorm_backward(dout, x, gamma, eps):
    mu = x.mean(axis=0)                      # the forward pass again: (D,) statistics per feature
    var = x.var(axis=0)                      # biased, as the forward normalised with
    x_hat = (x - mu) / np.sqrt(var + eps)
    dgamma = (dout * x_hat).sum(axis=0)      # every example used gamma and beta: sum over the batch
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma
    # x_i reaches the loss through x_hat_i, and through mu and var, which every x_hat_j uses
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / np.sqrt(var + eps)
    return dx, dgamma, dbeta
