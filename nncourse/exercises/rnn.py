"""Exercises of notebook 07 (recurrent networks and the LSTM), each with a self-check."""
from __future__ import annotations

import numpy as np

from ..rnn import lstm_step
from . import CheckResult, check

_RNG = np.random.default_rng(1997)  # Hochreiter & Schmidhuber


def _lstm_step_reference(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c, _ = lstm_step(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh)
    return h, c


def _lstm_step_case(N, D, H):
    return (_RNG.normal(size=(N, D)), _RNG.normal(size=(N, H)), _RNG.normal(size=(N, H)),
            _RNG.normal(size=(4 * H, D)), _RNG.normal(size=(4 * H, H)), _RNG.normal(size=4 * H),
            _RNG.normal(size=4 * H))


def check_lstm_step(fn) -> CheckResult:
    """fn(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh) -> (h, c): one LSTM step by hand.

    Shapes: x_t (N, D), h_prev and c_prev (N, H), weight_ih (4H, D), weight_hh (4H, H), biases (4H,),
    gate blocks in PyTorch's order i, f, g, o.
    """
    cases = [_lstm_step_case(1, 1, 1), _lstm_step_case(2, 3, 4), _lstm_step_case(5, 2, 3)]
    return check(fn, _lstm_step_reference, cases, name="one LSTM step",
                 hint="gates = x_t @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh, then split into "
                      "four blocks of H columns in the order i, f, g, o; sigmoid for i, f, o and tanh for g; "
                      "c = f * c_prev + i * g and h = o * tanh(c).")


def _parameter_count_reference(input_size, hidden_size):
    return 4 * (hidden_size * input_size + hidden_size * hidden_size + 2 * hidden_size)


def check_lstm_parameter_count(fn) -> CheckResult:
    """fn(input_size, hidden_size) -> the number of parameters of ``torch.nn.LSTM(input_size, hidden_size)``."""
    cases = [(1, 1), (3, 5), (64, 128), (100, 1), (1, 100)]
    return check(fn, _parameter_count_reference, cases, name="LSTM parameter count",
                 hint="four gates, each with a weight matrix for the input (hidden x input), one for the previous "
                      "hidden state (hidden x hidden) and - as in PyTorch - two bias vectors (hidden each).")


def _carry_reference(forget):
    return np.prod(forget, axis=0)


def check_cell_state_carry(fn) -> CheckResult:
    """fn(forget) -> dc_T/dc_0 along the cell path: forget (T, H) gate values -> (H,) factors.

    Along the cell state alone (c_t = f_t * c_{t-1} + ...), the gradient from c_T back to c_0
    is multiplied by f_t once per step.
    """
    cases = [(np.full((3, 1), 0.5),), (_RNG.uniform(0.8, 1.0, size=(50, 4)),), (_RNG.uniform(size=(7, 3)),)]
    return check(fn, _carry_reference, cases, name="cell-state carry",
                 hint="c_t depends on c_{t-1} with the factor f_t, so the chain rule multiplies the forget gates "
                      "of all T steps, for each unit separately (np.prod over the time axis).")
