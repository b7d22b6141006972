"""State-space duality: the scan, the masked matrix product and the chunked form against a literal loop; bad input."""

import numpy as np
import pytest
import torch

from rnncore import ssd


def _inputs(rng, T, N, P, K):
    return (rng.standard_normal((T, N, P)), -rng.uniform(0, 1.5, (T, N)), rng.standard_normal((T, N, K)),
            rng.standard_normal((T, N, K)))


def _literal(x, log_a, B, C):
    """h_t = a_t h_{t-1} + outer(B_t, x_t);  y_t = C_t h_t, one batch row and one step at a time, in torch."""
    x, log_a, B, C = (torch.from_numpy(a) for a in (x, log_a, B, C))
    T, N, P = x.shape
    y = torch.empty(T, N, P, dtype=torch.float64)
    for n in range(N):
        h = torch.zeros(B.shape[2], P, dtype=torch.float64)
        for t in range(T):
            h = torch.exp(log_a[t, n]) * h + torch.outer(B[t, n], x[t, n])
            y[t, n] = C[t, n] @ h
    return y.numpy()


@pytest.mark.parametrize("T,N,P,K", [(1, 1, 1, 1), (5, 2, 3, 2), (37, 3, 4, 8), (64, 1, 2, 3)])
def test_three_forms_match_the_literal_loop(rng, T, N, P, K):
    args = _inputs(rng, T, N, P, K)
    expected = _literal(*args)
    np.testing.assert_allclose(ssd.ssd_scan(*args), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ssd.ssd_scan(*args, parallel=False), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ssd.ssd_quadratic(*args), expected, rtol=1e-12, atol=1e-12)
    for chunk in sorted({1, 2, 7, T, T + 3}):
        np.testing.assert_allclose(ssd.ssd_chunked(*args, chunk=chunk), expected, rtol=1e-12, atol=1e-12)


def test_segsum_golden():
    log_a = np.log([0.5, 0.25, 2.0 / 3.0])[:, None] * np.ones((1, 2))
    expected = np.array([[1.0, 0.0, 0.0],
                         [0.25, 1.0, 0.0],
                         [0.25 * 2 / 3, 2 / 3, 1.0]])  # L_ts = a_{s+1} ... a_t
    L = np.exp(ssd.segsum(log_a))
    assert L.shape == (2, 3, 3)
    np.testing.assert_allclose(L[0], expected, rtol=1e-15)
    assert np.isneginf(ssd.segsum(log_a)[1][0, 2])


def test_mask_of_a_constant_decay_is_toeplitz(rng):
    T = 9
    L = np.exp(ssd.segsum(np.full(T, np.log(0.8))))
    t, s = np.indices((T, T))
    np.testing.assert_allclose(L, np.where(s <= t, 0.8 ** (t - s).astype(float), 0.0), rtol=1e-13)


def test_long_sequences_with_strong_decay_stay_finite(rng):
    # the products of all decays reach exp(-3000), which underflows: the chunked form only forms products within a
    # chunk and carries the state across, so it stays finite and equal to the scan
    args = _inputs(rng, 2000, 1, 2, 2)
    args = (args[0], np.full((2000, 1), -1.5), args[2], args[3])
    np.testing.assert_allclose(ssd.ssd_chunked(*args, chunk=64), ssd.ssd_scan(*args), rtol=1e-10, atol=1e-12)


def test_bad_input_names_the_argument(rng):
    x, log_a, B, C = _inputs(rng, 4, 2, 3, 5)
    with pytest.raises(ValueError, match=r"ssd_quadratic: `log_a` must be <= 0"):
        ssd.ssd_quadratic(x, -log_a, B, C)
    with pytest.raises(ValueError, match=r"ssd_scan: `C` must have shape \(T, N, K\) like `B` = \(4, 2, 5\)"):
        ssd.ssd_scan(x, log_a, B, C[:, :, :3])
    with pytest.raises(ValueError, match=r"ssd_chunked: `chunk` must be a positive integer, got 0"):
        ssd.ssd_chunked(x, log_a, B, C, chunk=0)
    with pytest.raises(ValueError, match=r"`log_a` must have shape \(T, N\) = \(4, 2\)"):
        ssd.ssd_scan(x, log_a[:, :1], B, C)
