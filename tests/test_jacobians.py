"""Norms of products of step Jacobians against torch.autograd (float64), and the singular-value verdict."""

import numpy as np
import pytest
import torch

import rnncore as rc


def _torch_jacobian_norms(x, h0, p, nonlinearity):
    """||dh_T/dh_k||_2 for k = 0..T and each sequence, from torch.autograd.functional.jacobian."""
    T, N, _ = x.shape
    H = p["W_hh"].shape[0]
    cell = torch.nn.RNNCell(x.shape[2], H, nonlinearity=nonlinearity).double()
    with torch.no_grad():
        for name, key in [("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"), ("bias_hh", "b_hh")]:
            getattr(cell, name).copy_(torch.from_numpy(p[key]))
    xt = torch.from_numpy(x)
    states = [torch.from_numpy(h0)]
    with torch.no_grad():
        for t in range(T):
            states.append(cell(xt[t], states[-1]))
    norms = np.empty((T + 1, N))
    for n in range(N):
        for k in range(T + 1):
            def run_from_k(h_k, n=n, k=k):
                h = h_k[None]
                for t in range(k, T):  # x[t] is read by the step that makes h_{t+1}
                    h = cell(xt[t, n : n + 1], h)
                return h[0]
            J = torch.autograd.functional.jacobian(run_from_k, states[k][n].clone())
            norms[k, n] = torch.linalg.matrix_norm(J, ord=2).item()
    hs = torch.stack(states[1:]).numpy()
    return hs, norms


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("T,N,D,H,scale", [(5, 3, 4, 6, 2.0), (1, 1, 2, 3, 1.0), (7, 1, 3, 2, 3.0), (1, 4, 3, 5, 0.5),
                                           (12, 2, 2, 4, 1.5)])
def test_jacobian_product_norms_match_torch_autograd(rng, nonlinearity, T, N, D, H, scale):
    p = rc.init_recurrent(rng, D, H)
    p["W_hh"] = scale * rng.standard_normal((H, H)) / np.sqrt(H)  # not symmetric, not normal
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    if nonlinearity == "relu":
        h0 = np.abs(h0)
    hs_torch, expected = _torch_jacobian_norms(x, h0, p, nonlinearity)
    hs, _ = rc.rnn_forward(x, h0, **p, nonlinearity=nonlinearity)
    np.testing.assert_allclose(hs, hs_torch, rtol=0, atol=1e-12)
    norms = rc.jacobian_product_norms(hs, p["W_hh"], nonlinearity=nonlinearity)
    assert norms.shape == (T + 1, N) and norms.dtype == np.float64
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(norms[T], 1.0)


def test_jacobian_product_norms_bound_every_gradient(rng):
    """||v dh_T/dh_k|| <= ||v|| norms[k] for any v, so the gradient rnn_backward carries obeys it."""
    T, N, D, H = 8, 3, 2, 5
    p = rc.init_recurrent(rng, D, H)
    p["W_hh"] = 1.5 * rng.standard_normal((H, H)) / np.sqrt(H)
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    hs, cache = rc.rnn_forward(x, h0, **p)
    norms = rc.jacobian_product_norms(hs, p["W_hh"])
    v = rng.standard_normal((N, H))
    dhs = np.zeros((T, N, H))
    dhs[-1] = v
    dh0 = rc.rnn_backward(dhs, cache)[1]  # v dh_T/dh_0, row by row
    assert np.all(np.linalg.norm(dh0, axis=1) <= np.linalg.norm(v, axis=1) * norms[0] * (1 + 1e-12))


def test_jacobian_product_norms_golden_values():
    # scalar network: dh_T/dh_k = prod_{t > k} w (1 - h_t^2)
    w = 0.8
    h = np.array([0.5, -0.2, 0.9])
    norms = rc.jacobian_product_norms(h.reshape(3, 1, 1), [[w]])
    f = w * (1 - h**2)
    np.testing.assert_allclose(norms[:, 0], np.abs([f[0] * f[1] * f[2], f[1] * f[2], f[2], 1.0]), rtol=1e-14)
    # relu, H = 2: J_1 = diag(1, 0) W, J_2 = diag(0, 1) W; J_2 J_1 = [[0, 0], [3, 6]] and J_2 = [[0, 0], [3, 4]].
    # The other order, J_1 J_2 = [[6, 8], [0, 0]], has norm 10, and W W has norm 29.9: the order matters.
    hs = np.array([[[1.0, 0.0]], [[0.0, 2.0]]])
    norms = rc.jacobian_product_norms(hs, [[1.0, 2.0], [3.0, 4.0]], nonlinearity="relu")
    np.testing.assert_allclose(norms[:, 0], [np.sqrt(45.0), 5.0, 1.0], rtol=1e-14)


def test_jacobian_product_norms_float32_and_overflow():
    hs = np.full((4, 2, 3), 0.5, dtype=np.float32)
    norms = rc.jacobian_product_norms(hs, 0.9 * np.eye(3, dtype=np.float32))
    assert norms.dtype == np.float32
    np.testing.assert_allclose(norms[:, 0], (0.9 * 0.75) ** np.arange(4, -1, -1), rtol=1e-6)
    # an active relu network with W_hh = 1e200 I: the products overflow to inf, reported as inf, not an error
    norms = rc.jacobian_product_norms(np.ones((3, 1, 2)), 1e200 * np.eye(2), nonlinearity="relu")
    assert norms[2, 0] == 1e200 and np.isinf(norms[0, 0]) and np.isinf(norms[1, 0])


BAD_JAC = [
    ({"hs": np.zeros((3, 4))}, "`hs` must be 3-D with shape (T, N, H), got shape (3, 4)"),
    ({"hs": np.zeros((0, 2, 3))}, "`hs` must have at least one time step, got shape (0, 2, 3)"),
    ({"W_hh": np.zeros((3, 2))}, "`W_hh` must have shape (H, H) = (3, 3), got (3, 2)"),
    ({"W_hh": np.zeros((12, 3))}, "`W_hh` must have shape (H, H) = (3, 3), got (12, 3)"),
    ({"nonlinearity": "sigmoid"}, "`nonlinearity` must be 'tanh' or 'relu', got 'sigmoid'"),
    ({"hs": np.full((2, 2, 3), 1.5)}, "`hs` must be tanh outputs, every entry in [-1, 1]"),
    ({"hs": np.full((2, 2, 3), np.nan)}, "`hs` must be tanh outputs, every entry in [-1, 1]"),
    ({"hs": -np.full((2, 2, 3), 0.5), "nonlinearity": "relu"}, "`hs` must be relu outputs, every entry >= 0"),
    ({"hs": [["a"]]}, "`hs` must be a numeric array"),
]


@pytest.mark.parametrize("change,message", BAD_JAC)
def test_jacobian_product_norms_bad_input(change, message):
    args = {"hs": np.zeros((2, 2, 3)), "W_hh": np.eye(3), "nonlinearity": "tanh", **change}
    with pytest.raises(ValueError) as err:
        rc.jacobian_product_norms(**args)
    assert str(err.value).startswith("jacobian_product_norms:")
    assert message in str(err.value)


def _orthogonal(rng, H):
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return q * np.sign(np.diag(r))


def test_gradient_regime_uses_the_largest_singular_value_not_the_spectral_radius():
    A = np.array([[0.9, 3.0], [0.0, 0.9]])  # eigenvalues 0.9, 0.9; largest singular value 3.249
    regime, r = rc.gradient_regime(A)
    assert regime == "may explode"
    np.testing.assert_allclose(r, torch.linalg.matrix_norm(torch.from_numpy(A), ord=2).item(), rtol=1e-14)
    assert max(abs(np.linalg.eigvals(A))) < 1
    # and the powers really do grow before they decay (transient growth): the eigenvalues alone would miss it
    assert np.linalg.norm(np.linalg.matrix_power(A, 9), 2) > 11


@pytest.mark.parametrize("H", [1, 3, 8])
def test_gradient_regime_verdicts_and_torch_norms(rng, H):
    Q = _orthogonal(rng, H)
    assert rc.gradient_regime(Q)[0] == "bounded"
    assert rc.gradient_regime(0.5 * Q) == ("vanishing", pytest.approx(0.5, rel=1e-12))
    assert rc.gradient_regime(1.5 * Q) == ("may explode", pytest.approx(1.5, rel=1e-12))
    assert rc.gradient_regime(3.0 * Q, gamma=0.25) == ("vanishing", pytest.approx(0.75, rel=1e-12))  # sigmoid
    W = rng.standard_normal((H, H))
    expected = torch.linalg.matrix_norm(torch.from_numpy(W), ord=2).item()
    regime, r = rc.gradient_regime(W, gamma=0.7)
    assert isinstance(r, float) and isinstance(regime, str)
    np.testing.assert_allclose(r, 0.7 * expected, rtol=1e-13)
    assert regime == ("vanishing" if r < 1 else "may explode")


def test_gradient_regime_tolerance_at_one():
    assert rc.gradient_regime((1 + 1e-10) * np.eye(3))[0] == "bounded"
    assert rc.gradient_regime((1 + 1e-10) * np.eye(3), tol=0)[0] == "may explode"
    assert rc.gradient_regime((1 - 1e-10) * np.eye(3), tol=0)[0] == "vanishing"
    assert rc.gradient_regime(np.eye(3), tol=0)[0] == "bounded"


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_vanishing_verdict_is_a_guarantee(rng, nonlinearity):
    """Whenever the verdict is "vanishing", every trajectory obeys norms[k] <= r^(T - k), whatever the inputs."""
    T, N, D, H = 30, 6, 3, 5
    for _ in range(5):
        p = rc.init_recurrent(rng, D, H)
        p["W_hh"] = rng.standard_normal((H, H))
        p["W_hh"] *= 0.95 / np.linalg.norm(p["W_hh"], 2)
        regime, r = rc.gradient_regime(p["W_hh"])
        assert regime == "vanishing"
        x = 3 * rng.standard_normal((T, N, D))  # large inputs, any states
        h0 = np.abs(rng.standard_normal((N, H)))
        hs, _ = rc.rnn_forward(x, h0, **p, nonlinearity=nonlinearity)
        norms = rc.jacobian_product_norms(hs, p["W_hh"], nonlinearity=nonlinearity)
        bound = r ** np.arange(T, -1, -1.0)
        assert np.all(norms <= bound[:, None] * (1 + 1e-12))


BAD_REGIME = [
    ({"W_hh": np.zeros(3)}, "`W_hh` must be 2-D with shape (H, H), got shape (3,)"),
    ({"W_hh": np.zeros((12, 3))}, "`W_hh` must have shape (H, H) = (3, 3), got (12, 3)"),
    ({"W_hh": np.zeros((0, 0))}, "`W_hh` must be a non-empty matrix of finite numbers"),
    ({"W_hh": np.full((2, 2), np.inf)}, "`W_hh` must be a non-empty matrix of finite numbers"),
    ({"gamma": 0}, "`gamma` must be a positive number, got 0"),
    ({"gamma": True}, "`gamma` must be a positive number, got True"),
    ({"tol": -1e-3}, "`tol` must be a number >= 0, got -0.001"),
]


@pytest.mark.parametrize("change,message", BAD_REGIME)
def test_gradient_regime_bad_input(change, message):
    args = {"W_hh": np.eye(3), **change}
    with pytest.raises(ValueError) as err:
        rc.gradient_regime(**args)
    assert str(err.value).startswith("gradient_regime:")
    assert message in str(err.value)
