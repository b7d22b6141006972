"""How gradients shrink or grow through time: norms of products of step Jacobians, and what W_hh guarantees."""

import numbers

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape

_NONLINEARITIES = ("tanh", "relu")


def jacobian_product_norms(hs, W_hh, nonlinearity="tanh"):
    """The spectral norm of the Jacobian of the last state with respect to every earlier state, per sequence.

    Math: J_t = dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh;  dh_T/dh_k = J_T J_{T-1} ... J_{k+1};
          norms[k] = ||dh_T/dh_k||_2 (the largest singular value) for k = 0..T, with norms[T] = ||I||_2 = 1

    phi'(a_t) is read from the states as `rnn_backward` reads it: 1 - h_t^2 for tanh, 1 where h_t > 0 and 0
    elsewhere for relu. So the states h_1..h_T are all that is needed (not h_0), and `hs` from `rnn_forward`
    can be passed as it is. The lag of norms[k] is T - k. A product too large for the dtype gives inf.

    Parameters
    ----------
    hs : ndarray, shape (T, N, H)    the states h_1..h_T of N sequences (T >= 1), outputs of the nonlinearity
    W_hh : ndarray, shape (H, H)     the recurrent weights, in torch's layout
    nonlinearity : "tanh" or "relu"

    Returns
    -------
    norms : ndarray, shape (T + 1, N)   norms[k, n] = ||dh_T/dh_k||_2 for sequence n

    Book: chapter 4, section "The product of Jacobians", the product of Jacobians.
    """
    func = "jacobian_product_norms"
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{func}: `nonlinearity` must be 'tanh' or 'relu', got {nonlinearity!r}")
    hs = as_float_array("hs", hs, func)
    W_hh = as_float_array("W_hh", W_hh, func)
    check_ndim("hs", hs, 3, "(T, N, H)", func)
    T, N, H = hs.shape
    if T == 0:
        raise ValueError(f"{func}: `hs` must have at least one time step, got shape {hs.shape}")
    check_shape("W_hh", W_hh, (H, H), func, "(H, H)")
    low = -1.0 if nonlinearity == "tanh" else 0.0
    if np.any(~(hs >= low)) or (nonlinearity == "tanh" and np.any(hs > 1.0)):
        what = "in [-1, 1]" if nonlinearity == "tanh" else ">= 0 (and not NaN)"
        raise ValueError(f"{func}: `hs` must be {nonlinearity} outputs, every entry {what}; "
                         f"pass the states h_t, not the pre-activations")

    dtype = np.result_type(hs, W_hh)
    dphi = 1 - hs * hs if nonlinearity == "tanh" else (hs > 0).astype(dtype)  # phi'(a_t), (T, N, H)
    P = np.broadcast_to(np.eye(H, dtype=dtype), (N, H, H)).copy()  # dh_T/dh_T, one per sequence
    norms = np.empty((T + 1, N), dtype=dtype)
    norms[T] = 1
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T, 0, -1):  # hs[t - 1] is h_t
            J_t = dphi[t - 1][:, :, None] * W_hh  # diag(phi'(a_t)) W_hh: row i scaled by phi'_i, (N, H, H)
            P = P @ J_t  # dh_T/dh_{t-1} = (dh_T/dh_t) J_t
            finite = np.isfinite(P).all(axis=(1, 2))
            norms[t - 1] = np.inf
            if finite.any():
                norms[t - 1, finite] = np.linalg.svd(P[finite], compute_uv=False)[:, 0]
    return norms


def gradient_regime(W_hh, gamma=1.0, tol=1e-8):
    """What the largest singular value of W_hh guarantees about gradients flowing back through an Elman RNN.

    Math: ||dh_t/dh_k||_2 <= prod_j ||diag(phi'(a_j))||_2 ||W_hh||_2 <= r^(t-k),
          r = gamma sigma_max(W_hh),  gamma >= max |phi'|

    The verdict holds for every input, state and lag, because it uses only the bound:
    "vanishing" if r < 1 - tol: the Jacobian norms are guaranteed to decay at least as fast as r^(t-k);
    "bounded" if |r - 1| <= tol: they can never grow (beyond (1 + tol)^(t-k)), but need not vanish;
    "may explode" if r > 1 + tol: the bound allows growth. It does not promise it: whether the gradients
    grow depends on phi' along the trajectory and on more of W_hh than sigma_max, and they may well vanish.
    sigma_max is the largest singular value, not the largest |eigenvalue| (the two differ for non-normal W_hh).

    Parameters
    ----------
    W_hh : ndarray, shape (H, H)   recurrent weights of an Elman RNN
    gamma : positive number, a bound on |phi'|: 1 for tanh and relu, 1/4 for the logistic sigmoid
    tol : number >= 0, how close to 1 counts as 1 (an orthogonal matrix has sigma_max = 1 only up to rounding)

    Returns
    -------
    regime : str, "vanishing", "bounded" or "may explode"
    r : float, gamma * sigma_max(W_hh), the bound on the growth factor per step

    Book: chapter 4, section "What the singular values guarantee", the singular-value bound.
    """
    func = "gradient_regime"
    W_hh = as_float_array("W_hh", W_hh, func)
    check_ndim("W_hh", W_hh, 2, "(H, H)", func)
    check_shape("W_hh", W_hh, (W_hh.shape[1], W_hh.shape[1]), func, "(H, H)")
    if W_hh.size == 0 or not np.all(np.isfinite(W_hh)):
        raise ValueError(f"{func}: `W_hh` must be a non-empty matrix of finite numbers")
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma > 0:
        raise ValueError(f"{func}: `gamma` must be a positive number, got {gamma!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"{func}: `tol` must be a number >= 0, got {tol!r}")

    sigma_max = float(np.linalg.svd(W_hh.astype(np.float64), compute_uv=False)[0])  # = ||W_hh||_2
    r = float(gamma) * sigma_max
    if r < 1 - tol:
        return "vanishing", r
    if r <= 1 + tol:
        return "bounded", r
    return "may explode", r
