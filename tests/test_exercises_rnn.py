"""The exercises of notebook 07 accept a correct answer, reject a wrong one, and never raise."""
import numpy as np
import torch

from nncourse.exercises import rnn as ex


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def correct_step(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    gates = x_t @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh
    i, f, g, o = np.split(gates, 4, axis=1)
    c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def swapped_gates_step(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    gates = x_t @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh
    f, i, g, o = np.split(gates, 4, axis=1)  # wrong order: f first
    c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def no_output_gate_step(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = correct_step(x_t, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh)
    return np.tanh(c), c


def not_attempted(*args):
    raise NotImplementedError


def test_lstm_step_checker(capsys):
    assert ex.check_lstm_step(correct_step) == True
    assert "✓" in capsys.readouterr().out
    assert ex.check_lstm_step(swapped_gates_step) == False
    assert "Hint" in capsys.readouterr().out
    assert ex.check_lstm_step(no_output_gate_step) == False
    assert ex.check_lstm_step(not_attempted) == False
    assert "not attempted" in capsys.readouterr().out
    assert ex.check_lstm_step(lambda *a: a[99]) == False
    assert "IndexError" in capsys.readouterr().out


def test_parameter_count_checker_agrees_with_torch(capsys):
    def correct(input_size, hidden_size):
        return 4 * hidden_size * (input_size + hidden_size + 2)

    for d, h in [(3, 5), (64, 128)]:
        assert correct(d, h) == sum(p.numel() for p in torch.nn.LSTM(d, h).parameters())
    assert ex.check_lstm_parameter_count(correct) == True
    assert ex.check_lstm_parameter_count(lambda d, h: 4 * h * (d + h + 1)) == False  # one bias only
    assert ex.check_lstm_parameter_count(lambda d, h: h * (d + h + 2)) == False      # one gate only
    assert ex.check_lstm_parameter_count(not_attempted) == False


def test_cell_state_carry_checker(capsys):
    assert ex.check_cell_state_carry(lambda f: np.prod(f, axis=0)) == True
    assert ex.check_cell_state_carry(lambda f: np.prod(f)) == False        # all units mixed together
    assert ex.check_cell_state_carry(lambda f: f.sum(axis=0)) == False
    assert ex.check_cell_state_carry(lambda f: f[-1]) == False
