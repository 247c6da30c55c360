"""Answers to the exercises of notebook 07 (recurrent networks and the LSTM)."""
import numpy as np


def rnn_bptt(x, h0, hs, W_hh, dhs):
    N, T, H = hs.shape
    dW_ih, dW_hh, db = np.zeros((H, x.shape[2])), np.zeros((H, H)), np.zeros(H)
    dh_next = np.zeros_like(h0)                 # nothing comes from after the last step
    for t in reversed(range(T)):
        h_prev = hs[:, t - 1] if t > 0 else h0
        dh = dhs[:, t] + dh_next                # from the output at t and from step t + 1
        dz = dh * (1 - hs[:, t] ** 2)           # back through the tanh
        dW_ih += dz.T @ x[:, t]                 # the weights are shared: sum over the steps
        dW_hh += dz.T @ h_prev
        db += dz.sum(axis=0)
        dh_next = dz @ W_hh                     # on to h_{t-1}
    return dW_ih, dW_hh, db, dh_next            # after t = 0, dh_next is dL/dh0


def lstm_step(x, h_prev, c_prev, W_ih, W_hh, b):
    def sigmoid(z):
        return 0.5 * (1 + np.tanh(0.5 * z))     # = 1 / (1 + e^-z), without overflow

    i, f, g, o = np.split(x @ W_ih.T + h_prev @ W_hh.T + b, 4, axis=1)  # PyTorch's order
    c = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return h, c


def lstm_parameter_count(input_size, hidden_size):
    # four gates, each: W_i (hidden x input), W_h (hidden x hidden), and PyTorch's two biases
    return 4 * hidden_size * (input_size + hidden_size + 2)


def cell_state_carry(forget):
    return np.prod(forget, axis=0)  # dc_T/dc_0 along c_t = f_t * c_{t-1}: one product per unit


def embedding_backward(dout, ids, num_embeddings):
    dW = np.zeros((num_embeddings, dout.shape[-1]), dtype=dout.dtype)   # rows nobody looked up: no gradient
    np.add.at(dW, ids, dout)      # row ids[p] += dout[p] for every position p: a repeated id adds up
    return dW
