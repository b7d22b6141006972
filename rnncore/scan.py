"""Linear recurrences h_t = a_t * h_{t-1} + b_t: the sequential loop, the parallel scan, and minGRU/minLSTM on top.

A recurrence that is linear in h (with coefficients that do not depend on h) composes associatively, so all
of its states can be computed by a prefix scan in O(log T) sequential steps instead of T.
"""

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape, common_dtype
from .activations import sigmoid


def _as_recurrence_array(name, value, func):
    """A float array, or a complex one kept complex (the LRU's complex diagonal recurrence uses the same scan)."""
    if np.iscomplexobj(value):
        return np.asarray(value)
    return as_float_array(name, value, func)


def _check_recurrence(func, a, b, h0):
    """Validate (a, b, h0) of a linear recurrence; return them as arrays and the result dtype."""
    a, b = _as_recurrence_array("a", a, func), _as_recurrence_array("b", b, func)
    if a.ndim < 1:
        raise ValueError(f"{func}: `a` must have shape (T, ...) with time first, got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{func}: `a` must have at least one time step, got shape {a.shape}")
    check_shape("b", b, a.shape, func, "(T, ...) like `a`")
    if h0 is None:
        h0 = np.zeros(a.shape[1:], dtype=np.result_type(a, b))
    else:
        h0 = _as_recurrence_array("h0", h0, func)
        check_shape("h0", h0, a.shape[1:], func, "a.shape[1:]")
    return a, b, h0, common_dtype(a, b, h0)


def linear_recurrence(a, b, h0=None):
    """All states of the linear recurrence h_t = a_t * h_{t-1} + b_t, computed by the sequential loop.

    Math: h_t = a_t * h_{t-1} + b_t  for t = 1..T (elementwise), starting from h0

    Parameters
    ----------
    a : ndarray, shape (T, ...)    the coefficients a_t, for example (T, N, H)
    b : ndarray, shape (T, ...)    the inputs b_t, same shape as `a`
    h0 : ndarray, shape a.shape[1:], optional   the initial state (zeros if omitted)

    Returns
    -------
    hs : ndarray, shape (T, ...)   hs[t] is the state after step t (hs[-1] is h_T)

    Book: chapter 8, section "Linear recurrences and the parallel scan", the linear recurrence.
    """
    a, b, h0, dtype = _check_recurrence("linear_recurrence", a, b, h0)
    hs = np.empty(a.shape, dtype=dtype)
    h = h0
    for t in range(a.shape[0]):  # T sequential steps, each a vectorised multiply-add
        h = a[t] * h + b[t]
        hs[t] = h
    return hs


def parallel_scan(a, b, h0=None):
    """The same states as `linear_recurrence`, computed by an inclusive parallel scan (Hillis-Steele doubling).

    Math: (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2)  (element 1 earlier);
          h_t = second part of (a_1, a_1 h0 + b_1) o (a_2, b_2) o ... o (a_t, b_t)

    After round k (k = 0, 1, ...), element t holds the composition of the steps t - 2^(k+1) + 1 .. t, so
    ceil(log2 T) rounds of vectorised work suffice: span O(log T), work O(T log T).

    Parameters
    ----------
    a : ndarray, shape (T, ...)    the coefficients a_t, for example (T, N, H)
    b : ndarray, shape (T, ...)    the inputs b_t, same shape as `a`
    h0 : ndarray, shape a.shape[1:], optional   the initial state (zeros if omitted)

    Returns
    -------
    hs : ndarray, shape (T, ...)   hs[t] is the state after step t, equal to `linear_recurrence(a, b, h0)`

    Book: chapter 8, section "Linear recurrences and the parallel scan", the combine operator.
    """
    a, b, h0, dtype = _check_recurrence("parallel_scan", a, b, h0)
    T = a.shape[0]
    A = a.astype(dtype, copy=True)  # A[t]: product of the a's in the window that element t covers
    B = b.astype(dtype, copy=True)  # B[t]: that window's map applied to 0 (with h0 folded in at t = 0)
    B[0] = A[0] * h0 + B[0]  # fold h0 into the first element: it becomes h_1
    step = 1
    while step < T:  # ceil(log2 T) rounds
        # element t absorbs the earlier element t - step: (A', B') o (A, B) = (A' A, A B' + B)
        B[step:] = A[step:] * B[:-step] + B[step:]
        A[step:] = A[step:] * A[:-step]
        step *= 2
    return B


def _check_min_inputs(func, x, h0, weights):
    """Validate x (T, N, D), h0 (N, H) and (name, W, b) triples with W (H, D), b (H,); return arrays."""
    x = as_float_array("x", x, func)
    h0 = as_float_array("h0", h0, func)
    check_ndim("x", x, 3, "(T, N, D)", func)
    T, N, D = x.shape
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    checked = []
    H = None
    for W_name, W, b_name, b in weights:
        W = as_float_array(W_name, W, func)
        b = as_float_array(b_name, b, func)
        check_ndim(W_name, W, 2, "(H, D)", func)
        if H is None:
            H = W.shape[0]
        check_shape(W_name, W, (H, D), func, "(H, D)")
        check_shape(b_name, b, (H,), func, "(H,)")
        checked += [W, b]
    check_shape("h0", h0, (N, H), func, "(N, H)")
    return x, h0, checked


def mingru_forward(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    """The minGRU of Feng et al. (2024) over a whole sequence: gates from x_t only, so the recurrence is linear in h.

    Math: z_t = sigma(x_t W_z^T + b_z);  h~_t = x_t W_h^T + b_h;  h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

    Here z_t is the weight of the NEW candidate (the paper's convention); torch's GRU uses z for the old state.
    With a_t = 1 - z_t and b_t = z_t * h~_t this is `linear_recurrence(a, b, h0)`; `parallel=True` computes it
    with `parallel_scan`, `parallel=False` with the sequential loop. Both give the same numbers up to rounding.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)      the input sequence, time first
    h0 : ndarray, shape (N, H)        initial hidden state
    W_z : ndarray, shape (H, D)       update-gate weights
    b_z : ndarray, shape (H,)         update-gate bias
    W_h : ndarray, shape (H, D)       candidate weights (no tanh on the candidate)
    b_h : ndarray, shape (H,)         candidate bias
    parallel : bool                   scan (True) or loop (False)

    Returns
    -------
    hs : ndarray, shape (T, N, H)     the hidden state at every step (hs[-1] is h_T)

    Book: chapter 8, section "minGRU and minLSTM", the minGRU step.
    """
    func = "mingru_forward"
    x, h0, (W_z, b_z, W_h, b_h) = _check_min_inputs(func, x, h0, [("W_z", W_z, "b_z", b_z),
                                                                   ("W_h", W_h, "b_h", b_h)])
    z = sigmoid(x @ W_z.T + b_z)  # update gate, (T, N, H): depends on x only
    h_tilde = x @ W_h.T + b_h  # candidate state, (T, N, H)
    a, b = 1 - z, z * h_tilde  # h_t = a_t * h_{t-1} + b_t
    return parallel_scan(a, b, h0) if parallel else linear_recurrence(a, b, h0)


def minlstm_forward(x, h0, W_f, b_f, W_i, b_i, W_h, b_h, parallel=True):
    """The minLSTM of Feng et al. (2024): forget and input gates from x_t only, normalised to sum to one.

    Math: f_t = sigma(x_t W_f^T + b_f);  i_t = sigma(x_t W_i^T + b_i);  h~_t = x_t W_h^T + b_h;
          f'_t = f_t / (f_t + i_t);  i'_t = i_t / (f_t + i_t);  h_t = f'_t * h_{t-1} + i'_t * h~_t

    Parameters
    ----------
    x : ndarray, shape (T, N, D)      the input sequence, time first
    h0 : ndarray, shape (N, H)        initial hidden state
    W_f, W_i, W_h : ndarray, shape (H, D)   forget-gate, input-gate and candidate weights
    b_f, b_i, b_h : ndarray, shape (H,)     their biases
    parallel : bool                   scan (True) or loop (False)

    Returns
    -------
    hs : ndarray, shape (T, N, H)     the hidden state at every step (hs[-1] is h_T)

    Book: chapter 8, section "minGRU and minLSTM", the minLSTM step.
    """
    func = "minlstm_forward"
    x, h0, (W_f, b_f, W_i, b_i, W_h, b_h) = _check_min_inputs(
        func, x, h0, [("W_f", W_f, "b_f", b_f), ("W_i", W_i, "b_i", b_i), ("W_h", W_h, "b_h", b_h)]
    )
    f = sigmoid(x @ W_f.T + b_f)  # forget gate, (T, N, H)
    i = sigmoid(x @ W_i.T + b_i)  # input gate, (T, N, H)
    f_norm, i_norm = f / (f + i), i / (f + i)  # f' + i' = 1
    h_tilde = x @ W_h.T + b_h  # candidate state, (T, N, H)
    a, b = f_norm, i_norm * h_tilde
    return parallel_scan(a, b, h0) if parallel else linear_recurrence(a, b, h0)
