"""Assignment 4's task that rnncore does not answer: the step-by-step bound on the norms of the Jacobian products.

Chapter 4 derives the bound ||dh_T/dh_k||_2 <= prod_{j=k+1}^T ||diag(phi'(a_j))||_2 ||W_hh||_2 in its section "What
the singular values guarantee", then uses only its coarser form (gamma sigma_max)^(T-k) (`rnncore.gradient_regime`).
The assignment asks for the finer one, read from a forward pass: the bound that the measured norms
(`rnncore.jacobian_product_norms`) must respect, lag by lag.
"""

import numpy as np

from ..cases import Case, Step, register
from . import mistake, reference, visible_case

_SECTION = 'chapter 4, section "What the singular values guarantee"'


def _slopes(hs, nonlinearity):
    hs = np.asarray(hs, dtype=np.float64)
    return 1 - hs * hs if nonlinearity == "tanh" else (hs > 0).astype(np.float64)  # phi'(a_t), (T, N, H)


def _from_factors(factors):
    """bounds[k] = prod_{j=k+1}^T factors[j-1]: the products of the factors of the steps after k, (T + 1, N)."""
    T, N = factors.shape
    bounds = np.ones((T + 1, N))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(T - 1, -1, -1):
            bounds[k] = bounds[k + 1] * factors[k]
    return bounds


@reference
def jacobian_norm_bounds(hs, W_hh, nonlinearity="tanh"):
    """The upper bound on ||dh_T/dh_k||_2 that submultiplicativity gives step by step, for every k and sequence.

    Math: ||dh_T/dh_k||_2 <= prod_{j=k+1}^T ||diag(phi'(a_j))||_2 ||W_hh||_2 = prod_{j=k+1}^T gamma_j sigma_max(W_hh),
          gamma_j = max_i |phi'(a_{j,i})| (the largest slope of step j, per sequence);
          bounds[k] = prod_{j=k+1}^T gamma_j sigma_max for k = 0..T, with bounds[T] = 1 (the empty product)

    phi'(a_j) is read from the states, as `jacobian_product_norms` reads it: 1 - h_j^2 for tanh, 1 where h_j > 0 and
    0 elsewhere for relu. sigma_max(W_hh) is the largest singular value. Each entry is at least the matching entry of
    `jacobian_product_norms(hs, W_hh, nonlinearity)` and at most (gamma sigma_max)^(T-k) with gamma = 1.

    Parameters
    ----------
    hs : ndarray, shape (T, N, H)    the states h_1..h_T of N sequences (T >= 1), outputs of the nonlinearity
    W_hh : ndarray, shape (H, H)     the recurrent weights, in torch's layout
    nonlinearity : "tanh" or "relu"

    Returns
    -------
    bounds : ndarray, shape (T + 1, N)   bounds[k, n] = prod_{j=k+1}^T gamma_j sigma_max(W_hh) for sequence n

    Book: chapter 4, section "What the singular values guarantee", the Jacobian bound.
    """
    gamma = np.abs(_slopes(hs, nonlinearity)).max(axis=2)  # gamma_j per step and sequence, (T, N)
    return _from_factors(gamma * np.linalg.norm(np.asarray(W_hh, dtype=np.float64), 2))


@mistake("jacobian_norm_bounds", "gamma = 1 at every step",
         "the bounds equal sigma_max^(T-k), the coarse bound with gamma = 1 for every step: the largest slope of "
         f"each step is not in it ({_SECTION})")
def _coarse(hs, W_hh, nonlinearity="tanh"):
    hs = np.asarray(hs, dtype=np.float64)
    return _from_factors(np.full(hs.shape[:2], np.linalg.norm(np.asarray(W_hh, dtype=np.float64), 2)))


@mistake("jacobian_norm_bounds", "spectral radius",
         "the bounds use the spectral radius of W_hh (its largest |eigenvalue|), which bounds no norm of a "
         f"product ({_SECTION})")
def _radius(hs, W_hh, nonlinearity="tanh"):
    gamma = np.abs(_slopes(hs, nonlinearity)).max(axis=2)
    return _from_factors(gamma * np.abs(np.linalg.eigvals(np.asarray(W_hh, dtype=np.float64))).max())


@mistake("jacobian_norm_bounds", "Frobenius norm",
         "the bounds use the Frobenius norm of W_hh (the root of the sum of its squared entries), not its largest "
         f"singular value ({_SECTION})")
def _frobenius(hs, W_hh, nonlinearity="tanh"):
    gamma = np.abs(_slopes(hs, nonlinearity)).max(axis=2)
    return _from_factors(gamma * np.linalg.norm(np.asarray(W_hh, dtype=np.float64)))


@mistake("jacobian_norm_bounds", "smallest slope",
         "each step's factor equals the smallest slope of that step times sigma_max, a number the norms of the "
         f"products can exceed ({_SECTION})")
def _smallest(hs, W_hh, nonlinearity="tanh"):
    gamma = np.abs(_slopes(hs, nonlinearity)).min(axis=2)
    return _from_factors(gamma * np.linalg.norm(np.asarray(W_hh, dtype=np.float64), 2))


@mistake("jacobian_norm_bounds", "steps 1..k",
         "bounds[k] equals the product over steps 1..k, a bound on dh_k/dh_0, not over the steps k+1..T that "
         'separate h_k from h_T (chapter 4, section "The product of Jacobians")')
def _from_the_start(hs, W_hh, nonlinearity="tanh"):
    gamma = np.abs(_slopes(hs, nonlinearity)).max(axis=2)
    factors = gamma * np.linalg.norm(np.asarray(W_hh, dtype=np.float64), 2)
    T, N = factors.shape
    bounds = np.ones((T + 1, N))
    for k in range(1, T + 1):
        bounds[k] = bounds[k - 1] * factors[k - 1]
    return bounds


@mistake("jacobian_norm_bounds", "tanh slope not squared",
         "the tanh slopes equal 1 - h, which is not the derivative of tanh "
         '(chapter 4, section "The product of Jacobians")')
def _not_squared(hs, W_hh, nonlinearity="tanh"):
    if nonlinearity != "tanh":
        raise ValueError("same as the reference")
    gamma = np.abs(1 - np.asarray(hs, dtype=np.float64)).max(axis=2)
    return _from_factors(gamma * np.linalg.norm(np.asarray(W_hh, dtype=np.float64), 2))


def _visible():
    visible_case("jacobian_norm_bounds", "T=3, N=1, H=2, tanh, diagonal W_hh",
                 hs=np.array([[[0.5, 0.0]], [[0.8, -0.6]], [[0.0, 0.9]]]), W_hh=np.array([[2.0, 0.0], [0.0, 0.5]]),
                 nonlinearity="tanh")
    visible_case("jacobian_norm_bounds", "T=4, N=2, H=2, relu",
                 hs=np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.5, 2.0], [3.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]],
                              [[2.0, 1.0], [0.0, 0.5]]]),
                 W_hh=np.array([[1.0, 1.0], [0.0, 1.0]]), nonlinearity="relu")
    visible_case("jacobian_norm_bounds", "T=4, N=2, H=3, tanh, non-normal W_hh",
                 hs=np.array([[[0.2, -0.4, 0.6], [0.9, 0.1, -0.3]], [[-0.7, 0.5, 0.0], [0.3, 0.3, 0.3]],
                              [[0.1, 0.2, -0.2], [-0.8, 0.6, 0.4]], [[0.5, -0.5, 0.5], [0.0, 0.95, -0.1]]]),
                 W_hh=np.array([[0.9, 3.0, 0.0], [0.0, 0.9, 0.0], [0.5, 0.0, -0.5]]), nonlinearity="tanh")


_visible()


# The verifier's cases (rnn-grade): seeded, with T = 1, N = 1, relu states with inactive steps, saturated tanh.
@register("jacobian_norm_bounds", seed=20260404)
def _jacobian_norm_bounds(rng):
    cases = []
    for T, N, H, nonlinearity, scale in [(1, 1, 1, "tanh", 1.0), (1, 3, 4, "relu", 1.5), (5, 2, 3, "tanh", 0.8),
                                         (12, 4, 5, "relu", 1.2), (30, 3, 6, "tanh", 3.0), (60, 2, 8, "tanh", 1.0),
                                         (20, 5, 2, "relu", 0.5)]:
        a = scale * rng.standard_normal((T, N, H))
        hs = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        if nonlinearity == "relu" and T > 2:
            hs[1, 0] = 0.0  # a step on which every unit of one sequence is inactive: gamma = 0
        W_hh = rng.standard_normal((H, H)) / np.sqrt(H)
        cases.append(Case(f"T={T}, N={N}, H={H}, {nonlinearity}",
                          [Step("jacobian_norm_bounds", args=(hs, W_hh, nonlinearity))]))
    return cases
