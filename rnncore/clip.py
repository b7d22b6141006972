"""Gradient clipping over a dict of gradients: elementwise (min-char-rnn) and by global norm (as torch)."""

import numbers

import numpy as np

from ._checks import as_float_array


def _check_positive(value, name, func):
    """Return `value` as a float, or raise a ValueError unless it is a real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{func}: `{name}` must be a positive number, got {value!r}")
    return float(value)


def _check_array_dict(value, name, func):
    """Return a new dict with every value as a float ndarray, or raise a ValueError naming the bad entry."""
    if not isinstance(value, dict):
        raise ValueError(f"{func}: `{name}` must be a dict of name -> array, got {type(value).__name__}")
    return {key: as_float_array(f"{name}[{key!r}]", arr, func) for key, arr in value.items()}


def clip_by_value(grads, limit):
    """Clip every gradient elementwise to [-limit, limit], as min-char-rnn does and `torch.nn.utils.clip_grad_value_`.

    Math: g <- min(max(g, -limit), limit)   for every entry of every gradient

    Parameters
    ----------
    grads : dict of name -> ndarray (any shapes)   not modified
    limit : positive number, e.g. 5 as in min-char-rnn

    Returns
    -------
    clipped : dict with the same keys, new arrays of the same shapes and dtypes

    Book: chapter 4, section "Gradient clipping", clipping by value.
    """
    func = "clip_by_value"
    grads = _check_array_dict(grads, "grads", func)
    limit = _check_positive(limit, "limit", func)
    return {name: np.clip(g, -limit, limit) for name, g in grads.items()}


def clip_by_global_norm(grads, max_norm, eps=1e-6):
    """Rescale all gradients together so that their joint L2 norm is at most about `max_norm`, as torch does.

    Math: ||g|| = sqrt(sum over every gradient and entry of g^2);  g <- g * min(1, max_norm / (||g|| + eps))

    This is `torch.nn.utils.clip_grad_norm_` (norm_type=2, eps=1e-6): the factor is clamped to 1, so
    gradients below the threshold are returned unchanged (as copies) and the direction of the whole update
    never changes. A non-finite norm gives non-finite gradients, as in torch; check `total_norm`.

    Parameters
    ----------
    grads : dict of name -> ndarray (any shapes)   not modified
    max_norm : positive number, the largest allowed joint norm
    eps : non-negative number added to the norm before dividing (torch's 1e-6)

    Returns
    -------
    clipped : dict with the same keys, new arrays of the same shapes and dtypes
    total_norm : float, the joint norm of `grads` before clipping (accumulated in float64)

    Book: chapter 4, section "Gradient clipping", clipping by global norm.
    """
    func = "clip_by_global_norm"
    grads = _check_array_dict(grads, "grads", func)
    max_norm = _check_positive(max_norm, "max_norm", func)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{func}: `eps` must be a non-negative number, got {eps!r}")
    total_norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))
    scale = float(np.minimum(max_norm / (total_norm + eps), 1.0))  # np.minimum keeps a NaN, as torch.clamp does
    return {name: g * scale for name, g in grads.items()}, total_norm
