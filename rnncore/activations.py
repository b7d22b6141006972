"""Numerically stable activations used by every cell: sigmoid, softmax and log-softmax."""

import numpy as np


def sigmoid(a):
    """The logistic function, stable for large |a|.

    Math: sigma(a) = 1 / (1 + exp(-a)) = exp(a) / (1 + exp(a))

    Parameters
    ----------
    a : ndarray, any shape

    Returns
    -------
    s : ndarray, same shape and dtype as `a`

    Book: chapter 5, section "The LSTM cell".
    """
    a = np.asarray(a)
    e = np.exp(-np.abs(a))  # never overflows
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def softmax(logits, axis=-1):
    """Softmax along `axis`, shifted by the maximum so that exp never overflows.

    Math: softmax(z)_k = exp(z_k - max z) / sum_j exp(z_j - max z)

    Parameters
    ----------
    logits : ndarray, shape (..., V)

    Returns
    -------
    p : ndarray, shape (..., V), non-negative, summing to 1 along `axis`

    Book: chapter 2, section "The output layer and the loss over time", the shifted softmax.
    """
    z = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits, axis=-1):
    """Log of the softmax along `axis`, computed without forming the softmax (no log of 0).

    Math: log softmax(z)_k = z_k - max z - log sum_j exp(z_j - max z)

    Parameters
    ----------
    logits : ndarray, shape (..., V)

    Returns
    -------
    logp : ndarray, shape (..., V)

    Book: chapter 2, section "The output layer and the loss over time", the log-sum-exp form.
    """
    z = logits - np.max(logits, axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
