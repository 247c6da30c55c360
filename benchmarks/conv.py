"""Forward + backward time of the NumPy convolution layer against ``torch.nn.functional.conv2d`` on the
CPU: same shapes, same dtype, same run.

Target (issue 23): ``nncourse.cnn.Conv2d`` within 2.5x of PyTorch's CPU time for float32 at batch 64,
28x28, 16 -> 32 channels, 3x3, padding 1. At stride 1 the layer runs the fast kernels
(``conv2d_forward_fast`` / ``conv2d_backward_fast``: flat shifts, chunks of images); the stride-2
row times the readable im2col kernels that notebook 06 builds. Run: ``python benchmarks/conv.py``
(``--repeats 20``, ``--threads 1``). Each side is timed in blocks of its own, the order alternating
(``timing.time_separately``), with the same thread count for PyTorch and NumPy's BLAS (printed).
On a machine shared with other jobs, two threads that wait for each other can slow both libraries
down several-fold; ``--threads 1`` is the comparison that load disturbs least.
The naive loop is timed once, on a much smaller input, to show the gap it teaches.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from nncourse.cnn import Conv2d, conv2d_naive
from timing import median_seconds, set_threads, time_separately


def bench(batch, channels_in, channels_out, size, kernel, stride, padding, repeats, dtype=np.float32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, channels_in, size, size)).astype(dtype)
    layer = Conv2d(channels_in, channels_out, kernel, stride, padding, seed=0, dtype=dtype)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)

    def numpy_step():
        layer.forward(x)
        layer.backward(dout)

    x_t = torch.from_numpy(x).requires_grad_(True)
    w_t = torch.from_numpy(layer.params["weight"].copy()).requires_grad_(True)
    b_t = torch.from_numpy(layer.params["bias"].copy()).requires_grad_(True)
    dout_t = torch.from_numpy(dout)

    def torch_step():
        out_t = F.conv2d(x_t, w_t, b_t, stride=stride, padding=padding)
        x_t.grad = w_t.grad = b_t.grad = None
        out_t.backward(dout_t)

    # Same numbers first, then the clocks.
    torch_step()
    layer.forward(x)
    dx = layer.backward(dout)
    err = max(float(np.abs(dx - x_t.grad.numpy()).max()),
              float(np.abs(layer.grads["weight"] - w_t.grad.numpy()).max()) / float(np.abs(w_t.grad.numpy()).max()))
    t_numpy, t_torch = time_separately(numpy_step, torch_step, repeats=max(1, repeats // 4))  # 4 blocks each
    return t_numpy, t_torch, err


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both torch and NumPy's BLAS (default: torch's count, for both)")
    args = parser.parse_args()
    set_threads(args.threads)  # the same count for both libraries, printed
    print(f"numpy {np.__version__}, torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} (1 min)")
    print("each side timed in its own blocks (alternating order); ms per forward + backward, min / median")
    print(f"{'shape (N, Cin->Cout, HxW, k, stride, pad)':44s} {'NumPy ms':>15s} {'torch ms':>15s} {'ratio':>11s}  max err")
    target = (64, 16, 32, 28, 3, 1, 1)
    for case in [target, (64, 16, 32, 28, 3, 1, 0), (64, 1, 16, 28, 5, 1, 2), (32, 32, 64, 14, 3, 2, 1),
                 (128, 8, 16, 8, 3, 1, 1)]:
        t_np, t_t, err = bench(*case, repeats=args.repeats)
        n, ci, co, s, k, st, p = case
        label = f"({n}, {ci}->{co}, {s}x{s}, {k}x{k}, s{st}, p{p})" + ("  <- target" if case == target else "")
        print(f"{label:44s} {t_np.min * 1e3:7.2f}/{t_np.median * 1e3:7.2f} {t_t.min * 1e3:7.2f}/{t_t.median * 1e3:7.2f} "
              f"{t_np.min / t_t.min:5.2f}/{t_np.median / t_t.median:5.2f}  {err:.1e}")
        if case == target:
            verdict = "within" if t_np.median / t_t.median <= 2.5 else "NOT within"
            print(f"{'':44s} -> {verdict} 2.5x of PyTorch CPU (median; forward + backward, float32)")

    # The naive loop on a small input, against the vectorised layer on the same input.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 16, 16))
    layer = Conv2d(3, 4, 3, padding=1, seed=0)
    start = time.perf_counter()
    slow = conv2d_naive(x, layer.params["weight"], layer.params["bias"], padding=1)
    t_naive = time.perf_counter() - start
    (t_fast,) = median_seconds(lambda: layer.forward(x), repeats=20)
    assert np.allclose(slow, layer.forward(x))
    print(f"naive loops (2, 3->4, 16x16, 3x3, forward only): {t_naive * 1e3:.0f} ms vs the layer {t_fast * 1e3:.3f} ms "
          f"({t_naive / t_fast:,.0f}x slower); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
