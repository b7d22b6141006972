"""xLSTM (Beck et al. 2024): the sLSTM with exponential gating and its stabiliser, and the mLSTM's matrix memory.

The sLSTM is a nonlinear recurrence (its gates read h_{t-1}); the mLSTM's gates read only the input, so its matrix
memory C_t is a linear recurrence and all of its outputs can also be computed at once, like masked attention.
Pure functions, time-major, float64 or float32 in and out.
"""

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape, common_dtype
from .activations import sigmoid
from .delta import _check_delta


def _log_sigmoid(a):
    """log sigma(a), stable for large |a|: -softplus(-a)."""
    return -np.logaddexp(0.0, -a)


def slstm_forward(x, h0, W_ih, W_hh, b, stabilise=True):
    """The sLSTM over a sequence: exponential input gate, sigmoid forget gate, normaliser n_t and stabiliser m_t.

    Math: [i~, f~, z~, o~] = x_t W_ih^T + h_{t-1} W_hh^T + b   (gate order i, f, z, o, like torch's i, f, g, o)
          m_t = max(log sigma(f~) + m_{t-1}, i~)   (m_0 = -inf, so m_1 = i~_1)
          i'_t = exp(i~ - m_t);  f'_t = exp(log sigma(f~) + m_{t-1} - m_t)
          c_t = f'_t c_{t-1} + i'_t tanh(z~);  n_t = f'_t n_{t-1} + i'_t;  h_t = sigma(o~) c_t / n_t
    With stabilise=False: i'_t = exp(i~), f'_t = sigma(f~) and m_t = 0 (the paper's unstabilised cell, which
    overflows once the pre-activations reach about 710 in float64 or 89 in float32).

    Parameters
    ----------
    x : ndarray, shape (T, N, D)      the input sequence, time first
    h0 : ndarray, shape (N, H)        initial hidden state (c_0 = n_0 = 0)
    W_ih : ndarray, shape (4H, D)     input weights of the gates i, f, z, o
    W_hh : ndarray, shape (4H, H)     recurrent weights (dense here; the paper uses block-diagonal heads)
    b : ndarray, shape (4H,)          biases
    stabilise : bool                  use the stabiliser state m_t (True) or the raw exponential (False)

    Returns
    -------
    hs : ndarray, shape (T, N, H)     the hidden states
    (c, n, m) : three ndarrays, shape (N, H)   the last cell, normaliser and stabiliser states

    Book: chapter 8, section "xLSTM: exponential gates and a matrix memory", the sLSTM step.
    """
    func = "slstm_forward"
    x, h0 = as_float_array("x", x, func), as_float_array("h0", h0, func)
    W_ih, W_hh, b = (as_float_array(n, v, func) for n, v in [("W_ih", W_ih), ("W_hh", W_hh), ("b", b)])
    check_ndim("x", x, 3, "(T, N, D)", func)
    check_ndim("h0", h0, 2, "(N, H)", func)
    T, N, D = x.shape
    H = h0.shape[1]
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    check_shape("h0", h0, (N, H), func, "(N, H)")
    check_shape("W_ih", W_ih, (4 * H, D), func, "(4H, D)")
    check_shape("W_hh", W_hh, (4 * H, H), func, "(4H, H)")
    check_shape("b", b, (4 * H,), func, "(4H,)")
    dtype = common_dtype(x, h0, W_ih, W_hh, b)
    h = h0.astype(dtype)
    c, n = np.zeros((N, H), dtype), np.zeros((N, H), dtype)
    m = np.full((N, H), -np.inf if stabilise else 0.0, dtype)
    hs = np.empty((T, N, H), dtype)
    pre_x = x @ W_ih.T + b  # the input part of every pre-activation, (T, N, 4H)
    for t in range(T):
        i_pre, f_pre, z_pre, o_pre = np.split(pre_x[t] + h @ W_hh.T, 4, axis=1)
        if stabilise:
            log_f = _log_sigmoid(f_pre)
            m_new = np.maximum(log_f + m, i_pre)
            i_gate = np.exp(i_pre - m_new)  # <= 1: never overflows
            f_gate = np.exp(log_f + m - m_new)  # exp(-inf) = 0 at the first step
            m = m_new
        else:
            i_gate, f_gate = np.exp(i_pre), sigmoid(f_pre)
        c = f_gate * c + i_gate * np.tanh(z_pre)
        n = f_gate * n + i_gate
        h = sigmoid(o_pre) * c / n
        hs[t] = h
    return hs, (c, n, m)


def _check_qkv(func, q, k, v, i_pre, f_pre):
    """q, k (T, N, d_k), v (T, N, d_v), i_pre and f_pre (T, N); return them as arrays."""
    i_pre, f_pre = as_float_array("i_pre", i_pre, func), as_float_array("f_pre", f_pre, func)
    return _check_delta(func, q, k, v, i_pre=i_pre, f_pre=f_pre)


def mlstm_recurrent(q, k, v, i_pre, f_pre):
    """The mLSTM's matrix memory step by step, stabilised: h~_t = C_t q_t / max(|n_t . q_t|, exp(-m_t)).

    Math: k'_t = k_t / sqrt(d_k);  m_t = max(log sigma(f~_t) + m_{t-1}, i~_t)   (m_0 = -inf)
          f'_t = exp(log sigma(f~_t) + m_{t-1} - m_t);  i'_t = exp(i~_t - m_t)
          C_t = f'_t C_{t-1} + i'_t v_t k'_t^T;  n_t = f'_t n_{t-1} + i'_t k'_t
          h~_t = C_t q_t / max(|n_t^T q_t|, exp(-m_t))
    (C and n are stored divided by exp(m_t); the unstabilised memory is that times exp(m_t).) One head per
    batch row: fold heads into N. The output gate, h_t = sigma(o~_t) * h~_t, is applied outside.

    Parameters
    ----------
    q : ndarray, shape (T, N, d_k)    queries
    k : ndarray, shape (T, N, d_k)    keys (scaled by 1/sqrt(d_k) here, as in the paper)
    v : ndarray, shape (T, N, d_v)    values
    i_pre : ndarray, shape (T, N)     input-gate pre-activations (the gate is exp(i_pre))
    f_pre : ndarray, shape (T, N)     forget-gate pre-activations (the gate is sigma(f_pre))

    Returns
    -------
    h_tilde : ndarray, shape (T, N, d_v)   the normalised read-outs

    Book: chapter 8, section "xLSTM: exponential gates and a matrix memory", the mLSTM step.
    """
    q, k, v, i_pre, f_pre = _check_qkv("mlstm_recurrent", q, k, v, i_pre, f_pre)
    T, N, d_k = q.shape
    dtype = common_dtype(q, k, v, i_pre, f_pre)
    k = k / np.sqrt(d_k)
    C = np.zeros((N, v.shape[2], d_k), dtype)  # the memory maps keys to values
    n = np.zeros((N, d_k), dtype)
    m = np.full(N, -np.inf, dtype)
    out = np.empty(v.shape, dtype)
    for t in range(T):
        log_f = _log_sigmoid(f_pre[t])
        m_new = np.maximum(log_f + m, i_pre[t])
        f_gate, i_gate = np.exp(log_f + m - m_new), np.exp(i_pre[t] - m_new)
        C = f_gate[:, None, None] * C + i_gate[:, None, None] * v[t][:, :, None] * k[t][:, None, :]
        n = f_gate[:, None] * n + i_gate[:, None] * k[t]
        m = m_new
        denom = np.maximum(np.abs((n * q[t]).sum(axis=1)), np.exp(-m))
        out[t] = (C @ q[t][:, :, None])[:, :, 0] / denom[:, None]
    return out


def mlstm_parallel(q, k, v, i_pre, f_pre):
    """The same read-outs as `mlstm_recurrent`, all at once: a masked, gated attention matrix.

    Math: D~_ts = sum_{r=s+1}^{t} log sigma(f~_r) + i~_s for s <= t, -inf for s > t;  m_t = max_s D~_ts
          A_ts = (q_t . k_s / sqrt(d_k)) exp(D~_ts - m_t);  h~_t = sum_s A_ts v_s / max(|sum_s A_ts|, exp(-m_t))

    Parameters
    ----------
    q, k : ndarray, shape (T, N, d_k)   queries and keys
    v : ndarray, shape (T, N, d_v)      values
    i_pre, f_pre : ndarray, shape (T, N)   input- and forget-gate pre-activations

    Returns
    -------
    h_tilde : ndarray, shape (T, N, d_v)   equal to `mlstm_recurrent(q, k, v, i_pre, f_pre)` up to rounding

    Book: chapter 8, section "xLSTM: exponential gates and a matrix memory", the mLSTM's parallel form.
    """
    q, k, v, i_pre, f_pre = _check_qkv("mlstm_parallel", q, k, v, i_pre, f_pre)
    T, N, d_k = q.shape
    F = np.cumsum(_log_sigmoid(f_pre), axis=0).T  # (N, T): sum of log forget gates up to t
    log_D = F[:, :, None] - F[:, None, :] + i_pre.T[:, None, :]  # (N, T, T): entry (t, s)
    log_D = np.where(np.tril(np.ones((T, T), dtype=bool)), log_D, -np.inf)
    m = log_D.max(axis=2, keepdims=True)  # row-wise stabiliser, (N, T, 1)
    scores = np.einsum("tnd,snd->nts", q, k) / np.sqrt(d_k)  # (N, T, T)
    A = scores * np.exp(log_D - m)
    denom = np.maximum(np.abs(A.sum(axis=2, keepdims=True)), np.exp(-m))
    return np.einsum("nts,snd->tnd", A / denom, v)
