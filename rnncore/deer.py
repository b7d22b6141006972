"""A nonlinear RNN evaluated in parallel over time: Newton's method on the whole sequence (DEER), whose every
linear step is a parallel scan.

The states of h_t = f(h_{t-1}, x_t) are the solution of T equations h_t - f(h_{t-1}, x_t) = 0. Newton's method
linearises f around a guess of all the states at once, and the linearised system is a linear recurrence
h_t = J_t h_{t-1} + c_t, which a scan solves in O(log T) rounds. With the full Jacobians J_t this is DEER
(Lim et al. 2024); keeping only their diagonals is the quasi-Newton variant of Gonzalez et al. (2024), whose
scan is the elementwise `rnncore.parallel_scan`.
"""

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape
from .activations import sigmoid
from .gru import _check_weights
from .scan import parallel_scan


def gru_cell_jacobian(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    """The GRU step of torch's GRUCell at any number of points at once, and its Jacobian with respect to h_{t-1}.

    Math: h = (1 - z) * n + z * h_prev  (chapter 5's GRU, reset applied after W_hn h_prev + b_hn);
          dh_i/dh_prev_j = z_i [i = j] + (h_prev_i - n_i) z_i (1 - z_i) W_hz[i, j]
                           + (1 - z_i) (1 - n_i^2) (r_i W_hn[i, j] + (W_hn h_prev + b_hn)_i r_i (1 - r_i) W_hr[i, j])

    Parameters
    ----------
    x : ndarray, shape (..., D)          the inputs, any leading shape (for example (T, N, D))
    h_prev : ndarray, shape (..., H)     the previous states, same leading shape
    W_ih : ndarray, shape (3H, D)        input-to-hidden weights, gate blocks r, z, n
    W_hh : ndarray, shape (3H, H)        hidden-to-hidden weights, same block order
    b_ih, b_hh : ndarray, shape (3H,)    the two biases

    Returns
    -------
    h : ndarray, shape (..., H)          the next states f(h_prev, x)
    J : ndarray, shape (..., H, H)       J[..., i, j] = d h_i / d h_prev_j

    Book: chapter 8, page "Nonlinear RNNs in parallel, and what linearity costs", the GRU's Jacobian.
    """
    func = "gru_cell_jacobian"
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh, G=3, name="3H")
    H, D = W_hh.shape[1], W_ih.shape[1]
    x, h_prev = as_float_array("x", x, func), as_float_array("h_prev", h_prev, func)
    check_shape("x", x, (*h_prev.shape[:-1], D), func, "(..., D)")
    check_shape("h_prev", h_prev, (*x.shape[:-1], H), func, "(..., H)")
    ax_r, ax_z, ax_n = np.split(x @ W_ih.T + b_ih, 3, axis=-1)  # input parts, each (..., H)
    ah_r, ah_z, ah_n = np.split(h_prev @ W_hh.T + b_hh, 3, axis=-1)  # hidden parts, each (..., H)
    W_hr, W_hz, W_hn = np.split(W_hh, 3, axis=0)  # each (H, H)
    r = sigmoid(ax_r + ah_r)
    z = sigmoid(ax_z + ah_z)
    n = np.tanh(ax_n + r * ah_n)
    h = (1 - z) * n + z * h_prev
    dn = (1 - n**2)[..., None] * (r[..., None] * W_hn + (ah_n * r * (1 - r))[..., None] * W_hr)  # dn/dh_prev
    dz = (z * (1 - z))[..., None] * W_hz  # dz/dh_prev
    J = (1 - z)[..., None] * dn + (h_prev - n)[..., None] * dz + z[..., None] * np.eye(H)
    return h, J


def matrix_scan(A, b, h0):
    """All states of h_t = A_t h_{t-1} + b_t with matrices A_t, by the doubling scan of chapter 8.

    Math: (A1, b1) o (A2, b2) = (A2 A1, A2 b1 + b2)  (step 1 first);  h_t = second part of
          (A_1, A_1 h0 + b_1) o (A_2, b_2) o ... o (A_t, b_t);  ceil(log2 T) rounds, each a batch of matrix products

    Parameters
    ----------
    A : ndarray, shape (T, N, H, H)   the matrices A_t
    b : ndarray, shape (T, N, H)      the inputs b_t
    h0 : ndarray, shape (N, H)        the initial state

    Returns
    -------
    hs : ndarray, shape (T, N, H)     hs[t] is the state after step t

    Book: chapter 8, page "Nonlinear RNNs in parallel, and what linearity costs", the Newton step.
    """
    func = "matrix_scan"
    A, b, h0 = as_float_array("A", A, func), as_float_array("b", b, func), as_float_array("h0", h0, func)
    check_ndim("A", A, 4, "(T, N, H, H)", func)
    T, N, H = A.shape[:3]
    check_shape("A", A, (T, N, H, H), func, "(T, N, H, H)")
    check_shape("b", b, (T, N, H), func, "(T, N, H)")
    check_shape("h0", h0, (N, H), func, "(N, H)")
    A, B = A.copy(), b.copy()
    B[0] = (A[0] @ h0[..., None])[..., 0] + B[0]  # fold h0 into the first step
    step = 1
    while step < T:  # element t absorbs the earlier element t - step
        B[step:] = (A[step:] @ B[:-step, ..., None])[..., 0] + B[step:]
        A[step:] = A[step:] @ A[:-step]
        step *= 2
    return B


def deer_gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh, diagonal=False, tol=1e-10, max_iter=None):
    """A GRU over a whole sequence by Newton's method on all T states at once, each linear step a parallel scan.

    Math: guess h^(0) = 0; for k = 0, 1, ...:  p_t = h^(k)_{t-1} (p_1 = h0);
          J_t = df/dh (p_t, x_t) (only its diagonal if `diagonal`);  c_t = f(p_t, x_t) - J_t p_t;
          h^(k+1) = the states of h_t = J_t h_{t-1} + c_t from h0 (a scan);
          stop when max |h^(k+1) - h^(k)| <= tol.  After k iterations h_1..h_k are exact, so k <= T.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)       the input sequence, time first
    h0 : ndarray, shape (N, H)         initial hidden state
    W_ih, W_hh, b_ih, b_hh             the GRU's weights in torch's layout (3H rows, gates r, z, n)
    diagonal : bool                    keep only the Jacobians' diagonals (quasi-Newton; elementwise scan)
    tol : float                        stop when no state moves by more than this
    max_iter : int, optional           at most this many iterations (default T, enough for an exact answer)

    Returns
    -------
    hs : ndarray, shape (T, N, H)      the hidden states, equal to `gru_forward`'s up to rounding
    changes : list of float            max |h^(k+1) - h^(k)| of every iteration (its length is the iteration count)

    Book: chapter 8, page "Nonlinear RNNs in parallel, and what linearity costs", the Newton step.
    """
    func = "deer_gru_forward"
    x, h0 = as_float_array("x", x, func), as_float_array("h0", h0, func)
    check_ndim("x", x, 3, "(T, N, D)", func)
    T, N, _ = x.shape
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    W_hh = as_float_array("W_hh", W_hh, func)
    check_shape("h0", h0, (N, W_hh.shape[-1]), func, "(N, H)")
    if not tol > 0:
        raise ValueError(f"{func}: `tol` must be positive, got {tol}")
    max_iter = T if max_iter is None else max_iter
    if max_iter < 1:
        raise ValueError(f"{func}: `max_iter` must be at least 1, got {max_iter}")
    hs = np.zeros((T, N, h0.shape[-1]))  # the first guess: every state zero
    changes = []
    for _ in range(max_iter):
        p = np.concatenate([h0[None], hs[:-1]])  # the previous state of every step, from the guess
        f, J = gru_cell_jacobian(x, p, W_ih, W_hh, b_ih, b_hh)  # all T steps at once: no loop over time
        if diagonal:
            a = np.diagonal(J, axis1=-2, axis2=-1)  # (T, N, H)
            new = parallel_scan(a, f - a * p, h0)
        else:
            new = matrix_scan(J, f - (J @ p[..., None])[..., 0], h0)
        changes.append(float(np.abs(new - hs).max()))
        hs = new
        if changes[-1] <= tol:
            break
    return hs, changes
