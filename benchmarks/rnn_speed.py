"""Forward + backward time of rnncore against torch (CPU, autograd), side by side in one process.

For the Elman RNN, the LSTM and the GRU at a course size (N=32, T=100, D=64, H=128) and a tiny size
(N=1, T=20, D=8, H=16), in float32: the median of repeated runs of one forward and one backward pass
with the same weights, inputs and upstream gradient, and the ratio rnncore / torch (below 1: rnncore
is faster). Prints a table; asserts nothing about time (the machines are shared and noisy), but does
check that both sides computed the same numbers.

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


def _median_time(fn, repeats):
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    t_np = _median_time(run_numpy, repeats)
    t_torch = _median_time(run_torch, repeats)
    return t_np, t_torch


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
          f"{'ratio':>6}")
    for size_name, size in SIZES.items():
        repeats = args.repeats if size_name == "tiny" else max(args.repeats // 10, 5)
        for cell in CELLS:
            t_np, t_torch = bench(cell, size, repeats)
            print(f"{cell:<5} {size_name:<7} {size['N']:>3} {size['T']:>4} {size['D']:>3} {size['H']:>4} "
                  f"{1e3 * t_np:>13.3f} {1e3 * t_torch:>11.3f} {t_np / t_torch:>6.2f}")


if __name__ == "__main__":
    main()
