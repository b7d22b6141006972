"""Assignment 8's task that rnncore does not answer: Blelloch's work-efficient scan of a linear recurrence.

Chapter 8 implements the doubling scan (Hillis-Steele, `rnncore.parallel_scan`) and describes Blelloch's two-pass
scan (an up-sweep that builds a tree of compositions, then a down-sweep that hands every element its prefix) in its
work-and-span table; the assignment asks for the latter.
"""

import numpy as np

from ..cases import Case, Step, register
from . import mistake, reference, visible_case

_SECTION = 'chapter 8, section "Work, span and a CPU"'


def _prepare(a, b, h0):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h0 = np.zeros(a.shape[1:]) if h0 is None else np.asarray(h0, dtype=np.float64)
    T = a.shape[0]
    size = 1 << (T - 1).bit_length()  # the next power of two >= T
    A = np.ones((size, *a.shape[1:]))  # padding: the identity map (1, 0)
    B = np.zeros((size, *a.shape[1:]))
    A[:T], B[:T] = a, b
    B[0] = A[0] * h0 + B[0]  # fold h0 into the first step
    return A, B, T, size


def _up_sweep(A, B, size, swapped=False):
    d = 1
    while d < size:
        right = np.arange(2 * d - 1, size, 2 * d)
        left = right - d
        if swapped:  # the later block applied first
            B[right] = A[left] * B[right] + B[left]
        else:  # (A_l, B_l) o (A_r, B_r) = (A_l A_r, A_r B_l + B_r)
            B[right] = A[right] * B[left] + B[right]
        A[right] = A[left] * A[right]
        d *= 2


def _down_sweep(A, B, size, swapped=False):
    A[size - 1], B[size - 1] = 1.0, 0.0  # the exclusive prefix of the whole padded sequence starts at the identity
    d = size // 2
    while d >= 1:
        right = np.arange(2 * d - 1, size, 2 * d)
        left = right - d
        A_l, B_l = A[left].copy(), B[left].copy()  # the left block's composition, from the up-sweep
        A[left], B[left] = A[right], B[right]  # the left child's prefix is the parent's
        if swapped:
            A[right], B[right] = A_l * A[right], A[right] * B_l + B[right]
        else:  # the right child's prefix is the parent's followed by the left block: P o L
            A[right], B[right] = A[right] * A_l, A_l * B[right] + B_l
        d //= 2


def _inclusive(A_ex, B_ex, a, b, T, h0):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).copy()
    h0 = np.zeros(a.shape[1:]) if h0 is None else np.asarray(h0, dtype=np.float64)
    b[0] = a[0] * h0 + b[0]
    return a * B_ex[:T] + b  # prefix_t = exclusive_t o step_t: its map applied to 0


@reference
def blelloch_scan(a, b, h0=None):
    """The states of h_t = a_t * h_{t-1} + b_t by Blelloch's work-efficient scan: an up-sweep, then a down-sweep.

    Math: (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2);  fold h0 into step 1: b_1 <- a_1 h0 + b_1;
          pad to T' = 2^ceil(log2 T) steps with the identity (1, 0);
          up-sweep, d = 1, 2, 4, ..., T'/2: x[k] <- x[k - d] o x[k]  for k = 2d - 1, 4d - 1, ... < T';
          down-sweep, after x[T' - 1] <- (1, 0), d = T'/2, ..., 2, 1:
              (x[k - d], x[k]) <- (x[k], x[k] o x[k - d])  for the same k;
          h_t = second part of x[t] o (a_t, b_t)  (x[t] is then the exclusive prefix of step t)

    Work 2(T' - 1) applications of o in the two sweeps and T in the last pass, span 2 log2 T' + 1.

    Parameters
    ----------
    a : ndarray, shape (T, ...)    the coefficients a_t, for example (T, N, H)
    b : ndarray, shape (T, ...)    the inputs b_t, same shape as `a`
    h0 : ndarray, shape a.shape[1:], optional   the initial state (zeros if omitted)

    Returns
    -------
    hs : ndarray, shape (T, ...)      hs[t] is the state after step t, equal to `linear_recurrence(a, b, h0)`
    A_up, B_up : ndarray, shape (T', ...)   the padded array of pairs right after the up-sweep (the tree of
                 compositions: element k holds the composition of the 2^j steps that end at k, for the largest
                 2^j dividing k + 1)

    Book: chapter 8, section "Work, span and a CPU".
    """
    return _scan(a, b, h0)


def _scan(a, b, h0, up_swapped=False, down_swapped=False):
    A, B, T, size = _prepare(a, b, h0)
    _up_sweep(A, B, size, swapped=up_swapped)
    A_up, B_up = A.copy(), B.copy()
    _down_sweep(A, B, size, swapped=down_swapped)
    return _inclusive(A, B, a, b, T, h0), A_up, B_up


@mistake("blelloch_scan", "up-sweep composes in the wrong order",
         "the up-sweep equals one that applies the later block of steps first: the operator is not commutative "
         "(chapter 8, section \"Steps as affine maps\")")
def _up_swapped(a, b, h0=None):
    return _scan(a, b, h0, up_swapped=True)


@mistake("blelloch_scan", "down-sweep composes in the wrong order",
         "the states equal a down-sweep that puts the left block before the parent's prefix instead of after it: "
         f"which part of the sequence does each of the two come from? ({_SECTION})")
def _down_swapped(a, b, h0=None):
    return _scan(a, b, h0, down_swapped=True)


@mistake("blelloch_scan", "h0 ignored",
         "the states equal the scan started from zeros, as if `h0` were not given "
         "(chapter 8, section \"Steps as affine maps\")")
def _no_h0(a, b, h0=None):
    if h0 is None or not np.any(h0):
        raise ValueError("same as the reference")
    return _scan(a, b, None)


@mistake("blelloch_scan", "exclusive scan returned",
         f"each state equals the one before it: the down-sweep gives every step the prefix *before* it ({_SECTION})")
def _exclusive(a, b, h0=None):
    A, B, T, size = _prepare(a, b, h0)
    _up_sweep(A, B, size)
    A_up, B_up = A.copy(), B.copy()
    _down_sweep(A, B, size)
    return B[:T].copy(), A_up, B_up  # the exclusive prefixes applied to 0: h_0 (without h0), h_1, ..., h_{T-1}


def _visible():
    rng = np.random.default_rng(8)
    visible_case("blelloch_scan", "T=8, one number per step, h0 = 0.5",
                 a=np.round(rng.uniform(0.5, 1.0, size=(8, 1)), 2), b=np.round(rng.uniform(-1, 1, size=(8, 1)), 2),
                 h0=np.array([0.5]))
    visible_case("blelloch_scan", "T=5 (padded to 8), shape (5, 2, 3), no h0",
                 a=np.round(rng.uniform(-1, 1, size=(5, 2, 3)), 2), b=np.round(rng.normal(size=(5, 2, 3)), 2), h0=None)
    visible_case("blelloch_scan", "T=1", a=np.array([[0.9, -0.5]]), b=np.array([[1.0, 2.0]]), h0=np.array([2.0, 1.0]))


_visible()


# The verifier's cases (rnn-grade): seeded, with T = 1, lengths that are not powers of two, and no h0.
@register("blelloch_scan", seed=20260440)
def _blelloch_scan(rng):
    cases = []
    for T, rest, with_h0 in [(1, (1,), True), (2, (3,), False), (5, (2, 3), True), (8, (1,), True),
                             (13, (2, 2), False), (64, (3,), True), (100, (2, 1), True)]:
        a, b = rng.uniform(-1.1, 1.1, size=(T, *rest)), rng.standard_normal((T, *rest))
        args = (a, b, rng.standard_normal(rest)) if with_h0 else (a, b)
        label = f"T={T}, shape {(T, *rest)}" + ("" if with_h0 else ", no h0")
        cases.append(Case(label, [Step("blelloch_scan", args=args)]))
    return cases


# ------------------------------------------------------------------------------ one Newton step of DEER
_DEER = 'chapter 8, section "One Newton step"'


def _newton(u, w, h0, hs_guess, shifted=True, slope="f", offset=True, use_h0=True):
    u, w = np.asarray(u, dtype=np.float64), np.asarray(w, dtype=np.float64)
    h0, guess = np.asarray(h0, dtype=np.float64), np.asarray(hs_guess, dtype=np.float64)
    start = h0 if use_h0 else np.zeros_like(h0)
    p = np.concatenate([start[None], guess[:-1]]) if shifted else guess  # the previous state of every step
    f = np.tanh(u + w * p)  # the step at the guess, all T at once
    a = w * (1 - (f if slope == "f" else p) ** 2) if slope != "none" else np.broadcast_to(w, f.shape).copy()
    b = f - a * p if offset else f
    hs, h = np.empty(f.shape), start
    for t in range(f.shape[0]):  # the linear recurrence (any scan gives the same numbers)
        h = a[t] * h + b[t]
        hs[t] = h
    return hs, a, b


@reference
def deer_newton_step(u, w, h0, hs_guess):
    """One Newton step of the parallel evaluation of h_t = tanh(u_t + w * h_{t-1}): linearise at a guess, then scan.

    Math: p_t = guess of h_{t-1} (p_1 = h0);  f_t = tanh(u_t + w * p_t);  a_t = d f_t / d p_t (elementwise);
          b_t = f_t - a_t * p_t;  hs_t = a_t * hs_{t-1} + b_t from hs_0 = h0 (a linear recurrence: a scan)

    Parameters
    ----------
    u : ndarray, shape (T, N, H)          the input drive u_t = x_t W_ih^T + b of every step
    w : ndarray, shape (H,)               the diagonal recurrent weights
    h0 : ndarray, shape (N, H)            the initial state
    hs_guess : ndarray, shape (T, N, H)   the current guess of h_1 .. h_T

    Returns
    -------
    hs : ndarray, shape (T, N, H)         the new guess: the states of the linearised recurrence
    a : ndarray, shape (T, N, H)          its coefficients (the diagonal Jacobians at the guess)
    b : ndarray, shape (T, N, H)          its inputs

    Book: chapter 8, page "Nonlinear RNNs in parallel, and what linearity costs".
    """
    return _newton(u, w, h0, hs_guess)


@mistake("deer_newton_step", "linearised at h_t instead of h_{t-1}",
         "the output equals a step that linearises step t around the guess of h_t itself, not the state before it: "
         f"which state does step t read? ({_DEER})")
def _not_shifted(u, w, h0, hs_guess):
    return _newton(u, w, h0, hs_guess, shifted=False)


@mistake("deer_newton_step", "no tanh derivative in the Jacobian",
         f"`a` equals the recurrent weights alone: the Jacobian of a step has a second factor ({_DEER})")
def _no_slope(u, w, h0, hs_guess):
    return _newton(u, w, h0, hs_guess, slope="none")


@mistake("deer_newton_step", "tanh derivative at the previous state",
         "`a` equals w (1 - p_t^2), the slope of tanh taken at the previous state instead of at the step's output "
         f"({_DEER})")
def _slope_at_p(u, w, h0, hs_guess):
    return _newton(u, w, h0, hs_guess, slope="p")


@mistake("deer_newton_step", "offset without the -J p term",
         "`b` equals f_t: the linearisation's offset is missing the term that cancels the Jacobian at the guess "
         f"({_DEER})")
def _no_offset(u, w, h0, hs_guess):
    return _newton(u, w, h0, hs_guess, offset=False)


@mistake("deer_newton_step", "h0 ignored",
         f"the output equals a step started from zeros, as if `h0` were not given ({_DEER})")
def _deer_no_h0(u, w, h0, hs_guess):
    if not np.any(h0):
        raise ValueError("same as the reference")
    return _newton(u, w, h0, hs_guess, use_h0=False)


def _deer_visible():
    rng = np.random.default_rng(81)
    visible_case("deer_newton_step", "T=4, N=1, H=1, by hand-sized numbers",
                 u=np.array([0.5, -0.3, 0.8, 0.1]).reshape(4, 1, 1), w=np.array([0.9]), h0=np.array([[0.5]]),
                 hs_guess=np.array([0.2, -0.1, 0.4, 0.3]).reshape(4, 1, 1))
    visible_case("deer_newton_step", "T=6, N=2, H=3, guess zero",
                 u=np.round(rng.normal(size=(6, 2, 3)), 2), w=np.array([1.5, -0.8, 0.3]),
                 h0=np.round(rng.normal(size=(2, 3)), 2), hs_guess=np.zeros((6, 2, 3)))
    visible_case("deer_newton_step", "T=5, N=1, H=2, random guess",
                 u=np.round(rng.normal(size=(5, 1, 2)), 2), w=np.array([2.0, 0.5]),
                 h0=np.array([[-0.4, 0.7]]), hs_guess=np.round(rng.uniform(-1, 1, size=(5, 1, 2)), 2))


_deer_visible()


@register("deer_newton_step", seed=20260841)
def _deer_newton_step(rng):
    cases = []
    for T, N, H, scale in [(1, 1, 1, 1.0), (2, 1, 3, 2.0), (7, 2, 3, 1.0), (16, 3, 2, 3.0), (33, 2, 4, 0.5),
                           (100, 1, 3, 1.5)]:
        u, w = rng.standard_normal((T, N, H)), scale * rng.standard_normal(H)
        h0, guess = rng.standard_normal((N, H)), rng.uniform(-1, 1, (T, N, H))
        cases.append(Case(f"T={T}, N={N}, H={H}, |w| ~ {scale}", [Step("deer_newton_step", args=(u, w, h0, guess))]))
    return cases
