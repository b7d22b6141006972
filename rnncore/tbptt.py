"""Truncated backpropagation through time over one long sequence, carrying the hidden state between chunks."""

import numbers

import numpy as np

from . import layers, losses, rnn
from ._checks import as_float_array, check_ndim, check_sequence_inputs, check_shape

_PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "W", "b")


def _check_positive_int(value, name, func):
    """Return `value` as an int, or raise a ValueError unless it is an integer >= 1 (bool refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{func}: `{name}` must be an integer >= 1, got {value!r}")
    return int(value)


def chunk_bounds(T, k):
    """Split the time steps 0..T-1 into consecutive chunks of k steps; the last chunk may be shorter.

    Math: chunk j covers the steps [j k, min((j + 1) k, T)),  j = 0, ..., ceil(T / k) - 1

    Parameters
    ----------
    T : int >= 1, the length of the sequence
    k : int >= 1, the chunk length (the truncation length of `rnn_tbptt`)

    Returns
    -------
    bounds : list of (start, stop) pairs of ints, in order, covering [0, T) exactly once

    Book: chapter 3, section "Truncated BPTT".
    """
    T = _check_positive_int(T, "T", "chunk_bounds")
    k = _check_positive_int(k, "k", "chunk_bounds")
    return [(start, min(start + k, T)) for start in range(0, T, k)]


def _check_tbptt_inputs(x, y, h0, params, k, update):
    """Validate every argument of `rnn_tbptt` up front, so errors name rnn_tbptt and the argument."""
    func = "rnn_tbptt"
    if not isinstance(params, dict):
        raise ValueError(f"{func}: `params` must be a dict of name -> array, got {type(params).__name__}")
    differing = set(params) ^ set(_PARAM_NAMES)
    if differing:
        raise ValueError(f"{func}: `params` must have exactly the keys {list(_PARAM_NAMES)}; "
                         f"missing or unexpected: {sorted(differing)}")
    W_ih, W_hh, _, _ = rnn._check_weights(func, params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"])
    H, D = W_ih.shape
    W = as_float_array("params['W']", params["W"], func)
    b = as_float_array("params['b']", params["b"], func)
    check_ndim("params['W']", W, 2, "(V, H)", func)
    V = W.shape[0]
    check_shape("params['W']", W, (V, H), func, "(V, H)")
    check_shape("params['b']", b, (V,), func, "(V,)")
    x, h0 = check_sequence_inputs(func, D, H, x, h0=h0)
    T, N = x.shape[:2]
    y = np.asarray(y)
    check_shape("y", y, (T, N), func, "(T, N)")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{func}: `y` must hold integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= V:
        raise ValueError(f"{func}: `y` must lie in [0, V) = [0, {V}), got values in [{y.min()}, {y.max()}]")
    k = _check_positive_int(k, "k", func)
    if update is not None and not callable(update):
        raise ValueError(f"{func}: `update` must be None or a function update(params, grads), "
                         f"got {type(update).__name__}")
    return x, y, h0, k


def rnn_tbptt(x, y, h0, params, k, update=None):
    """Truncated BPTT (k1 = k2 = k) over a long sequence: chunk by chunk, state carried, no gradient across chunks.

    Math: for each chunk [s, e): h_{s..e} from h_s (held constant);  L_chunk = mean cross-entropy over (t, n) in the
          chunk;  grads = dL_chunk/dparams by BPTT inside the chunk only;  update(params, grads);  h_s <- h_e

    The network is an Elman RNN (tanh) with an affine output and softmax cross-entropy at every step. The
    state at the end of one chunk is the initial state of the next, so the forward pass is exactly the
    full sequence's; but the gradient of a chunk's loss stops at the chunk's first step, so no dependency
    longer than k steps gets any gradient. `params` is read afresh for every chunk, so an `update` that
    changes it in place (an optimiser step) trains the network as it goes.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)        one long input sequence (or N of them side by side)
    y : ndarray of int, shape (T, N)    target class at every step, in [0, V)
    h0 : ndarray, shape (N, H)          the state before the first step
    params : dict with W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,), W (V, H), b (V,)
    k : int >= 1, the chunk length (the last chunk may be shorter)
    update : optional callable update(params, grads), called after every chunk with a dict `grads`
             holding the chunk's gradients under the same keys and shapes as `params`

    Returns
    -------
    losses : ndarray, shape (ceil(T / k),)   the mean loss of every chunk, computed before its update
    h_last : ndarray, shape (N, H)           the state after the last step

    Book: chapter 3, section "Truncated BPTT".
    """
    x, y, h0, k = _check_tbptt_inputs(x, y, h0, params, k, update)
    losses_per_chunk = []
    h = h0  # the carried state: an input of the next chunk, a constant for its backward
    for start, stop in chunk_bounds(x.shape[0], k):
        p = params  # read afresh: `update` may have changed it in place
        hs, cache = rnn.rnn_forward(x[start:stop], h, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])
        logits, out_cache = layers.affine_forward(hs, p["W"], p["b"])
        loss, dlogits = losses.softmax_cross_entropy(logits, y[start:stop])
        dhs, dW, db = layers.affine_backward(dlogits, out_cache)
        _, _, dW_ih, dW_hh, db_ih, db_hh = rnn.rnn_backward(dhs, cache)  # dh0 is dropped: the truncation
        losses_per_chunk.append(loss)
        if update is not None:
            update(params, {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "W": dW, "b": db})
        h = hs[-1]
    return np.array(losses_per_chunk), h
