"""The LSTM layer: one step and a whole sequence, forward and backward, in torch's layout (gates i, f, g, o)."""

from typing import NamedTuple

import numpy as np

from ._checks import (
    as_float_array,
    check_cache,
    check_sequence_inputs,
    check_shape,
    check_step_inputs,
    common_dtype,
)
from .activations import sigmoid
from .rnn import _check_weights


class LSTMStepCache(NamedTuple):
    """Values `lstm_step_backward` needs: the inputs of the step, its four gates and the new cell state."""

    x_t: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c_next: np.ndarray


class LSTMCache(NamedTuple):
    """Values `lstm_backward` needs: the inputs, the initial states, the gates and every state."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    gates: np.ndarray
    hs: np.ndarray
    cs: np.ndarray


def _check_step_inputs(func, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh, G=4, name="4H")
    H, D = W_hh.shape[1], W_ih.shape[1]
    x_t, h_prev, c_prev = check_step_inputs(func, D, H, x_t, h_prev=h_prev, c_prev=c_prev)
    return x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh


def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """One time step of an LSTM, exactly as `torch.nn.LSTMCell` computes it.

    Math: [a_i, a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
          i = sigma(a_i), f = sigma(a_f), g = tanh(a_g), o = sigma(a_o);
          c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)

    Parameters
    ----------
    x_t : ndarray, shape (N, D)        inputs at step t
    h_prev : ndarray, shape (N, H)     hidden state h_{t-1}
    c_prev : ndarray, shape (N, H)     cell state c_{t-1}
    W_ih : ndarray, shape (4H, D)      input-to-hidden weights, gate blocks in torch's order i, f, g, o
    W_hh : ndarray, shape (4H, H)      hidden-to-hidden weights, same block order
    b_ih, b_hh : ndarray, shape (4H,)  the two biases, as in torch

    Returns
    -------
    h_next : ndarray, shape (N, H)     hidden state h_t
    c_next : ndarray, shape (N, H)     cell state c_t
    cache : values needed by `lstm_step_backward`

    Book: chapter 5, section "The LSTM cell", the LSTM step.
    """
    x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh = _check_step_inputs(
        "lstm_step_forward", x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh
    )
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh  # pre-activations of the four gates, (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=-1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next, LSTMStepCache(x_t, h_prev, c_prev, W_ih, W_hh, i, f, g, o, c_next)


def lstm_step_backward(dh_next, dc_next, cache):
    """Backpropagate through one LSTM step: the gradients of its inputs, both states and the parameters.

    Math: the gradients of the LSTM step with respect to x_t, h_{t-1}, c_{t-1} and the parameters, by the chain
          rule (c_t reaches the loss through h_t and through dc_next)

    Parameters
    ----------
    dh_next : ndarray, shape (N, H)   gradient of the loss with respect to h_t
    dc_next : ndarray, shape (N, H)   gradient of the loss with respect to c_t (from step t+1 or from c_n)
    cache : the cache returned by `lstm_step_forward`

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dc_prev : ndarray, shape (N, H)
    dW_ih : ndarray, shape (4H, D)
    dW_hh : ndarray, shape (4H, H)
    db_ih, db_hh : ndarray, shape (4H,)

    Book: chapter 5, section "The LSTM backward", the gradients of one LSTM step.
    """
    func = "lstm_step_backward"
    check_cache(cache, LSTMStepCache, func, "lstm_step_forward")
    x_t, h_prev, c_prev, W_ih, W_hh, i, f, g, o, c_next = cache
    dh_next = as_float_array("dh_next", dh_next, func)
    dc_next = as_float_array("dc_next", dc_next, func)
    check_shape("dh_next", dh_next, c_next.shape, func, "(N, H)")
    check_shape("dc_next", dc_next, c_next.shape, func, "(N, H)")

    tanh_c = np.tanh(c_next)
    dc = dc_next + dh_next * o * (1 - tanh_c * tanh_c)  # c_t reaches the loss directly and through h_t
    do = dh_next * tanh_c
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f
    # back through the gate nonlinearities, written from their outputs: sigma' = s(1 - s), tanh' = 1 - g^2
    da = np.concatenate((di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)), axis=-1)
    dx_t = da @ W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x_t
    dW_hh = da.T @ h_prev
    db_ih = da.sum(axis=0)
    db_hh = db_ih.copy()  # both biases enter the same sum
    return dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, db_hh


def lstm_forward(x, h0, c0, W_ih, W_hh, b_ih, b_hh):
    """Run an LSTM over a whole time-major sequence, as a one-layer `torch.nn.LSTM` does.

    Math: for t = 1..T, starting from h0 and c0:  i, f, g, o from a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
          c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)

    The input projection x_t W_ih^T + b_ih + b_hh does not depend on h, so it is computed for every step in
    one (T*N, D) product before the loop. In the loop all four gates come from one tanh, because
    sigma(a) = (1 + tanh(a / 2)) / 2: the i, f, o columns of the weights are halved once (exact: a power
    of two), so one tanh over the (N, 4H) pre-activation followed by u / 2 + 1/2 on those columns gives
    i, f, o, and the g column is tanh itself. Same numbers as `lstm_step_forward`, a quarter of the work.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)       the input sequence, time first
    h0 : ndarray, shape (N, H)         initial hidden state
    c0 : ndarray, shape (N, H)         initial cell state
    W_ih : ndarray, shape (4H, D)      gate blocks i, f, g, o
    W_hh : ndarray, shape (4H, H)
    b_ih, b_hh : ndarray, shape (4H,)

    Returns
    -------
    hs : ndarray, shape (T, N, H)      the hidden state at every step (hs[-1] is torch's h_n)
    cs : ndarray, shape (T, N, H)      the cell state at every step (cs[-1] is torch's c_n)
    cache : values needed by `lstm_backward`

    Book: chapter 5, section "The LSTM cell", the LSTM step.
    """
    func = "lstm_forward"
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh, G=4, name="4H")
    H, D = W_hh.shape[1], W_ih.shape[1]
    x, h0, c0 = check_sequence_inputs(func, D, H, x, h0=h0, c0=c0)
    T, N = x.shape[:2]

    dtype = common_dtype(x, h0, c0, W_ih, W_hh, b_ih, b_hh)
    # per column: 1/2 for the sigmoid gates i, f, o (sigma(a) = (1 + tanh(a/2)) / 2), 1 for the tanh gate g
    half = np.full(4 * H, 0.5, dtype=dtype)
    half[2 * H : 3 * H] = 1
    shift = half.copy()  # u / 2 + 1/2 on the i, f, o columns, u * 1 + 0 on g
    shift[2 * H : 3 * H] = 0
    ax = (x.reshape(T * N, D) @ (W_ih.T * half)).reshape(T, N, 4 * H)  # input part of every step, (T, N, 4H)
    ax += (b_ih + b_hh) * half  # in place: adding into a new (T, N, 4H) array costs more than the product
    W_hhT = np.ascontiguousarray(W_hh.T * half)  # (H, 4H); a C-ordered right operand is the faster product
    gates = np.empty((T, N, 4 * H), dtype=dtype)  # activated gates i, f, g, o of every step
    i, f, g, o = np.split(gates, 4, axis=-1)  # views into `gates`, each (T, N, H)
    hs = np.empty((T, N, H), dtype=dtype)
    cs = np.empty((T, N, H), dtype=dtype)
    h, c = h0, c0
    for t in range(T):
        a = np.matmul(h, W_hhT, out=gates[t])  # the (halved) pre-activation is built in place in gates[t]
        a += ax[t]
        np.tanh(a, out=a)
        a *= half  # now i, f, o are sigma(a) - 1/2 and g is tanh(a_g)
        a += shift
        c = cs[t] = f[t] * c + i[t] * g[t]
        h = hs[t] = o[t] * np.tanh(c)
    return hs, cs, LSTMCache(x, h0, c0, W_ih, W_hh, gates, hs, cs)


def lstm_backward(dhs, cache, dc_last=None):
    """Backpropagation through time for `lstm_forward`: gradients of the inputs, h0, c0 and the parameters.

    Math: dh_t = dhs[t] + da_{t+1} W_hh;  dc_t = dc_{t+1} * f_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)
          (with dc_last in place of dc_{t+1} * f_{t+1} at t = T);
          da_t = [dc_t g_t i_t(1 - i_t), dc_t c_{t-1} f_t(1 - f_t), dc_t i_t (1 - g_t^2), dh_t tanh(c_t) o_t(1 - o_t)];
          dW_ih = sum_t da_t^T x_t;  dW_hh = sum_t da_t^T h_{t-1};  db_ih = db_hh = sum_t sum_n da_t;
          dh0 = da_1 W_hh;  dc0 = dc_1 f_1

    Parameters
    ----------
    dhs : ndarray, shape (T, N, H)     upstream gradient of every hs[t], from the loss at each step
                                       (not the gradient carried between steps, which this computes)
    cache : the cache returned by `lstm_forward`
    dc_last : ndarray, shape (N, H), optional   upstream gradient of the final cell state c_T, as when
                                       torch's c_n is used in the loss; zero if None

    Returns
    -------
    dx : ndarray, shape (T, N, D)
    dh0 : ndarray, shape (N, H)
    dc0 : ndarray, shape (N, H)
    dW_ih : ndarray, shape (4H, D)
    dW_hh : ndarray, shape (4H, H)
    db_ih, db_hh : ndarray, shape (4H,)

    Book: chapter 5, section "The LSTM backward", the LSTM's carried gradients.
    """
    func = "lstm_backward"
    check_cache(cache, LSTMCache, func, "lstm_forward")
    x, h0, c0, W_ih, W_hh, gates, hs, cs = cache
    dhs = as_float_array("dhs", dhs, func)
    check_shape("dhs", dhs, hs.shape, func, "(T, N, H)")
    T, N, H = hs.shape
    if dc_last is None:
        dc_last = np.zeros((N, H), dtype=np.result_type(gates, dhs))
    dc_last = as_float_array("dc_last", dc_last, func)
    check_shape("dc_last", dc_last, (N, H), func, "(N, H)")
    dtype = np.result_type(gates, dhs, dc_last)

    i, f, g, o = np.split(gates, 4, axis=-1)  # each (T, N, H)
    tanh_c = np.tanh(cs)
    da = np.empty((T, N, 4 * H), dtype=dtype)  # gradients of the gates' pre-activations, blocks i, f, g, o
    da_i, da_f, da_g, da_o = np.split(da, 4, axis=-1)  # views into `da`, each (T, N, H)
    dh, dc = np.zeros((N, H), dtype=dtype), dc_last  # gradients carried back from step t+1
    # step by step rather than for all steps at once: a step's arrays stay in the CPU cache, which here is
    # faster than a few whole-sequence passes over (T, N, 4H) arrays
    for t in range(T - 1, -1, -1):
        c_prev = cs[t - 1] if t else c0
        dh_t = dhs[t] + dh
        dc_t = dc + dh_t * o[t] * (1 - tanh_c[t] * tanh_c[t])  # c_t reaches the loss through h_t and c_{t+1}
        np.multiply(dc_t * g[t], i[t] * (1 - i[t]), out=da_i[t])
        np.multiply(dc_t * c_prev, f[t] * (1 - f[t]), out=da_f[t])
        np.multiply(dc_t * i[t], 1 - g[t] * g[t], out=da_g[t])
        np.multiply(dh_t * tanh_c[t], o[t] * (1 - o[t]), out=da_o[t])
        dh = da[t] @ W_hh
        dc = dc_t * f[t]
    h_prevs = np.concatenate([h0[None], hs[:-1]])  # h_{t-1} for every t, (T, N, H)
    da_all = da.reshape(T * N, 4 * H)  # every step's da as rows: the sums over t and n become single products
    dx = (da_all @ W_ih).reshape(x.shape)
    dW_ih = da_all.T @ x.reshape(T * N, -1)
    dW_hh = da_all.T @ h_prevs.reshape(T * N, H)
    db_ih = da_all.sum(axis=0)
    db_hh = db_ih.copy()
    return dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh
