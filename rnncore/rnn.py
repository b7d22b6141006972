"""The Elman recurrent layer: one step and a whole sequence, forward and backward, in torch's layout."""

from typing import NamedTuple

import numpy as np

from ._checks import (
    as_float_array,
    check_cache,
    check_ndim,
    check_sequence_inputs,
    check_shape,
    check_step_inputs,
    common_dtype,
)

_NONLINEARITIES = ("tanh", "relu")


class RNNStepCache(NamedTuple):
    """Values `rnn_step_backward` needs: the inputs of the step and its output."""

    x_t: np.ndarray
    h_prev: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    h_next: np.ndarray
    nonlinearity: str


class RNNCache(NamedTuple):
    """Values `rnn_backward` needs: the inputs, the initial state and every hidden state."""

    x: np.ndarray
    h0: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    hs: np.ndarray
    nonlinearity: str


def _check_nonlinearity(nonlinearity, func):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{func}: `nonlinearity` must be 'tanh' or 'relu', got {nonlinearity!r}")


def _phi(a, nonlinearity):
    """The activation: tanh or relu."""
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)


def _dphi(h, nonlinearity):
    """The activation's derivative, written from its output h = phi(a)."""
    return 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)


def _check_weights(func, W_ih, W_hh, b_ih, b_hh, G=1, name="G*H"):
    W_ih = as_float_array("W_ih", W_ih, func)
    W_hh = as_float_array("W_hh", W_hh, func)
    b_ih = as_float_array("b_ih", b_ih, func)
    b_hh = as_float_array("b_hh", b_hh, func)
    check_ndim("W_hh", W_hh, 2, f"({name}, H)", func)
    GH, H = W_hh.shape
    if GH != G * H:
        raise ValueError(f"{func}: `W_hh` must have shape ({name}, H) = ({G * H}, {H}), got {W_hh.shape}")
    check_ndim("W_ih", W_ih, 2, f"({name}, D)", func)
    check_shape("W_ih", W_ih, (G * H, None), func, f"({name}, D)")
    check_shape("b_ih", b_ih, (G * H,), func, f"({name},)")
    check_shape("b_hh", b_hh, (G * H,), func, f"({name},)")
    return W_ih, W_hh, b_ih, b_hh


def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    """One time step of an Elman RNN, exactly as `torch.nn.RNN` computes it.

    Math: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)   (relu instead of tanh if asked)

    Parameters
    ----------
    x_t : ndarray, shape (N, D)       inputs at step t
    h_prev : ndarray, shape (N, H)    hidden state h_{t-1}
    W_ih : ndarray, shape (H, D)      input-to-hidden weights
    W_hh : ndarray, shape (H, H)      hidden-to-hidden weights
    b_ih, b_hh : ndarray, shape (H,)  the two biases, as in torch
    nonlinearity : "tanh" or "relu"

    Returns
    -------
    h_next : ndarray, shape (N, H)    hidden state h_t
    cache : values needed by `rnn_step_backward`

    Book: chapter 2, section "The forward pass", the Elman step.
    """
    func = "rnn_step_forward"
    _check_nonlinearity(nonlinearity, func)
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh)
    H, D = W_ih.shape
    x_t, h_prev = check_step_inputs(func, D, H, x_t, h_prev=h_prev)

    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # pre-activation, (N, H)
    h_next = _phi(a, nonlinearity)
    h_next = h_next.astype(common_dtype(x_t, h_prev, W_ih, W_hh, b_ih, b_hh), copy=False)
    return h_next, RNNStepCache(x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)


def rnn_step_backward(dh_next, cache):
    """Backpropagate through one Elman step: the gradients of its inputs and parameters.

    Math: the gradients of h_t = phi(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), the Elman step, with respect to
          x_t, h_{t-1} and the parameters, by the chain rule through phi

    Parameters
    ----------
    dh_next : ndarray, shape (N, H)   gradient of the loss with respect to h_t
    cache : the cache returned by `rnn_step_forward`

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dW_ih : ndarray, shape (H, D)
    dW_hh : ndarray, shape (H, H)
    db_ih, db_hh : ndarray, shape (H,)

    Book: chapter 3, section "One step backward", the gradients of one Elman step.
    """
    func = "rnn_step_backward"
    check_cache(cache, RNNStepCache, func, "rnn_step_forward")
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dh_next = as_float_array("dh_next", dh_next, func)
    check_shape("dh_next", dh_next, h_next.shape, func, "(N, H)")

    da = dh_next * _dphi(h_next, nonlinearity)  # backprop through the activation
    dx_t = da @ W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x_t
    dW_hh = da.T @ h_prev
    db_ih = da.sum(axis=0)
    db_hh = db_ih.copy()  # both biases enter the same sum
    return dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh


def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    """Run an Elman RNN over a whole time-major sequence, as `torch.nn.RNN` does.

    Math: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)  for t = 1..T, starting from h0

    The input projection x_t W_ih^T + b_ih does not depend on h, so it is computed for every step in
    one product before the loop; the loop does only what must be sequential.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)      the input sequence, time first
    h0 : ndarray, shape (N, H)        initial hidden state
    W_ih : ndarray, shape (H, D)
    W_hh : ndarray, shape (H, H)
    b_ih, b_hh : ndarray, shape (H,)
    nonlinearity : "tanh" or "relu"

    Returns
    -------
    hs : ndarray, shape (T, N, H)     the hidden state at every step (hs[-1] is h_T)
    cache : values needed by `rnn_backward`

    Book: chapter 2, section "The forward pass", the Elman step.
    """
    func = "rnn_forward"
    _check_nonlinearity(nonlinearity, func)
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh)
    H, D = W_ih.shape
    x, h0 = check_sequence_inputs(func, D, H, x, h0=h0)
    T, N = x.shape[:2]

    dtype = common_dtype(x, h0, W_ih, W_hh, b_ih, b_hh)
    # one (T*N, D) @ (D, H) product for all steps (`x @ W_ih.T` on the 3-D array may run T small ones)
    ax = (x.reshape(T * N, D) @ W_ih.T).reshape(T, N, H)  # input part of every step, (T, N, H)
    ax += b_ih + b_hh  # in place: adding into a new (T, N, H) array costs more than the product
    hs = np.empty((T, N, H), dtype=dtype)
    h = h0
    for t in range(T):
        h = _phi(ax[t] + h @ W_hh.T, nonlinearity)
        hs[t] = h
    return hs, RNNCache(x, h0, W_ih, W_hh, hs, nonlinearity)


def rnn_backward(dhs, cache):
    """Backpropagation through time for `rnn_forward`: gradients of the inputs, h0 and the parameters.

    Math: the gradients of the loss with respect to x, h0 and the parameters shared by every Elman step, where
          dL/dh_t is the upstream dhs[t] plus what step t+1 carries back (the recursion for dL/dh_t)

    Parameters
    ----------
    dhs : ndarray, shape (T, N, H)   upstream gradient of every hs[t], from the loss at each step
                                     (not the gradient carried between steps, which this computes)
    cache : the cache returned by `rnn_forward`

    Returns
    -------
    dx : ndarray, shape (T, N, D)
    dh0 : ndarray, shape (N, H)
    dW_ih : ndarray, shape (H, D)
    dW_hh : ndarray, shape (H, H)
    db_ih, db_hh : ndarray, shape (H,)

    Book: chapter 3, section "The whole sequence backward", the recursion for dL/dh_t.
    """
    func = "rnn_backward"
    check_cache(cache, RNNCache, func, "rnn_forward")
    x, h0, W_ih, W_hh, hs, nonlinearity = cache
    dhs = as_float_array("dhs", dhs, func)
    check_shape("dhs", dhs, hs.shape, func, "(T, N, H)")
    T, N, H = hs.shape

    dphi = _dphi(hs, nonlinearity)  # (T, N, H)
    da = np.empty_like(dphi, dtype=np.result_type(dphi, dhs))
    dh = np.zeros((N, H), dtype=da.dtype)  # gradient carried back from step t+1
    for t in range(T - 1, -1, -1):
        da[t] = (dhs[t] + dh) * dphi[t]
        dh = da[t] @ W_hh
    h_prevs = np.concatenate([h0[None], hs[:-1]])  # h_{t-1} for every t, (T, N, H)
    da_all = da.reshape(T * N, H)  # every step's da as rows: the sums over t and n become single products
    dx = (da_all @ W_ih).reshape(x.shape)
    dW_ih = da_all.T @ x.reshape(T * N, -1)
    dW_hh = da_all.T @ h_prevs.reshape(T * N, H)
    db_ih = da.sum(axis=(0, 1))
    db_hh = db_ih.copy()
    return dx, dh, dW_ih, dW_hh, db_ih, db_hh
