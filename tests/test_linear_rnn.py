"""LRU and RG-LRU: the parallel scan against the loop and a literal loop, their parametrisations, bad input."""

import numpy as np
import pytest
import torch

import rnncore as rc
from rnncore import linear_rnn


@pytest.mark.parametrize("T", [1, 2, 5, 64, 257])
def test_complex_scan_equals_the_loop(rng, T):
    a = rng.uniform(0, 1, (T, 3)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (T, 3)))
    b = rng.standard_normal((T, 3)) + 1j * rng.standard_normal((T, 3))
    h0 = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    loop, scan = rc.linear_recurrence(a, b, h0), rc.parallel_scan(a, b, h0)
    assert np.iscomplexobj(scan)
    np.testing.assert_allclose(scan, loop, rtol=0, atol=1e-12)


@pytest.mark.parametrize("T,N,D,H", [(1, 1, 1, 1), (9, 2, 3, 4), (100, 3, 2, 16)])
def test_lru_scan_loop_and_literal_loop_agree(rng, T, N, D, H):
    p = linear_rnn.lru_init(rng, D, H)
    u = rng.standard_normal((T, N, D))
    y_scan, xs_scan = linear_rnn.lru_forward(u, **p)
    y_loop, xs_loop = linear_rnn.lru_forward(u, **p, parallel=False)
    lam = torch.exp(-torch.exp(torch.from_numpy(p["nu_log"])) + 1j * torch.exp(torch.from_numpy(p["theta_log"])))
    gamma, B, C = torch.exp(torch.from_numpy(p["gamma_log"])), torch.from_numpy(p["B"]), torch.from_numpy(p["C"])
    x, ys = torch.zeros(N, H, dtype=torch.complex128), []
    for u_t in torch.from_numpy(u):  # x_t = lambda x_{t-1} + gamma (B u_t);  y_t = Re(C x_t) + D u_t
        x = lam * x + gamma * (u_t.to(torch.complex128) @ B.T)
        ys.append((x @ C.T).real + torch.from_numpy(p["D_skip"]) * u_t)
    expected = torch.stack(ys).numpy()
    np.testing.assert_allclose(y_loop, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y_scan, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(xs_scan, xs_loop, rtol=0, atol=1e-12)


def test_lru_init_ring_and_normalisation(rng):
    p = linear_rnn.lru_init(rng, 3, 2000, r_min=0.4, r_max=0.9, max_phase=np.pi / 10)
    modulus = np.exp(-np.exp(p["nu_log"]))
    angle = np.exp(p["theta_log"])
    assert modulus.min() >= 0.4 - 1e-12 and modulus.max() <= 0.9 + 1e-12
    assert angle.max() <= np.pi / 10 and angle.min() > 0
    # gamma^2 sum_k |lambda|^(2k) = 1: white noise in, a state of the same variance out (in the long run)
    np.testing.assert_allclose(np.exp(2 * p["gamma_log"]) / (1 - modulus**2), 1.0, rtol=1e-12)
    # |lambda|^2 uniform on [r_min^2, r_max^2]: its mean is (0.16 + 0.81) / 2 up to sampling error
    assert abs((modulus**2).mean() - 0.485) < 0.02


def test_lru_is_stable_for_any_parameters(rng):
    p = linear_rnn.lru_init(rng, 2, 5)
    p["nu_log"] = np.array([-30.0, -10.0, 0.0, 3.0, 10.0])  # |lambda| = exp(-exp(nu_log)) in (0, 1)
    y, xs = linear_rnn.lru_forward(rng.standard_normal((500, 1, 2)), **p)
    assert np.isfinite(y).all() and np.abs(xs).max() < 500 * np.abs(p["B"]).sum()


def _rglru_params(rng, H):
    return dict(W_a=rng.standard_normal((H, H)), b_a=rng.standard_normal(H), W_x=rng.standard_normal((H, H)),
                b_x=rng.standard_normal(H), Lambda=rng.uniform(0, 4, H))


@pytest.mark.parametrize("T,N,H", [(1, 1, 1), (8, 2, 3), (130, 3, 6)])
def test_rglru_scan_loop_and_literal_loop_agree(rng, T, N, H):
    p = _rglru_params(rng, H)
    x, h0 = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    hs_scan = linear_rnn.rglru_forward(x, h0, **p)
    hs_loop = linear_rnn.rglru_forward(x, h0, **p, parallel=False)
    t = {k: torch.from_numpy(v) for k, v in p.items()}
    a_base = torch.sigmoid(t["Lambda"])
    h, expected = torch.from_numpy(h0), []
    for x_t in torch.from_numpy(x):  # the paper's equations, one per line
        r = torch.sigmoid(x_t @ t["W_a"].T + t["b_a"])
        i = torch.sigmoid(x_t @ t["W_x"].T + t["b_x"])
        a = a_base ** (8 * r)
        h = a * h + torch.sqrt(1 - a**2) * (i * x_t)
        expected.append(h)
    expected = torch.stack(expected).numpy()
    np.testing.assert_allclose(hs_loop, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(hs_scan, expected, rtol=0, atol=1e-12)


def test_rglru_closed_gate_keeps_the_state(rng):
    H = 4
    p = _rglru_params(rng, H)
    p["W_a"], p["b_a"] = np.zeros((H, H)), np.full(H, -60.0)  # r_t = sigma(-60): a_t = 1 - O(1e-26)
    h0 = rng.standard_normal((2, H))
    hs = linear_rnn.rglru_forward(rng.standard_normal((50, 2, H)), h0, **p)
    np.testing.assert_allclose(hs[-1], h0, rtol=0, atol=1e-10)


def test_bad_input_names_the_argument(rng):
    p = linear_rnn.lru_init(rng, 3, 4)
    with pytest.raises(ValueError, match=r"lru_forward: `C` must have shape \(D, H\) = \(3, 4\), got \(4, 3\)"):
        linear_rnn.lru_forward(np.zeros((2, 1, 3)), **{**p, "C": p["C"].T})
    with pytest.raises(ValueError, match=r"lru_init: need 0 <= r_min < r_max < 1, got r_min=0.9, r_max=1.0"):
        linear_rnn.lru_init(rng, 3, 4, r_min=0.9, r_max=1.0)
    q = _rglru_params(rng, 3)
    with pytest.raises(ValueError, match=r"rglru_forward: `Lambda` must have shape \(H,\) = \(3,\), got \(2,\)"):
        linear_rnn.rglru_forward(np.zeros((2, 1, 3)), np.zeros((1, 3)), **{**q, "Lambda": np.zeros(2)})
    with pytest.raises(ValueError, match=r"`h0` must have shape \(N, H\) = \(1, 3\)"):
        linear_rnn.rglru_forward(np.zeros((2, 1, 3)), np.zeros((2, 3)), **q)
