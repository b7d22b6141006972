"""The affine output layer y = h W^T + b, applied at every time step, with its backward."""

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_cache, check_ndim, check_shape


class AffineCache(NamedTuple):
    """Values `affine_backward` needs."""

    h: np.ndarray
    W: np.ndarray


def affine_forward(h, W, b):
    """An affine map of the last axis, as `torch.nn.Linear` computes it (weight shaped (out, in)).

    Math: y = h W^T + b   (W_hy and b_y when it reads out a hidden state)

    Parameters
    ----------
    h : ndarray, shape (..., H)   e.g. (T, N, H) hidden states, or (N, H)
    W : ndarray, shape (V, H)
    b : ndarray, shape (V,)

    Returns
    -------
    y : ndarray, shape (..., V)   the logits
    cache : values needed by `affine_backward`

    Book: chapter 2, section "The output layer and the loss over time", the output layer.
    """
    func = "affine_forward"
    h = as_float_array("h", h, func)
    W = as_float_array("W", W, func)
    b = as_float_array("b", b, func)
    check_ndim("W", W, 2, "(V, H)", func)
    V, H = W.shape
    if h.ndim < 1 or h.shape[-1] != H:
        raise ValueError(f"affine_forward: `h` must have shape (..., H) = (..., {H}), got {h.shape}")
    check_shape("b", b, (V,), func, "(V,)")
    y = h @ W.T + b
    return y, AffineCache(h, W)


def affine_backward(dy, cache):
    """Backward pass of `affine_forward`, summing the weight gradients over every leading axis.

    Math: dh = dy W;  dW = sum over (t, n) of dy^T h;  db = sum over (t, n) of dy

    Parameters
    ----------
    dy : ndarray, shape (..., V)
    cache : the cache returned by `affine_forward`

    Returns
    -------
    dh : ndarray, shape (..., H)
    dW : ndarray, shape (V, H)
    db : ndarray, shape (V,)

    Book: chapter 3, section "The output layer backward".
    """
    func = "affine_backward"
    check_cache(cache, AffineCache, func, "affine_forward")
    h, W = cache
    V, H = W.shape
    dy = as_float_array("dy", dy, func)
    check_shape("dy", dy, h.shape[:-1] + (V,), func, "(..., V)")
    dh = dy @ W
    dW = dy.reshape(-1, V).T @ h.reshape(-1, H)
    db = dy.reshape(-1, V).sum(axis=0)
    return dh, dW, db
