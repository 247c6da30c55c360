"""Answers to the exercises of notebook 02 (activations and initialisation)."""
import numpy as np


def stable_softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)  # each row's largest logit becomes 0: exp <= 1
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def he_std(fan_in):
    return np.sqrt(2 / fan_in)  # Var w = 2 / fan_in: ReLU zeroes half the inputs


tanh_gain = "tanh_gain = 5 / 3  # torch.nn.init.calculate_gain('tanh'); any gain in about (1, 1.8] passes"
