"""Forward + backward time of the NumPy LSTM (and RNN, GRU) against ``torch.nn.LSTM`` (``nn.RNN``, ``nn.GRU``)
on the CPU: same shapes, same weights, same dtype, same run.

Target (issue 23): the NumPy LSTM within 2x of PyTorch's CPU time for float32 at N=32, T=50,
D=64, H=128. Run: ``python benchmarks/lstm.py`` (``--repeats 20``, ``--threads 1``).
Each side is timed in blocks of its own, the order alternating (``timing.time_separately``),
with the same thread count for PyTorch and NumPy's BLAS (printed). The NumPy layers run their
loops over time on one BLAS thread whatever that count (``nncourse.rnn._one_blas_thread``: one
step's product is too small to share); the products outside the loops use the count given.
On a machine shared with other jobs, two threads that wait for each other can slow both
libraries down several-fold; ``--threads 1`` is the comparison that load disturbs least.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from nncourse.rnn import GRU, LSTM, RNN
from timing import set_threads, time_separately


def bench(cls, batch, steps, input_size, hidden_size, repeats, dtype=np.float32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, input_size)).astype(dtype)
    layer = cls(input_size, hidden_size, seed=0, dtype=dtype)
    dout = rng.standard_normal((batch, steps, hidden_size)).astype(dtype)
    module = layer.to_torch()
    x_t = torch.from_numpy(x).requires_grad_(True)
    dout_t = torch.from_numpy(dout)

    def numpy_step():
        layer.forward(x)
        return layer.backward(dout)

    def torch_step():
        module.zero_grad(set_to_none=True)
        x_t.grad = None
        out, _ = module(x_t)
        out.backward(dout_t)

    # same numbers first (float32: agreement to ~1e-5), then the clocks
    dx = numpy_step()
    torch_step()
    err = max(float(np.abs(dx - x_t.grad.numpy()).max()),
              max(float(np.abs(layer.grads[k] - p.grad.numpy()).max()) for k, p in module.named_parameters()))
    t_numpy, t_torch = time_separately(numpy_step, torch_step, repeats=max(1, repeats // 4))  # 4 blocks each
    print(f"{cls.__name__:4s} N={batch} T={steps} D={input_size} H={hidden_size} {np.dtype(dtype).name}: "
          f"NumPy {t_numpy} | torch {t_torch} | ratio {t_numpy.min / t_torch.min:4.2f}x (min), "
          f"{t_numpy.median / t_torch.median:4.2f}x (median) | max grad diff {err:.1e}")
    return t_numpy.median / t_torch.median


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both torch and NumPy's BLAS (default: torch's count, for both)")
    args = parser.parse_args()
    set_threads(args.threads)  # the same count for both libraries, printed
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} (1 min)")
    ratio = bench(LSTM, 32, 50, 64, 128, args.repeats)
    bench(RNN, 32, 50, 64, 128, args.repeats)
    bench(GRU, 32, 50, 64, 128, args.repeats)
    bench(LSTM, 32, 200, 64, 128, max(3, args.repeats // 4))
    print(f"LSTM target (issue 23): within 2x of torch (median) -> {'met' if ratio <= 2 else 'NOT met'} ({ratio:.2f}x); "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
