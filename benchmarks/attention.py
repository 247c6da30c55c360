"""Forward + backward time of the NumPy attention against PyTorch on the CPU: same shapes, same
dtype (float32), same run.

Target (issue 8): NumPy scaled dot-product attention forward + backward within 2x of
``torch.nn.functional.scaled_dot_product_attention`` + autograd at (batch 8, heads 4, T 128,
head size 32). Also timed: the MultiHeadAttention layer against ``nn.MultiheadAttention`` and the
TransformerBlock against ``nn.TransformerEncoderLayer(norm_first=True)``, and the O(T^2) growth
of attention with the sequence length. Run: ``python benchmarks/attention.py`` (``--repeats 20``,
``--threads 1`` for a single-threaded comparison on a shared machine).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from nncourse.attention import MultiHeadAttention, scaled_dot_product_attention, scaled_dot_product_attention_backward
from nncourse.transformer import TransformerBlock
from timing import median_seconds, set_threads, time_separately




def _cols(t_np, t_t) -> str:
    """NumPy and torch min/median in ms, and their ratios (min/median)."""
    return (f"{t_np.min * 1e3:7.2f}/{t_np.median * 1e3:7.2f} {t_t.min * 1e3:7.2f}/{t_t.median * 1e3:7.2f} "
            f"{t_np.min / t_t.min:5.2f}/{t_np.median / t_t.median:5.2f}")


def bench_sdpa(batch, heads, length, head_size, causal, repeats):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((batch, heads, length, head_size)).astype(np.float32) for _ in range(3))
    dout = rng.standard_normal(q.shape).astype(np.float32)

    def numpy_step():
        out, weights = scaled_dot_product_attention(q, k, v, causal=causal)
        return out, scaled_dot_product_attention_backward(dout, q, k, v, weights)

    tq, tk, tv = (torch.from_numpy(a).requires_grad_(True) for a in (q, k, v))
    tdout = torch.from_numpy(dout)

    def torch_step():
        out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
        tq.grad = tk.grad = tv.grad = None
        out.backward(tdout)
        return out

    out, (dq, dk, dv) = numpy_step()
    out_t = torch_step()
    err = max(float(np.abs(out - out_t.detach().numpy()).max()), float(np.abs(dq - tq.grad.numpy()).max()),
              float(np.abs(dk - tk.grad.numpy()).max()), float(np.abs(dv - tv.grad.numpy()).max()))
    return (*time_separately(numpy_step, torch_step, repeats=max(1, repeats // 4)), err)  # 4 blocks each


def bench_layer(layer, x, torch_call, repeats):
    module = layer.to_torch()
    x_t = torch.from_numpy(x).requires_grad_(True)
    out = layer.forward(x)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    dout_t = torch.from_numpy(dout)

    def numpy_step():
        layer.forward(x)
        return layer.backward(dout)

    def torch_step():
        module.zero_grad(set_to_none=True)
        x_t.grad = None
        torch_call(module, x_t).backward(dout_t)

    dx = numpy_step()
    torch_step()
    err = float(np.abs(dx - x_t.grad.numpy()).max())
    return (*time_separately(numpy_step, torch_step, repeats=max(1, repeats // 4)), err)  # 4 blocks each


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for both torch and NumPy's BLAS (0: torch's count, for both)")
    args = parser.parse_args()
    set_threads(args.threads)  # the same count for both libraries, printed
    print(f"numpy {np.__version__}, torch {torch.__version__}, torch threads {torch.get_num_threads()}; float32")
    print("each side timed in its own blocks (alternating order); ms per forward + backward, min / median")
    print(f"{'scaled dot-product attention (B, H, T, d)':46s} {'NumPy ms':>15s} {'torch ms':>15s} {'ratio':>11s}  max err")
    target = (8, 4, 128, 32, False)
    for case in [target, (8, 4, 128, 32, True), (16, 8, 64, 64, False), (4, 4, 256, 32, True), (2, 2, 512, 64, False)]:
        t_np, t_t, err = bench_sdpa(*case, repeats=args.repeats)
        b, h, t, d, causal = case
        label = f"({b}, {h}, {t}, {d}){' causal' if causal else ''}" + ("  <- target" if case == target else "")
        print(f"{label:46s} {_cols(t_np, t_t)}  {err:.1e}")
        if case == target:
            verdict = "within" if t_np.median / t_t.median <= 2 else "NOT within"
            print(f"{'':46s} -> {verdict} 2x of PyTorch CPU (forward + backward)")

    rng = np.random.default_rng(0)
    print(f"\n{'layer forward + backward (N, T, E), heads':46s} {'NumPy ms':>15s} {'torch ms':>15s} {'ratio':>11s}  dx err")
    for n, t, e, h in [(16, 64, 128, 4), (8, 128, 64, 2)]:
        x = rng.standard_normal((n, t, e)).astype(np.float32)
        mask = torch.nn.Transformer.generate_square_subsequent_mask(t)
        mha = MultiHeadAttention(e, h, causal=True, dtype=np.float32)
        t_np, t_t, err = bench_layer(mha, x, lambda m, x_: m(x_, x_, x_, need_weights=False, attn_mask=mask,
                                                            is_causal=True)[0], args.repeats)
        print(f"{f'MultiHeadAttention ({n}, {t}, {e}), {h}':46s} {_cols(t_np, t_t)}  {err:.1e}")
        block = TransformerBlock(e, h, causal=True, dtype=np.float32)
        t_np, t_t, err = bench_layer(block, x, lambda m, x_: m(x_), args.repeats)
        print(f"{f'TransformerBlock ({n}, {t}, {e}), {h}':46s} {_cols(t_np, t_t)}  {err:.1e}")

    print("\nAttention cost grows as T^2 (PyTorch forward, batch 1, 4 heads, head size 32):")
    previous = None
    for length in (256, 512, 1024, 2048):
        q = torch.randn(1, 4, length, 32)
        (seconds,) = median_seconds(lambda: F.scaled_dot_product_attention(q, q, q), repeats=max(3, args.repeats // 4))
        growth = f"  x{seconds / previous:.1f} for 2x T" if previous else ""
        print(f"  T = {length:5d}: {seconds * 1e3:8.2f} ms{growth}")
        previous = seconds


if __name__ == "__main__":
    main()
