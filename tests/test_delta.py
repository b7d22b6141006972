"""The delta rule family: DeltaNet and the gated delta rule (loop, literal loop, parallel form), RWKV-7, TTT-linear."""

import numpy as np
import pytest
import torch

from rnncore import delta


def _inputs(rng, T, N, d_k, d_v):
    k = rng.standard_normal((T, N, d_k))
    k /= np.linalg.norm(k, axis=2, keepdims=True)  # L2-normalised keys, as DeltaNet uses
    return (rng.standard_normal((T, N, d_k)), k, rng.standard_normal((T, N, d_v)), rng.uniform(0, 1, (T, N)),
            rng.uniform(0.5, 1, (T, N)))


def _literal(q, k, v, beta, alpha):
    """S_t = alpha_t S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T;  o_t = S_t q_t, written with matrices."""
    q, k, v, beta, alpha = (torch.from_numpy(a) for a in (q, k, v, beta, alpha))
    T, N, d_k = q.shape
    o = torch.empty(v.shape, dtype=torch.float64)
    for n in range(N):
        S = torch.zeros(v.shape[2], d_k, dtype=torch.float64)
        for t in range(T):
            kt = k[t, n][:, None]
            S = alpha[t, n] * S @ (torch.eye(d_k, dtype=torch.float64) - beta[t, n] * kt @ kt.T) \
                + beta[t, n] * v[t, n][:, None] @ kt.T
            o[t, n] = S @ q[t, n]
    return o.numpy()


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("T,N,d_k,d_v", [(1, 1, 1, 1), (6, 2, 3, 4), (50, 3, 8, 5)])
def test_delta_rule_loop_and_parallel_match_the_literal_loop(rng, T, N, d_k, d_v, gated):
    q, k, v, beta, alpha = _inputs(rng, T, N, d_k, d_v)
    expected = _literal(q, k, v, beta, alpha if gated else np.ones_like(alpha))
    o, S = delta.delta_rule_recurrent(q, k, v, beta, alpha if gated else None)
    np.testing.assert_allclose(o, expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(delta.delta_rule_parallel(q, k, v, beta, alpha if gated else None), expected,
                               rtol=1e-11, atol=1e-12)
    assert S.shape == (N, d_v, d_k)


def test_delta_rule_overwrites_where_linear_attention_accumulates():
    # two writes under the same key: with beta = 1 the delta rule keeps the second value, a sum keeps both
    k = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])
    v = np.array([[[2.0]], [[5.0]]])
    o, S = delta.delta_rule_recurrent(k, k, v, np.ones((2, 1)))
    np.testing.assert_allclose(S, [[[5.0, 0.0]]], rtol=1e-15)
    np.testing.assert_allclose(o[:, 0, 0], [2.0, 5.0], rtol=1e-15)
    # orthonormal keys with beta = 1: every value is recalled exactly
    rng = np.random.default_rng(0)
    K = np.linalg.qr(rng.standard_normal((6, 6)))[0].T[:, None, :]  # 6 orthonormal keys, (T, 1, 6)
    V = rng.standard_normal((6, 1, 3))
    _, S = delta.delta_rule_recurrent(K, K, V, np.ones((6, 1)))
    np.testing.assert_allclose(S[0] @ K[:, 0].T, V[:, 0].T, rtol=0, atol=1e-13)


def test_rwkv7_special_cases(rng):
    T, N, d, d_v = 20, 2, 4, 3
    q, k, v, beta, alpha = _inputs(rng, T, N, d, d_v)
    ones = np.ones((T, N, d))
    bk = beta[:, :, None] * k
    # w = alpha, a = -k, b = alpha beta k and the write beta k: the gated delta rule
    y, _ = delta.rwkv7_recurrent(q, alpha[:, :, None] * ones, bk, v, -k, alpha[:, :, None] * bk)
    np.testing.assert_allclose(y, delta.delta_rule_recurrent(q, k, v, beta, alpha)[0], rtol=1e-12, atol=1e-12)
    # a = b = 0: a per-channel decayed linear attention, y_t = sum_s (prod_{s<r<=t} w_r . k_s r_t) v_s
    w = rng.uniform(0.3, 1, (T, N, d))
    y, _ = delta.rwkv7_recurrent(q, w, k, v, 0 * ones, 0 * ones)
    log_w = np.cumsum(np.log(w), axis=0)
    for t in (0, 7, T - 1):
        decay = np.exp(log_w[t] - log_w[: t + 1])  # (t+1, N, d): products over (s, t]
        expected = np.einsum("snd,snd,nd,snv->nv", decay, k[: t + 1], q[t], v[: t + 1])
        np.testing.assert_allclose(y[t], expected, rtol=1e-12, atol=1e-12)


def test_reconstruction_gradient_matches_torch_autograd(rng):
    N, d_v, d_k = 3, 4, 5
    W, k, v = rng.standard_normal((N, d_v, d_k)), rng.standard_normal((N, d_k)), rng.standard_normal((N, d_v))
    loss, dW = delta.reconstruction_loss(W, k, v)
    Wt = torch.tensor(W, requires_grad=True)
    loss_t = 0.5 * ((torch.einsum("nvk,nk->nv", Wt, torch.from_numpy(k)) - torch.from_numpy(v)) ** 2).sum(dim=1)
    loss_t.sum().backward()
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(dW, Wt.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_ttt_linear_with_batch_one_is_the_delta_rule(rng):
    q, k, v, _, _ = _inputs(rng, 30, 2, 4, 3)
    W0 = rng.standard_normal((2, 3, 4))
    for eta in (0.1, 0.7):
        z, W = delta.ttt_linear_forward(q, k, v, eta, W0=W0)
        o, S = delta.delta_rule_recurrent(q, k, v, np.full((30, 2), eta), S0=W0)
        np.testing.assert_allclose(z, o, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(W, S, rtol=1e-13, atol=1e-13)


def test_ttt_linear_one_big_batch_from_zero_is_linear_attention(rng):
    # every gradient is taken at W_0 = 0: dl/dW = -v_s k_s^T, so z_t = eta sum_{s<=t} (k_s . q_t) v_s
    q, k, v, _, _ = _inputs(rng, 12, 2, 4, 3)
    z, _ = delta.ttt_linear_forward(q, k, v, 0.3, batch_size=12)
    scores = np.tril(np.einsum("tnd,snd->nts", q, k))
    np.testing.assert_allclose(z, 0.3 * np.einsum("nts,snv->tnv", scores, v), rtol=1e-13, atol=1e-13)
    # mini-batches of 4: the same inside the first batch, different after it
    z4, _ = delta.ttt_linear_forward(q, k, v, 0.3, batch_size=4)
    np.testing.assert_allclose(z4[:4], z[:4], rtol=1e-14)
    assert not np.allclose(z4[4:], z[4:])


def test_bad_input_names_the_argument(rng):
    q, k, v, beta, alpha = _inputs(rng, 5, 2, 3, 4)
    with pytest.raises(ValueError, match=r"delta_rule_recurrent: `beta` must have shape \(T, N\) = \(5, 2\)"):
        delta.delta_rule_recurrent(q, k, v, beta[:, :1])
    with pytest.raises(ValueError, match=r"delta_rule_parallel: `alpha` must have shape \(T, N\) = \(5, 2\)"):
        delta.delta_rule_parallel(q, k, v, beta, alpha[:4])
    with pytest.raises(ValueError, match=r"rwkv7_recurrent: `a` must have shape \(T, N, d\) like `r` = \(5, 2, 3\)"):
        delta.rwkv7_recurrent(q, q, k, v, q[:, :, :2], q)
    with pytest.raises(ValueError, match=r"ttt_linear_forward: `batch_size` must be a positive integer, got 0"):
        delta.ttt_linear_forward(q, k, v, 0.1, batch_size=0)
    with pytest.raises(ValueError, match=r"`W0` must have shape \(N, d_v, d_k\) = \(2, 4, 3\)"):
        delta.ttt_linear_forward(q, k, v, 0.1, W0=np.zeros((2, 3, 4)))
