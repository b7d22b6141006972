"""Forward + backward time of rnncore against torch (CPU, autograd), side by side in one process.

For the Elman RNN, the LSTM and the GRU at a course size (N=32, T=100, D=64, H=128) and a tiny size
(N=1, T=20, D=8, H=16), in float32: the median of repeated runs of one forward and one backward pass
with the same weights, inputs and upstream gradient, and the ratio rnncore / torch (below 1: rnncore
is faster).

Each side is timed in its own block of repeats after a few warm-up passes. Alternating the two pass by
pass is not fair: each library's idle worker threads keep spinning for a while after a call and slow the
other one down (torch measured up to 6x slower that way).

The column "BLAS floor" times only the matrix products the numpy version has to do (the input
projection, one recurrent product per step forward and one backward, dx, dW_ih, dW_hh) with numpy's
BLAS. No numpy implementation can beat it, so where it is close to torch's time the ratio cannot go
much lower.

Prints a table; asserts nothing about time (the machines are shared and noisy), but does check that
both sides computed the same numbers.

Usage: python benchmarks/rnn_speed.py [--repeats 200] [--threads N]
"""

import argparse
import statistics
import time

import numpy as np
import torch

import rnncore
from rnncore.torch_interop import from_torch

SIZES = {"course": dict(N=32, T=100, D=64, H=128), "tiny": dict(N=1, T=20, D=8, H=16)}
CELLS = {
    "rnn": (torch.nn.RNN, rnncore.rnn_forward, rnncore.rnn_backward),
    "lstm": (torch.nn.LSTM, rnncore.lstm_forward, rnncore.lstm_backward),
    "gru": (torch.nn.GRU, rnncore.gru_forward, rnncore.gru_backward),
}


def _median_times(fns, repeats, warmup=3):
    """Median wall time of each function, each timed in its own block after `warmup` untimed calls."""
    medians = []
    for fn in fns:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return medians


def _blas_floor(G, N, T, D, H, dtype):
    """The matrix products of one forward + backward pass of a G-gate layer, and nothing else."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T * N, D)).astype(dtype)
    W_ih = rng.standard_normal((G * H, D)).astype(dtype)
    W_hhT = rng.standard_normal((H, G * H)).astype(dtype)
    W_hh = np.ascontiguousarray(W_hhT.T)
    h = rng.standard_normal((N, H)).astype(dtype)
    da = rng.standard_normal((T * N, G * H)).astype(dtype)
    h_prevs = rng.standard_normal((T * N, H)).astype(dtype)

    def products():
        x @ W_ih.T
        for _ in range(T):
            h @ W_hhT
        for t in range(T):
            da[t * N : (t + 1) * N] @ W_hh
        da @ W_ih
        da.T @ x
        da.T @ h_prevs

    return products


def bench(cell, size, repeats, dtype=np.float32):
    Module, forward, backward = CELLS[cell]
    N, T, D, H = size["N"], size["T"], size["D"], size["H"]
    torch.manual_seed(0)
    module = Module(D, H).to(torch.float32)
    p = from_torch(module).params
    W = {k: p[f"{k2}_l0"].astype(dtype) for k, k2 in
         [("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")]}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, D)).astype(dtype)
    h0 = np.zeros((N, H), dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)

    def run_numpy():
        if cell == "lstm":
            hs, _, cache = forward(x, h0, h0, **W)
        else:
            hs, cache = forward(x, h0, **W)
        return hs, backward(dhs, cache)

    xt = torch.from_numpy(x).requires_grad_()
    dt = torch.from_numpy(dhs)

    def run_torch():
        module.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = module(xt)
        out.backward(dt)
        return out

    hs, grads = run_numpy()
    out = run_torch()
    assert np.abs(hs - out.detach().numpy()).max() < 1e-4, "forward differs from torch"
    assert np.abs(grads[0] - xt.grad.numpy()).max() < 1e-3, "dx differs from torch"
    G = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    return _median_times([run_numpy, run_torch, _blas_floor(G, N, T, D, H, dtype)], repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}; float32; "
          f"median of {args.repeats} forward+backward passes")
    print(f"{'cell':<5} {'size':<7} {'N':>3} {'T':>4} {'D':>3} {'H':>4} {'rnncore (ms)':>13} {'torch (ms)':>11} "
          f"{'ratio':>6} {'BLAS floor (ms)':>16} {'floor/torch':>12}")
    for size_name, size in SIZES.items():
        repeats = args.repeats if size_name == "tiny" else max(args.repeats // 5, 5)
        for cell in CELLS:
            t_np, t_torch, t_floor = bench(cell, size, repeats)
            print(f"{cell:<5} {size_name:<7} {size['N']:>3} {size['T']:>4} {size['D']:>3} {size['H']:>4} "
                  f"{1e3 * t_np:>13.3f} {1e3 * t_torch:>11.3f} {t_np / t_torch:>6.2f} {1e3 * t_floor:>16.3f} "
                  f"{t_floor / t_torch:>12.2f}")


if __name__ == "__main__":
    main()
