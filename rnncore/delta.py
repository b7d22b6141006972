"""The delta rule and fast weights: DeltaNet and the gated delta rule, RWKV-7, and test-time training (TTT-linear).

The state is a matrix S (d_v, d_k) that maps keys to values, and each step edits it: the delta rule replaces the
value stored under k_t by v_t, which is one gradient step on the loss 1/2 ||S k_t - v_t||^2. One head per batch row.
"""

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape
from .ssd import segsum


def _check_delta(func, q, k, v, **per_step):
    """q, k (T, N, d_k), v (T, N, d_v), and per-step arrays of shape (T, N) (None allowed); return arrays."""
    q, k, v = (as_float_array(name, a, func) for name, a in [("q", q), ("k", k), ("v", v)])
    check_ndim("q", q, 3, "(T, N, d_k)", func)
    T, N, d_k = q.shape
    if T == 0:
        raise ValueError(f"{func}: `q` must have at least one time step, got shape {q.shape}")
    check_shape("k", k, (T, N, d_k), func, "(T, N, d_k) like `q`")
    check_ndim("v", v, 3, "(T, N, d_v)", func)
    check_shape("v", v, (T, N, None), func, "(T, N, d_v)")
    out = []
    for name, value in per_step.items():
        if value is not None:
            value = as_float_array(name, value, func)
            check_shape(name, value, (T, N), func, "(T, N)")
        out.append(value)
    return (q, k, v, *out)


def delta_rule_recurrent(q, k, v, beta, alpha=None, S0=None):
    """The gated delta rule step by step (DeltaNet when alpha is None): decay, erase along k_t, write v_t.

    Math: S_t = alpha_t S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T;   o_t = S_t q_t
          (= alpha_t S_{t-1} - beta_t (alpha_t S_{t-1} k_t - v_t) k_t^T: a gradient step on 1/2 ||S k_t - v_t||^2)

    Parameters
    ----------
    q, k : ndarray, shape (T, N, d_k)   queries and keys (usually L2-normalised, so that beta <= 2 is stable)
    v : ndarray, shape (T, N, d_v)      values
    beta : ndarray, shape (T, N)        writing strength (learning rate) in [0, 1] usually
    alpha : ndarray, shape (T, N), optional   decay in (0, 1] (None: 1, the plain delta rule)
    S0 : ndarray, shape (N, d_v, d_k), optional   initial state (zeros)

    Returns
    -------
    o : ndarray, shape (T, N, d_v)      the read-outs
    S : ndarray, shape (N, d_v, d_k)    the last state

    Book: chapter 8, section "The delta rule: a state that learns", the gated delta rule.
    """
    q, k, v, beta, alpha = _check_delta("delta_rule_recurrent", q, k, v, beta=beta, alpha=alpha)
    T, N, d_k = q.shape
    S = np.zeros((N, v.shape[2], d_k)) if S0 is None else as_float_array("S0", S0, "delta_rule_recurrent")
    check_shape("S0", S, (N, v.shape[2], d_k), "delta_rule_recurrent", "(N, d_v, d_k)")
    o = np.empty(v.shape, dtype=np.result_type(S, q, k, v, beta))
    for t in range(T):
        if alpha is not None:
            S = alpha[t][:, None, None] * S
        error = np.einsum("nvk,nk->nv", S, k[t]) - v[t]  # what S predicts for k_t, minus v_t
        S = S - beta[t][:, None, None] * error[:, :, None] * k[t][:, None, :]
        o[t] = np.einsum("nvk,nk->nv", S, q[t])
    return o, S


def delta_rule_parallel(q, k, v, beta, alpha=None):
    """The same read-outs as `delta_rule_recurrent` (S_0 = 0) without a loop over time: a triangular solve.

    Math: S_t = sum_{s<=t} L_ts u_s k_s^T  with L_ts = alpha_{s+1} ... alpha_t and
          u_t = beta_t (v_t - sum_{s<t} L_ts (k_s . k_t) u_s),
          i.e. (I + diag(beta) strict(L o K K^T)) U = diag(beta) V  (a unit lower-triangular system);
          o_t = sum_{s<=t} L_ts (q_t . k_s) u_s,  i.e. O = (L o Q K^T) U   (L o Q K^T lower triangular)

    Parameters
    ----------
    q, k : ndarray, shape (T, N, d_k);  v : ndarray, shape (T, N, d_v)
    beta : ndarray, shape (T, N);  alpha : ndarray, shape (T, N), optional (None: 1)

    Returns
    -------
    o : ndarray, shape (T, N, d_v)      equal to `delta_rule_recurrent(q, k, v, beta, alpha)[0]` up to rounding

    Book: chapter 8, section "The delta rule: a state that learns", the triangular system for the u_t.
    """
    q, k, v, beta, alpha = _check_delta("delta_rule_parallel", q, k, v, beta=beta, alpha=alpha)
    T = q.shape[0]
    log_alpha = np.zeros(beta.shape) if alpha is None else np.log(alpha)
    L = np.exp(segsum(log_alpha))  # (N, T, T), L_ts = alpha_{s+1} ... alpha_t, zero for s > t
    KK = L * np.einsum("tnd,snd->nts", k, k)
    A = np.eye(T) + beta.T[:, :, None] * np.tril(KK, -1)  # unit lower triangular, (N, T, T)
    U = np.linalg.solve(A, beta.T[:, :, None] * np.moveaxis(v, 0, 1))  # (N, T, d_v)
    O = (L * np.einsum("tnd,snd->nts", q, k)) @ U
    return np.moveaxis(O, 1, 0)


def rwkv7_recurrent(r, w, k, v, a, b, S0=None):
    """RWKV-7's state update, a generalised delta rule: a diagonal decay plus a rank-one edit, then a write.

    Math: S_t = S_{t-1} (diag(w_t) + a_t b_t^T) + v_t k_t^T;   y_t = S_t r_t
          (RWKV-7 sets a_t = -kappa_t, b_t = kappa_t * eta_t with kappa_t a normalised removal key and eta_t an
          in-context learning rate; w_t = 1, a_t = -k_t, b_t = beta_t k_t and beta_t k_t in the write give DeltaNet)

    Parameters
    ----------
    r : ndarray, shape (T, N, d)      receptance (the query)
    w : ndarray, shape (T, N, d)      per-channel decay in (0, 1]
    k : ndarray, shape (T, N, d)      the key written with v_t
    v : ndarray, shape (T, N, d_v)    values
    a, b : ndarray, shape (T, N, d)   the rank-one part of the transition
    S0 : ndarray, shape (N, d_v, d), optional   initial state (zeros)

    Returns
    -------
    y : ndarray, shape (T, N, d_v)
    S : ndarray, shape (N, d_v, d)    the last state

    Book: chapter 8, section "The delta rule: a state that learns", RWKV-7's state update.
    """
    func = "rwkv7_recurrent"
    r, k, v = (as_float_array(n, x, func) for n, x in [("r", r), ("k", k), ("v", v)])
    check_ndim("r", r, 3, "(T, N, d)", func)
    T, N, d = r.shape
    if T == 0:
        raise ValueError(f"{func}: `r` must have at least one time step, got shape {r.shape}")
    w, a, b = (as_float_array(n, x, func) for n, x in [("w", w), ("a", a), ("b", b)])
    for name, arr in [("w", w), ("k", k), ("a", a), ("b", b)]:
        check_shape(name, arr, (T, N, d), func, "(T, N, d) like `r`")
    check_ndim("v", v, 3, "(T, N, d_v)", func)
    check_shape("v", v, (T, N, None), func, "(T, N, d_v)")
    S = np.zeros((N, v.shape[2], d)) if S0 is None else as_float_array("S0", S0, func)
    check_shape("S0", S, (N, v.shape[2], d), func, "(N, d_v, d)")
    y = np.empty(v.shape, dtype=np.result_type(S, r, w, k, v, a, b))
    for t in range(T):
        Sa = np.einsum("nvk,nk->nv", S, a[t])  # S_{t-1} a_t
        S = S * w[t][:, None, :] + Sa[:, :, None] * b[t][:, None, :] + v[t][:, :, None] * k[t][:, None, :]
        y[t] = np.einsum("nvk,nk->nv", S, r[t])
    return y, S


def reconstruction_loss(W, k, v):
    """TTT's self-supervised loss for one token and its gradient with respect to the fast weights W.

    Math: l(W) = 1/2 ||W k - v||^2;   dl/dW = (W k - v) k^T

    Parameters
    ----------
    W : ndarray, shape (N, d_v, d_k)   fast weights, one matrix per batch row
    k : ndarray, shape (N, d_k)        the training view (input) of the token
    v : ndarray, shape (N, d_v)        the label view (target) of the token

    Returns
    -------
    loss : ndarray, shape (N,)
    dW : ndarray, shape (N, d_v, d_k)

    Book: chapter 8, section "The delta rule: a state that learns", the TTT-linear update.
    """
    func = "reconstruction_loss"
    W, k, v = (as_float_array(n, x, func) for n, x in [("W", W), ("k", k), ("v", v)])
    check_ndim("W", W, 3, "(N, d_v, d_k)", func)
    N, d_v, d_k = W.shape
    check_shape("k", k, (N, d_k), func, "(N, d_k)")
    check_shape("v", v, (N, d_v), func, "(N, d_v)")
    error = np.einsum("nvk,nk->nv", W, k) - v
    return 0.5 * (error**2).sum(axis=1), error[:, :, None] * k[:, None, :]


def ttt_linear_forward(q, k, v, eta, W0=None, batch_size=1):
    """TTT-linear: the state is a linear model W trained online by gradient descent on the reconstruction loss.

    Math: within each mini-batch of `batch_size` tokens starting after token t0, every gradient is taken at W_{t0}:
          W_t = W_{t0} - eta sum_{s=t0+1}^{t} (W_{t0} k_s - v_s) k_s^T;   z_t = W_t q_t
          With batch_size = 1 this is W_t = W_{t-1} - eta (W_{t-1} k_t - v_t) k_t^T: the delta rule with beta = eta.

    Parameters
    ----------
    q, k : ndarray, shape (T, N, d_k)   test view, training view (theta_Q x_t, theta_K x_t)
    v : ndarray, shape (T, N, d_v)      label view (theta_V x_t)
    eta : float                         the inner learning rate
    W0 : ndarray, shape (N, d_v, d_k), optional   initial fast weights (zeros; in TTT they are learned)
    batch_size : int                    the inner mini-batch size (TTT uses 16; 1 is plain online gradient descent)

    Returns
    -------
    z : ndarray, shape (T, N, d_v)      the outputs
    W : ndarray, shape (N, d_v, d_k)    the last fast weights

    Book: chapter 8, section "The delta rule: a state that learns", the TTT-linear update.
    """
    func = "ttt_linear_forward"
    q, k, v = _check_delta(func, q, k, v)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{func}: `batch_size` must be a positive integer, got {batch_size!r}")
    T, N, d_k = q.shape
    W = np.zeros((N, v.shape[2], d_k)) if W0 is None else as_float_array("W0", W0, func)
    check_shape("W0", W, (N, v.shape[2], d_k), func, "(N, d_v, d_k)")
    z = np.empty(v.shape, dtype=np.result_type(W, q, k, v))
    for start in range(0, T, batch_size):
        W_base, step = W, np.zeros_like(W)
        for t in range(start, min(start + batch_size, T)):
            step = step + reconstruction_loss(W_base, k[t], v[t])[1]  # gradient at the batch's start
            W = W_base - eta * step
            z[t] = np.einsum("nvk,nk->nv", W, q[t])
    return z, W
