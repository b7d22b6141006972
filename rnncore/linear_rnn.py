"""Diagonal linear recurrences: the LRU (Orvieto et al. 2023) and Griffin/Hawk's RG-LRU (De et al. 2024).

Both are h_t = a_t * h_{t-1} + b_t with a diagonal (elementwise) a_t that does not read h, so both run on the
chapter's parallel scan (`rnncore.scan.parallel_scan`) or its loop (`linear_recurrence`), with the same numbers.
"""

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape
from .activations import sigmoid
from .scan import linear_recurrence, parallel_scan


def lru_init(rng, D, H, r_min=0.9, r_max=0.999, max_phase=2 * np.pi):
    """LRU parameters as Orvieto et al. initialise them: eigenvalues uniform on a ring r_min <= |lambda| <= r_max.

    Math: |lambda|^2 ~ U[r_min^2, r_max^2], arg lambda ~ U[0, max_phase];  nu = -log|lambda|, theta = arg lambda;
          nu_log = log nu, theta_log = log theta, gamma_log = log sqrt(1 - |lambda|^2);
          B ~ N(0, 1/(2D)) + i N(0, 1/(2D)),  C ~ N(0, 1/(2H)) + i N(0, 1/(2H)),  D_skip ~ N(0, 1)

    Parameters
    ----------
    rng : numpy.random.Generator
    D : int   input and output width
    H : int   number of complex state channels
    r_min, r_max : float   the ring of initial eigenvalue moduli, 0 <= r_min < r_max < 1
    max_phase : float      the largest initial eigenvalue angle

    Returns
    -------
    params : dict with nu_log (H,), theta_log (H,), gamma_log (H,), B (H, D) complex, C (D, H) complex,
             D_skip (D,)

    Book: chapter 8, section "Diagonal linear recurrences: LRU and RG-LRU", the LRU recurrence.
    """
    if not 0 <= r_min < r_max < 1:
        raise ValueError(f"lru_init: need 0 <= r_min < r_max < 1, got r_min={r_min}, r_max={r_max}")
    u1, u2 = rng.uniform(size=H), rng.uniform(size=H)
    nu_log = np.log(-0.5 * np.log(u1 * (r_max**2 - r_min**2) + r_min**2))
    theta_log = np.log(max_phase * u2)
    modulus = np.exp(-np.exp(nu_log))
    B = (rng.standard_normal((H, D)) + 1j * rng.standard_normal((H, D))) / np.sqrt(2 * D)
    C = (rng.standard_normal((D, H)) + 1j * rng.standard_normal((D, H))) / np.sqrt(2 * H)
    return dict(nu_log=nu_log, theta_log=theta_log, gamma_log=np.log(np.sqrt(1 - modulus**2)), B=B, C=C,
                D_skip=rng.standard_normal(D))


def lru_forward(u, nu_log, theta_log, gamma_log, B, C, D_skip, h0=None, parallel=True):
    """The LRU over a sequence: a complex diagonal linear recurrence, exponentially parametrised and normalised.

    Math: lambda = exp(-exp(nu_log) + i exp(theta_log));  gamma = exp(gamma_log)
          x_t = lambda * x_{t-1} + gamma * (u_t B^T);   y_t = Re(x_t C^T) + D_skip * u_t

    |lambda| = exp(-exp(nu_log)) < 1 for every real nu_log, so the recurrence is stable whatever the training does;
    gamma = sqrt(1 - |lambda|^2) at initialisation keeps the state's variance equal to the input's (white noise).

    Parameters
    ----------
    u : ndarray, shape (T, N, D)         the input sequence, time first
    nu_log, theta_log, gamma_log : ndarray, shape (H,)   the eigenvalues' log-log modulus, log angle, log gamma
    B : ndarray, shape (H, D), complex   input map
    C : ndarray, shape (D, H), complex   output map
    D_skip : ndarray, shape (D,)         the skip connection
    h0 : ndarray, shape (N, H), complex, optional   the initial state (zeros)
    parallel : bool                      parallel scan (True) or loop (False)

    Returns
    -------
    y : ndarray, shape (T, N, D)         the outputs (real)
    xs : ndarray, shape (T, N, H), complex   the states

    Book: chapter 8, section "Diagonal linear recurrences: LRU and RG-LRU", the LRU recurrence.
    """
    func = "lru_forward"
    u = as_float_array("u", u, func)
    check_ndim("u", u, 3, "(T, N, D)", func)
    T, N, D = u.shape
    nu_log, theta_log, gamma_log = (as_float_array(n, p, func) for n, p in
                                    [("nu_log", nu_log), ("theta_log", theta_log), ("gamma_log", gamma_log)])
    check_ndim("nu_log", nu_log, 1, "(H,)", func)
    H = nu_log.shape[0]
    check_shape("theta_log", theta_log, (H,), func, "(H,)")
    check_shape("gamma_log", gamma_log, (H,), func, "(H,)")
    B, C = np.asarray(B), np.asarray(C)
    check_shape("B", B, (H, D), func, "(H, D)")
    check_shape("C", C, (D, H), func, "(D, H)")
    D_skip = as_float_array("D_skip", D_skip, func)
    check_shape("D_skip", D_skip, (D,), func, "(D,)")
    if T == 0:
        raise ValueError(f"{func}: `u` must have at least one time step, got shape {u.shape}")
    lam = np.exp(-np.exp(nu_log) + 1j * np.exp(theta_log))  # (H,), |lambda| < 1
    b = np.exp(gamma_log) * (u @ B.T)  # gamma * B u_t, (T, N, H) complex
    a = np.broadcast_to(lam, b.shape)
    if h0 is None:
        h0 = np.zeros((N, H), dtype=complex)
    xs = parallel_scan(a, b, h0) if parallel else linear_recurrence(a, b, h0)
    return (xs @ C.T).real + D_skip * u, xs


def rglru_forward(x, h0, W_a, b_a, W_x, b_x, Lambda, c=8.0, parallel=True):
    """Griffin/Hawk's real-gated LRU: a recurrence gate scales the decay's exponent, sqrt(1 - a^2) the input.

    Math: r_t = sigma(x_t W_a^T + b_a);  i_t = sigma(x_t W_x^T + b_x);  log a_t = -c r_t softplus(-Lambda)
          (so a_t = sigma(Lambda)^(c r_t));  h_t = a_t * h_{t-1} + sqrt(1 - a_t^2) * (i_t * x_t)

    Parameters
    ----------
    x : ndarray, shape (T, N, H)      the input sequence (the RG-LRU keeps the width: D = H)
    h0 : ndarray, shape (N, H)        initial state
    W_a, W_x : ndarray, shape (H, H)  recurrence-gate and input-gate weights (block-diagonal in Griffin; dense here)
    b_a, b_x : ndarray, shape (H,)    their biases
    Lambda : ndarray, shape (H,)      the learned decay: a = sigma(Lambda) when r_t = 1/c
    c : float                         the gate's scale (8 in the paper)
    parallel : bool                   parallel scan (True) or loop (False)

    Returns
    -------
    hs : ndarray, shape (T, N, H)     the states

    Book: chapter 8, section "Diagonal linear recurrences: LRU and RG-LRU", the RG-LRU step.
    """
    func = "rglru_forward"
    x, h0 = as_float_array("x", x, func), as_float_array("h0", h0, func)
    check_ndim("x", x, 3, "(T, N, H)", func)
    T, N, H = x.shape
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    check_shape("h0", h0, (N, H), func, "(N, H)")
    for name, W in [("W_a", W_a), ("W_x", W_x)]:
        check_shape(name, as_float_array(name, W, func), (H, H), func, "(H, H)")
    for name, p in [("b_a", b_a), ("b_x", b_x), ("Lambda", Lambda)]:
        check_shape(name, as_float_array(name, p, func), (H,), func, "(H,)")
    r = sigmoid(x @ np.asarray(W_a).T + b_a)  # recurrence gate, (T, N, H)
    i = sigmoid(x @ np.asarray(W_x).T + b_x)  # input gate
    log_a = -c * r * np.logaddexp(0.0, -np.asarray(Lambda, dtype=float))  # log sigma(Lambda)^(c r), <= 0
    a = np.exp(log_a)
    b = np.sqrt(-np.expm1(2 * log_a)) * (i * x)  # sqrt(1 - a^2), accurate when a is close to 1
    return parallel_scan(a, b, h0) if parallel else linear_recurrence(a, b, h0)
