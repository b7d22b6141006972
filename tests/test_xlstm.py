"""xLSTM: the sLSTM with and without its stabiliser against a literal torch loop, the mLSTM's two forms, bad input."""

import numpy as np
import pytest
import torch

from rnncore import xlstm


def _slstm_params(rng, D, H, scale=0.5):
    return (scale * rng.standard_normal((4 * H, D)), scale * rng.standard_normal((4 * H, H)),
            scale * rng.standard_normal(4 * H))


def _slstm_torch(x, h0, W_ih, W_hh, b):
    """The paper's unstabilised sLSTM, one equation a line, in torch float64."""
    x, h, W_ih, W_hh, b = (torch.from_numpy(a) for a in (x, h0, W_ih, W_hh, b))
    H = h.shape[1]
    c, n, hs = torch.zeros_like(h), torch.zeros_like(h), []
    for x_t in x:
        pre = x_t @ W_ih.T + h @ W_hh.T + b
        i, f, z, o = torch.exp(pre[:, :H]), torch.sigmoid(pre[:, H:2 * H]), torch.tanh(pre[:, 2 * H:3 * H]), \
            torch.sigmoid(pre[:, 3 * H:])
        c = f * c + i * z
        n = f * n + i
        h = o * c / n
        hs.append(h)
    return torch.stack(hs).numpy()


@pytest.mark.parametrize("T,N,D,H", [(1, 1, 1, 1), (6, 2, 3, 4), (25, 3, 2, 5)])
def test_slstm_matches_the_literal_loop_with_and_without_stabiliser(rng, T, N, D, H):
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    params = _slstm_params(rng, D, H)
    expected = _slstm_torch(x, h0, *params)
    for stabilise in (True, False):
        hs, (c, n, m) = xlstm.slstm_forward(x, h0, *params, stabilise=stabilise)
        np.testing.assert_allclose(hs, expected, rtol=1e-12, atol=1e-13)
        assert c.shape == n.shape == m.shape == (N, H)


def test_slstm_stabiliser_removes_the_overflow_and_changes_nothing_else(rng):
    T, N, D, H = 30, 2, 3, 4
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    W_ih, W_hh, b = _slstm_params(rng, D, H)
    reference = xlstm.slstm_forward(x, h0, W_ih, W_hh, b, stabilise=False)[0]
    shifted = b.copy()
    shifted[:H] += 1000.0  # every input-gate pre-activation + 1000: exp overflows in float64
    with np.errstate(all="ignore"):
        raw = xlstm.slstm_forward(x, h0, W_ih, W_hh, shifted, stabilise=False)[0]
    stable, (_, n, m) = xlstm.slstm_forward(x, h0, W_ih, W_hh, shifted)
    assert np.isnan(raw).all()  # inf / inf from the first step on
    # c and n are both scaled by exp(1000): h = o c / n is unchanged, and the stabilised cell computes exactly that
    np.testing.assert_allclose(stable, reference, rtol=1e-12, atol=1e-13)
    assert np.all(m > 900) and np.all(np.isfinite(n))


def test_slstm_float32_overflows_at_a_lower_threshold(rng):
    T, N, D, H = 5, 1, 2, 3
    x, h0 = rng.standard_normal((T, N, D)), np.zeros((N, H))
    W_ih, W_hh, b = _slstm_params(rng, D, H)
    b[:H] += 100.0  # fine in float64, beyond exp's range in float32 (about 88.7)
    args = [a.astype(np.float32) for a in (x, h0, W_ih, W_hh, b)]
    with np.errstate(all="ignore"):
        raw32 = xlstm.slstm_forward(*args, stabilise=False)[0]
    raw64 = xlstm.slstm_forward(x, h0, W_ih, W_hh, b, stabilise=False)[0]
    stable32 = xlstm.slstm_forward(*args)[0]
    assert stable32.dtype == np.float32 and not np.isfinite(raw32).all() and np.isfinite(raw64).all()
    np.testing.assert_allclose(stable32, raw64, rtol=0, atol=1e-5)


def test_slstm_first_step_golden():
    # one unit, no recurrence: the stabiliser makes i' = 1 at step 1, so h_1 = sigma(o~) tanh(z~) exactly
    W_ih = np.array([[0.0], [0.0], [1.0], [2.0]])
    b = np.array([50.0, 3.0, 0.0, 0.0])
    hs, (c, n, m) = xlstm.slstm_forward(np.array([[[0.5]]]), np.zeros((1, 1)), W_ih, np.zeros((4, 1)), b)
    assert hs[0, 0, 0] == pytest.approx(np.tanh(0.5) / (1 + np.exp(-1.0)), rel=1e-15)
    assert (c[0, 0], n[0, 0], m[0, 0]) == (pytest.approx(np.tanh(0.5)), 1.0, 50.0)


def _mlstm_inputs(rng, T, N, d_k, d_v, gate_scale=3.0):
    q, k = rng.standard_normal((T, N, d_k)), rng.standard_normal((T, N, d_k))
    return q, k, rng.standard_normal((T, N, d_v)), gate_scale * rng.standard_normal((T, N)), \
        gate_scale * rng.standard_normal((T, N))


def _mlstm_torch(q, k, v, i_pre, f_pre):
    """The unstabilised mLSTM, literally: C_t = f C + i v k^T, n_t = f n + i k, h = C q / max(|n . q|, 1)."""
    q, k, v, i_pre, f_pre = (torch.from_numpy(a) for a in (q, k, v, i_pre, f_pre))
    T, N, d_k = q.shape
    out = torch.empty(v.shape, dtype=torch.float64)
    for row in range(N):
        C, n = torch.zeros(v.shape[2], d_k, dtype=torch.float64), torch.zeros(d_k, dtype=torch.float64)
        for t in range(T):
            i, f, k_t = torch.exp(i_pre[t, row]), torch.sigmoid(f_pre[t, row]), k[t, row] / d_k**0.5
            C = f * C + i * torch.outer(v[t, row], k_t)
            n = f * n + i * k_t
            out[t, row] = C @ q[t, row] / torch.clamp(torch.abs(n @ q[t, row]), min=1.0)
    return out.numpy()


@pytest.mark.parametrize("T,N,d_k,d_v", [(1, 1, 1, 1), (7, 2, 3, 4), (40, 3, 8, 5)])
def test_mlstm_recurrent_and_parallel_match_the_literal_loop(rng, T, N, d_k, d_v):
    args = _mlstm_inputs(rng, T, N, d_k, d_v)
    expected = _mlstm_torch(*args)
    np.testing.assert_allclose(xlstm.mlstm_recurrent(*args), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xlstm.mlstm_parallel(*args), expected, rtol=1e-10, atol=1e-12)


def test_mlstm_forms_agree_where_the_unstabilised_memory_overflows(rng):
    q, k, v, i_pre, f_pre = _mlstm_inputs(rng, 50, 2, 4, 3)
    big = i_pre + 800.0  # exp(800) overflows float64; the normalised read-out is unchanged
    np.testing.assert_allclose(xlstm.mlstm_recurrent(q, k, v, big, f_pre), xlstm.mlstm_parallel(q, k, v, big, f_pre),
                               rtol=1e-10, atol=1e-12)
    with np.errstate(all="ignore"):
        assert not np.isfinite(np.exp(big)).all()


def test_mlstm_one_step_golden():
    q, k, v = np.array([[[2.0, 0.0]]]), np.array([[[1.0, 1.0]]]), np.array([[[3.0]]])
    # k' = k / sqrt 2, q . k' = sqrt 2 > exp(-i~) = exp(-1): h~ = v (q . k') / |q . k'| = v
    for f in (xlstm.mlstm_recurrent, xlstm.mlstm_parallel):
        assert f(q, k, v, np.array([[1.0]]), np.array([[0.0]]))[0, 0, 0] == pytest.approx(3.0, rel=1e-15)
        # with i~ = -5 the floor exp(5) wins: h~ = v sqrt(2) / e^5
        assert f(q, k, v, np.array([[-5.0]]), np.array([[0.0]]))[0, 0, 0] == pytest.approx(
            3.0 * np.sqrt(2) / np.exp(5.0), rel=1e-14)


def test_bad_input_names_the_argument(rng):
    x, h0 = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 5))
    W_ih, W_hh, b = _slstm_params(rng, 4, 5)
    with pytest.raises(ValueError, match=r"slstm_forward: `W_hh` must have shape \(4H, H\) = \(20, 5\), got \(20, 4\)"):
        xlstm.slstm_forward(x, h0, W_ih, W_hh[:, :4], b)
    with pytest.raises(ValueError, match=r"`x` must be 3-D"):
        xlstm.slstm_forward(x[0], h0, W_ih, W_hh, b)
    q, k, v, i_pre, f_pre = _mlstm_inputs(rng, 4, 2, 3, 3)
    for f in (xlstm.mlstm_recurrent, xlstm.mlstm_parallel):
        with pytest.raises(ValueError, match=r"`f_pre` must have shape \(T, N\) = \(4, 2\), got \(4,\)"):
            f(q, k, v, i_pre, f_pre[:, 0])
        with pytest.raises(ValueError, match=r"`k` must have shape"):
            f(q, k[:, :, :2], v, i_pre, f_pre)
