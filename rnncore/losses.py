"""Softmax cross-entropy summed over time and batch, with a mask for padding, and its gradient."""

import numpy as np

from ._checks import as_float_array, check_shape
from .activations import log_softmax


def softmax_cross_entropy(logits, y, mask=None):
    """Mean negative log-likelihood of the targets over every unmasked (t, n), and its gradient.

    Math: L = -(1 / M) sum_{t,n} m_{t,n} log softmax(z_{t,n})_{y_{t,n}},   M = sum_{t,n} m_{t,n};
          dL/dz_{t,n} = (m_{t,n} / M) (softmax(z_{t,n}) - onehot(y_{t,n}))

    This is `torch.nn.functional.cross_entropy` with reduction="mean" over the unmasked positions.

    Parameters
    ----------
    logits : ndarray, shape (T, N, V)   scores at every step (any leading shape works, e.g. (N, V))
    y : ndarray of int, shape (T, N)    target class at every step, in [0, V)
    mask : ndarray of bool, shape (T, N), optional   False marks padding that must not count

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (T, N, V)

    Book: chapter 2, section "The output layer and the loss over time", the masked loss.
    """
    func = "softmax_cross_entropy"
    logits = as_float_array("logits", logits, func)
    if logits.ndim < 1:
        raise ValueError(f"{func}: `logits` must have shape (..., V), got {logits.shape}")
    V = logits.shape[-1]
    y = np.asarray(y)
    check_shape("y", y, logits.shape[:-1], func, "(T, N)" if logits.ndim == 3 else None)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{func}: `y` must hold integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= V):
        raise ValueError(f"{func}: `y` must lie in [0, V) = [0, {V}), got values in [{y.min()}, {y.max()}]")
    if mask is None:
        mask = np.ones(y.shape, dtype=bool)
    mask = np.asarray(mask)
    check_shape("mask", mask, y.shape, func, "(T, N)" if logits.ndim == 3 else None)
    M = int(mask.sum())
    if M == 0:
        raise ValueError(f"{func}: `mask` must keep at least one position, but it is all False")

    logp = log_softmax(logits)  # (T, N, V)
    picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]  # log p of each target, (T, N)
    loss = -(picked * mask).sum() / M
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, y[..., None], np.take_along_axis(dlogits, y[..., None], axis=-1) - 1, axis=-1)
    dlogits *= (mask / M)[..., None]
    return float(loss), dlogits

