"""Linear recurrences: the parallel scan against the loop, minGRU/minLSTM against torch step by step, and bad input."""

import re

import numpy as np
import pytest
import torch

import rnncore as rc
from rnncore._lock import ReferenceLockedError, locked

SHAPES = [(1,), (2,), (3,), (5,), (8,), (13,), (64,), (1000,),
          (1, 1, 1), (1, 3, 4), (7, 1, 1), (9, 2, 5), (16, 3, 2), (33, 1, 4), (100, 2, 1, 3)]


def _explicit(a, b, h0):
    """h_t = (prod_{j<=t} a_j) h0 + sum_{k<=t} (prod_{k<j<=t} a_j) b_k, written out with no recurrence."""
    T = a.shape[0]
    hs = np.empty(a.shape)
    for t in range(T):
        h = np.prod(a[: t + 1], axis=0) * h0
        for k in range(t + 1):
            h = h + np.prod(a[k + 1: t + 1], axis=0) * b[k]
        hs[t] = h
    return hs


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_h0", [True, False])
def test_parallel_scan_equals_loop(rng, shape, with_h0):
    a = rng.uniform(-1, 1, size=shape)
    b = rng.standard_normal(shape)
    h0 = rng.standard_normal(shape[1:]) if with_h0 else None
    loop = rc.linear_recurrence(a, b, h0)
    scan = rc.parallel_scan(a, b, h0)
    assert scan.shape == loop.shape == shape
    np.testing.assert_allclose(scan, loop, rtol=0, atol=1e-12)


@pytest.mark.parametrize("T", [1, 2, 3, 6, 11])
def test_loop_and_scan_match_the_explicit_sum(rng, T):
    a = rng.uniform(-1.2, 1.2, size=(T, 2, 3))
    b = rng.standard_normal((T, 2, 3))
    h0 = rng.standard_normal((2, 3))
    expected = _explicit(a, b, h0)
    np.testing.assert_allclose(rc.linear_recurrence(a, b, h0), expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(rc.parallel_scan(a, b, h0), expected, rtol=1e-13, atol=1e-13)


def test_default_h0_is_zero(rng):
    a, b = rng.uniform(-1, 1, (6, 2, 3)), rng.standard_normal((6, 2, 3))
    zeros = np.zeros((2, 3))
    np.testing.assert_array_equal(rc.parallel_scan(a, b), rc.parallel_scan(a, b, zeros))
    np.testing.assert_array_equal(rc.linear_recurrence(a, b), rc.linear_recurrence(a, b, zeros))


def test_scan_with_large_coefficients_agrees_relative_to_the_state(rng):
    # |a| up to 1.5 with random signs: the states grow, and agreement is relative to their size
    T = 300
    a = rng.uniform(0.5, 1.5, size=(T, 4)) * rng.choice([-1.0, 1.0], size=(T, 4))
    a[:, 0] = 1.2  # one channel grows geometrically, to about 1e23
    b = rng.standard_normal((T, 4))
    loop, scan = rc.linear_recurrence(a, b), rc.parallel_scan(a, b)
    assert np.abs(loop[:, 0]).max() > 1e20
    assert np.all(np.abs(scan - loop) <= 1e-12 * np.maximum(1.0, np.abs(loop)))


def test_scan_golden_values():
    # by hand: h0 = 2, a = (0.5, 2, 1), b = (1, 1, 1) -> h = (2, 5, 6); a 0 erases everything before it
    for f in (rc.linear_recurrence, rc.parallel_scan):
        np.testing.assert_allclose(f([0.5, 2.0, 1.0], [1.0, 1.0, 1.0], 2.0), [2.0, 5.0, 6.0], rtol=1e-15)
        np.testing.assert_allclose(f([3.0, 0.0, 2.0, 1.0], [1.0, 4.0, 0.0, -1.0], 1.0), [4.0, 4.0, 8.0, 7.0])
        # a = 1 everywhere: a cumulative sum
        np.testing.assert_allclose(f(np.ones(5), np.arange(5.0)), np.cumsum(np.arange(5.0)))


def test_scan_keeps_float32_and_does_not_change_inputs(rng):
    a = rng.uniform(-1, 1, (20, 3)).astype(np.float32)
    b = rng.standard_normal((20, 3)).astype(np.float32)
    a0, b0 = a.copy(), b.copy()
    for f in (rc.linear_recurrence, rc.parallel_scan):
        hs = f(a, b)
        assert hs.dtype == np.float32
        np.testing.assert_allclose(hs, rc.linear_recurrence(a.astype(np.float64), b.astype(np.float64)), atol=1e-5)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def _torch_min_step_by_step(x, h0, gates, candidate, normalise):
    """minGRU (one gate) or minLSTM (two normalised gates), one step at a time in torch float64."""
    xt = torch.from_numpy(x)
    h = torch.from_numpy(h0)
    out = []
    for t in range(x.shape[0]):
        g = [torch.sigmoid(torch.nn.functional.linear(xt[t], torch.from_numpy(W), torch.from_numpy(b)))
             for W, b in gates]
        h_tilde = torch.nn.functional.linear(xt[t], torch.from_numpy(candidate[0]), torch.from_numpy(candidate[1]))
        if normalise:  # minLSTM: f' = f / (f + i), i' = i / (f + i)
            f, i = g
            h = f / (f + i) * h + i / (f + i) * h_tilde
        else:  # minGRU: z weights the new candidate
            (z,) = g
            h = (1 - z) * h + z * h_tilde
        out.append(h)
    return torch.stack(out).numpy()


@pytest.mark.parametrize("T,N,D,H", [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 3, 2), (37, 4, 3, 5), (64, 2, 6, 3)])
def test_mingru_parallel_and_sequential_match_torch(rng, T, N, D, H):
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    W_z, W_h = rng.standard_normal((H, D)), rng.standard_normal((H, D))
    b_z, b_h = rng.standard_normal(H), rng.standard_normal(H)
    expected = _torch_min_step_by_step(x, h0, [(W_z, b_z)], (W_h, b_h), normalise=False)
    par = rc.mingru_forward(x, h0, W_z, b_z, W_h, b_h)
    seq = rc.mingru_forward(x, h0, W_z, b_z, W_h, b_h, parallel=False)
    assert par.shape == seq.shape == (T, N, H)
    np.testing.assert_allclose(seq, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(par, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("T,N,D,H", [(1, 1, 1, 1), (6, 2, 3, 4), (50, 3, 2, 5)])
def test_minlstm_parallel_and_sequential_match_torch(rng, T, N, D, H):
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    W = [rng.standard_normal((H, D)) for _ in range(3)]
    b = [rng.standard_normal(H) for _ in range(3)]
    expected = _torch_min_step_by_step(x, h0, [(W[0], b[0]), (W[1], b[1])], (W[2], b[2]), normalise=True)
    args = (x, h0, W[0], b[0], W[1], b[1], W[2], b[2])
    np.testing.assert_allclose(rc.minlstm_forward(*args, parallel=False), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rc.minlstm_forward(*args), expected, rtol=0, atol=1e-12)


def test_mingru_golden_values():
    # D = H = 1, W_z = 0 and b_z = 0 so z = 1/2; candidate = x + 1; h0 = 4; x = (1, -1):
    # h_1 = 0.5 * 4 + 0.5 * 2 = 3, h_2 = 0.5 * 3 + 0.5 * 0 = 1.5
    for parallel in (True, False):
        hs = rc.mingru_forward(np.array([1.0, -1.0]).reshape(2, 1, 1), [[4.0]], [[0.0]], [0.0], [[1.0]], [1.0],
                               parallel=parallel)
        np.testing.assert_allclose(hs[:, 0, 0], [3.0, 1.5], rtol=1e-15)


def test_mingru_keeps_float32(rng):
    T, N, D, H = 8, 2, 3, 4
    args = [rng.standard_normal(s).astype(np.float32) for s in [(T, N, D), (N, H), (H, D), (H,), (H, D), (H,)]]
    assert rc.mingru_forward(*args).dtype == np.float32
    assert rc.minlstm_forward(*args[:2], *args[2:], *args[2:4]).dtype == np.float32


def test_scan_is_locked_while_a_student_function_is_graded(rng):
    a, b = rng.uniform(-1, 1, (4, 2)), rng.standard_normal((4, 2))
    with locked("parallel_scan"):
        for f in (rc.parallel_scan, rc.linear_recurrence, rc.mingru_forward, rc.scan.parallel_scan):
            with pytest.raises(ReferenceLockedError):
                f(a, b)


def _raises(message):
    """pytest.raises for a ValueError whose message is exactly `message`."""
    return pytest.raises(ValueError, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize("func", [rc.linear_recurrence, rc.parallel_scan])
def test_recurrence_bad_input(func):
    name = func.__name__
    a = np.zeros((4, 2, 3))
    with _raises(f"{name}: `b` must have shape (T, ...) like `a` = (4, 2, 3), got (4, 3, 2)"):
        func(a, np.zeros((4, 3, 2)))
    with _raises(f"{name}: `h0` must have shape a.shape[1:] = (2, 3), got (3,)"):
        func(a, a, np.zeros(3))
    with _raises(f"{name}: `a` must have shape (T, ...) with time first, got shape ()"):
        func(1.0, 1.0)
    with _raises(f"{name}: `a` must have at least one time step, got shape (0, 2)"):
        func(np.zeros((0, 2)), np.zeros((0, 2)))
    with _raises(f"{name}: `b` must be a numeric array, got dtype <U1"):
        func(np.zeros(2), np.array(["x", "y"]))


def test_mingru_bad_input():
    T, N, D, H = 3, 2, 4, 5
    x, h0 = np.zeros((T, N, D)), np.zeros((N, H))
    W, b = np.zeros((H, D)), np.zeros(H)
    with _raises("mingru_forward: `x` must be 3-D with shape (T, N, D), got shape (2, 4)"):
        rc.mingru_forward(np.zeros((N, D)), h0, W, b, W, b)
    with _raises("mingru_forward: `W_z` must have shape (H, D) = (5, 4), got (5, 3)"):
        rc.mingru_forward(x, h0, np.zeros((H, 3)), b, W, b)
    with _raises("mingru_forward: `W_h` must have shape (H, D) = (5, 4), got (4, 4)"):
        rc.mingru_forward(x, h0, W, b, np.zeros((D, D)), b)
    with _raises("mingru_forward: `b_h` must have shape (H,) = (5,), got (1, 5)"):
        rc.mingru_forward(x, h0, W, b, W, b[None])
    with _raises("mingru_forward: `h0` must have shape (N, H) = (2, 5), got (5,)"):
        rc.mingru_forward(x, np.zeros(H), W, b, W, b)
    with _raises("mingru_forward: `x` must have at least one time step, got shape (0, 2, 4)"):
        rc.mingru_forward(np.zeros((0, N, D)), h0, W, b, W, b)
    with _raises("minlstm_forward: `W_i` must have shape (H, D) = (5, 4), got (5, 5)"):
        rc.minlstm_forward(x, h0, W, b, np.zeros((H, H)), b, W, b)
    with _raises("minlstm_forward: `b_f` must be a numeric array, got dtype object"):
        rc.minlstm_forward(x, h0, W, np.array([None] * H), W, b, W, b)
