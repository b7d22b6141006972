"""DEER: the GRU evaluated by Newton's method over the whole sequence equals the loop; Jacobians against torch
autograd (float64); the matrix scan against a loop; after k iterations the first k states are exact; bad input."""

import numpy as np
import pytest
import torch
from torch_reference import torch_with

import rnncore as rc
from rnncore.deer import deer_gru_forward, gru_cell_jacobian, matrix_scan

SIZES = [(1, 1, 1, 1), (5, 3, 4, 6), (17, 2, 3, 4), (64, 1, 2, 5)]


def _params(rng, D, H, scale=1.0):
    p = rc.init_recurrent(rng, D, H, cell="gru")
    return {k: scale * v for k, v in p.items()}


@pytest.mark.parametrize("N,D,H", [(1, 1, 1), (3, 4, 5), (2, 2, 7)])
def test_gru_cell_jacobian_equals_torch_autograd(rng, N, D, H):
    p = _params(rng, D, H, scale=2.0)
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    f, J = gru_cell_jacobian(x, h, **p)
    cell = torch_with(torch.nn.GRUCell, p)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(f, cell(xt, torch.from_numpy(h)).detach().numpy(), rtol=0, atol=1e-12)
    for n in range(N):
        want = torch.autograd.functional.jacobian(lambda hn, n=n: cell(xt[n:n + 1], hn[None])[0],
                                                  torch.from_numpy(h[n]))
        np.testing.assert_allclose(J[n], want.numpy(), rtol=0, atol=1e-12)
    # any leading shape: (T, N, ...) at once gives the same as one point at a time
    X, Hs = rng.standard_normal((4, N, D)), rng.standard_normal((4, N, H))
    F, JJ = gru_cell_jacobian(X, Hs, **p)
    for t in range(4):
        ft, jt = gru_cell_jacobian(X[t], Hs[t], **p)
        np.testing.assert_allclose(F[t], ft, atol=1e-14)
        np.testing.assert_allclose(JJ[t], jt, atol=1e-14)


@pytest.mark.parametrize("T", [1, 2, 3, 8, 13, 100])
def test_matrix_scan_equals_the_loop(rng, T):
    N, H = 2, 3
    A, b, h0 = rng.standard_normal((T, N, H, H)) / 2, rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    want, h = np.empty((T, N, H)), h0
    for t in range(T):
        h = np.einsum("nij,nj->ni", A[t], h) + b[t]
        want[t] = h
    A_copy, b_copy = A.copy(), b.copy()
    np.testing.assert_allclose(matrix_scan(A, b, h0), want, atol=1e-12)
    assert np.array_equal(A, A_copy) and np.array_equal(b, b_copy), "the inputs changed"
    # diagonal matrices: the elementwise scan of chapter 8
    a = rng.uniform(-1, 1, (T, N, H))
    np.testing.assert_allclose(matrix_scan(a[..., None] * np.eye(H), b, h0), rc.parallel_scan(a, b, h0), atol=1e-12)


@pytest.mark.parametrize("T,N,D,H", SIZES)
@pytest.mark.parametrize("diagonal", [False, True])
def test_deer_gru_equals_the_loop(rng, T, N, D, H, diagonal):
    for scale in [0.5, 1.0, 2.0]:
        p = _params(rng, D, H, scale)
        x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
        hs, changes = deer_gru_forward(x, h0, **p, diagonal=diagonal)
        want, _ = rc.gru_forward(x, h0, **p)
        np.testing.assert_allclose(hs, want, rtol=0, atol=1e-10)
        assert 1 <= len(changes) <= T and (changes[-1] <= 1e-10 or len(changes) == T)  # exact after T


def test_deer_is_exact_on_the_first_k_states_after_k_iterations_and_newton_converges_fast(rng):
    T, N, D, H = 40, 2, 3, 4
    p = _params(rng, D, H, 3.0)
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    want, _ = rc.gru_forward(x, h0, **p)
    for diagonal in (False, True):
        for k in [1, 2, 5, 11]:
            hs, changes = deer_gru_forward(x, h0, **p, diagonal=diagonal, max_iter=k)
            assert len(changes) == k or (len(changes) < k and changes[-1] <= 1e-10)
            np.testing.assert_allclose(hs[:k], want[:k], rtol=0, atol=1e-12)
    p = _params(rng, D, H, 0.5)
    newton = deer_gru_forward(x, h0, **p)[1]
    quasi = deer_gru_forward(x, h0, **p, diagonal=True)[1]
    assert len(newton) < len(quasi) < T  # quadratic against linear convergence, both far fewer than T


def test_deer_bad_input_names_the_argument(rng):
    p = _params(rng, 3, 4)
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    with pytest.raises(ValueError, match=r"deer_gru_forward: `x` must be 3-D with shape \(T, N, D\), got shape"):
        deer_gru_forward(x[0], h0, **p)
    with pytest.raises(ValueError, match=r"deer_gru_forward: `h0` must have shape \(N, H\) = \(2, 4\), got \(2, 3\)"):
        deer_gru_forward(x, h0[:, :3], **p)
    with pytest.raises(ValueError, match="`max_iter` must be at least 1, got 0"):
        deer_gru_forward(x, h0, **p, max_iter=0)
    with pytest.raises(ValueError, match="`tol` must be positive, got 0"):
        deer_gru_forward(x, h0, **p, tol=0)
    with pytest.raises(ValueError, match=r"matrix_scan: `b` must have shape \(T, N, H\) = \(5, 2, 4\), got"):
        matrix_scan(np.zeros((5, 2, 4, 4)), np.zeros((5, 2, 3)), h0)
    with pytest.raises(ValueError, match=r"gru_cell_jacobian: `x` must have shape \(..., D\) = \(5, 2, 3\)"):
        gru_cell_jacobian(x[..., :2], rng.standard_normal((5, 2, 4)), **p)
