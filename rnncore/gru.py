"""The GRU layer in torch's "reset-after" form (gates r, z, n): one step and a whole sequence, forward and backward.

Also the paper's form (Cho et al., 2014), forward only, for comparison: it applies the reset gate before the
W_hn product and gives different numbers.
"""

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


class GRUStepCache(NamedTuple):
    """Values `gru_step_backward` needs: the inputs of the step, its gates and the hidden part of n."""

    x_t: np.ndarray
    h_prev: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    ah_n: np.ndarray


class GRUCache(NamedTuple):
    """Values `gru_backward` needs: the inputs, the initial state, the gates, the hidden part of n and every state."""

    x: np.ndarray
    h0: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    gates: np.ndarray
    ah_n: np.ndarray
    hs: np.ndarray


def _check_step_inputs(func, x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh, G=3, name="3H")
    H, D = W_hh.shape[1], W_ih.shape[1]
    x_t, h_prev = check_step_inputs(func, D, H, x_t, h_prev=h_prev)
    return x_t, h_prev, W_ih, W_hh, b_ih, b_hh


def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """One time step of a GRU, exactly as `torch.nn.GRUCell` computes it (reset gate applied after W_hn h + b_hn).

    Math: r = sigma(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr);  z = sigma(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz);
          n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn));  h_t = (1 - z) * n + z * h_{t-1}

    Parameters
    ----------
    x_t : ndarray, shape (N, D)        inputs at step t
    h_prev : ndarray, shape (N, H)     hidden state h_{t-1}
    W_ih : ndarray, shape (3H, D)      input-to-hidden weights, gate blocks in torch's order r, z, n
    W_hh : ndarray, shape (3H, H)      hidden-to-hidden weights, same block order
    b_ih, b_hh : ndarray, shape (3H,)  the two biases, as in torch (b_hn stays inside the reset product)

    Returns
    -------
    h_next : ndarray, shape (N, H)     hidden state h_t
    cache : values needed by `gru_step_backward`

    Book: chapter 5, section "The GRU cell", the GRU step.
    """
    x_t, h_prev, W_ih, W_hh, b_ih, b_hh = _check_step_inputs(
        "gru_step_forward", x_t, h_prev, W_ih, W_hh, b_ih, b_hh
    )
    ax_r, ax_z, ax_n = np.split(x_t @ W_ih.T + b_ih, 3, axis=-1)  # input parts, each (N, H)
    ah_r, ah_z, ah_n = np.split(h_prev @ W_hh.T + b_hh, 3, axis=-1)  # hidden parts, each (N, H)
    r = sigmoid(ax_r + ah_r)
    z = sigmoid(ax_z + ah_z)
    n = np.tanh(ax_n + r * ah_n)
    h_next = (1 - z) * n + z * h_prev
    return h_next, GRUStepCache(x_t, h_prev, W_ih, W_hh, r, z, n, ah_n)


def gru_step_backward(dh_next, cache):
    """Backpropagate through one GRU step: the gradients of its inputs and parameters.

    Math: da_n = dh_t * (1 - z) * (1 - n^2);  da_z = dh_t * (h_{t-1} - n) * z(1 - z);
          da_r = da_n * (h_{t-1} W_hn^T + b_hn) * r(1 - r);
          dax = [da_r, da_z, da_n] (input parts);  dah = [da_r, da_z, da_n * r] (hidden parts);
          dx_t = dax W_ih;  dh_{t-1} = dah W_hh + dh_t * z;  dW_ih = dax^T x_t;  dW_hh = dah^T h_{t-1};
          db_ih = sum_n dax;  db_hh = sum_n dah

    Parameters
    ----------
    dh_next : ndarray, shape (N, H)   gradient of the loss with respect to h_t
    cache : the cache returned by `gru_step_forward`

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dW_ih : ndarray, shape (3H, D)
    dW_hh : ndarray, shape (3H, H)
    db_ih, db_hh : ndarray, shape (3H,)   different in their n blocks: only b_hn is scaled by r

    Book: chapter 5, section "The GRU backward", the gradients of one GRU step.
    """
    func = "gru_step_backward"
    check_cache(cache, GRUStepCache, func, "gru_step_forward")
    x_t, h_prev, W_ih, W_hh, r, z, n, ah_n = cache
    dh_next = as_float_array("dh_next", dh_next, func)
    check_shape("dh_next", dh_next, h_prev.shape, func, "(N, H)")

    da_n = dh_next * (1 - z) * (1 - n * n)  # back through h_t = (1 - z) n + z h_{t-1}, then tanh
    da_z = dh_next * (h_prev - n) * z * (1 - z)
    da_r = da_n * ah_n * r * (1 - r)
    dax = np.concatenate((da_r, da_z, da_n), axis=-1)  # (N, 3H)
    dah = np.concatenate((da_r, da_z, da_n * r), axis=-1)  # the reset gate scales the hidden part of n
    dx_t = dax @ W_ih
    dh_prev = dah @ W_hh + dh_next * z  # through the three gates, and directly through z * h_{t-1}
    dW_ih = dax.T @ x_t
    dW_hh = dah.T @ h_prev
    db_ih = dax.sum(axis=0)
    db_hh = dah.sum(axis=0)
    return dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh


def gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    """Run a GRU over a whole time-major sequence, as a one-layer `torch.nn.GRU` does.

    Math: for t = 1..T, starting from h0:  r, z = sigma(x_t W_i{r,z}^T + b_i{r,z} + h_{t-1} W_h{r,z}^T + b_h{r,z});
          n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn));  h_t = (1 - z) * n + z * h_{t-1}

    The input parts x_t W_ih^T + b_ih do not depend on h, so they are computed for every step in one product
    before the loop; in the loop one sigmoid covers r and z together.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)       the input sequence, time first
    h0 : ndarray, shape (N, H)         initial hidden state
    W_ih : ndarray, shape (3H, D)      gate blocks r, z, n
    W_hh : ndarray, shape (3H, H)
    b_ih, b_hh : ndarray, shape (3H,)

    Returns
    -------
    hs : ndarray, shape (T, N, H)      the hidden state at every step (hs[-1] is torch's h_n)
    cache : values needed by `gru_backward`

    Book: chapter 5, section "The GRU cell", the GRU step.
    """
    func = "gru_forward"
    W_ih, W_hh, b_ih, b_hh = _check_weights(func, W_ih, W_hh, b_ih, b_hh, G=3, name="3H")
    H, D = W_hh.shape[1], W_ih.shape[1]
    x, h0 = check_sequence_inputs(func, D, H, x, h0=h0)
    T, N = x.shape[:2]

    dtype = common_dtype(x, h0, W_ih, W_hh, b_ih, b_hh)
    # The sigmoid of r and z is computed as sigma(a) = (1 + tanh(a / 2)) / 2, cheaper than exp and as stable: their
    # weight and bias columns are halved once (exact: a power of two), then tanh and u / 2 + 1/2 give both gates.
    half = np.ones(3 * H, dtype=dtype)  # 1/2 on the r and z columns
    half[: 2 * H] = 0.5
    ax = (x.reshape(T * N, D) @ (W_ih.T * half)).reshape(T, N, 3 * H)  # input parts, (T, N, 3H)
    ax += b_ih * half  # in place: adding into a new (T, N, 3H) array costs more than the product
    ax_rz, ax_n = ax[..., : 2 * H], ax[..., 2 * H :]
    W_hhT = np.ascontiguousarray(W_hh.T * half)  # (H, 3H); a C-ordered right operand is the faster product
    b_hh = b_hh * half
    gates = np.empty((T, N, 3 * H), dtype=dtype)  # activated gates r, z, n of every step
    r, z, n = np.split(gates, 3, axis=-1)  # views into `gates`, each (T, N, H)
    rz = gates[..., : 2 * H]  # r and z side by side, (T, N, 2H)
    ah = np.empty((N, 3 * H), dtype=dtype)  # hidden parts h_{t-1} W_hh^T + b_hh of the current step
    ah_n = np.empty((T, N, H), dtype=dtype)  # h_{t-1} W_hn^T + b_hn of every step, which the backward needs
    hs = np.empty((T, N, H), dtype=dtype)
    h = h0
    for t in range(T):
        np.matmul(h, W_hhT, out=ah)
        ah += b_hh
        np.add(ax_rz[t], ah[:, : 2 * H], out=rz[t])  # halved pre-activations of r and z
        np.tanh(rz[t], out=rz[t])
        rz[t] *= 0.5
        rz[t] += 0.5  # now sigma of the pre-activations
        ah_n[t] = ah[:, 2 * H :]
        n[t] = np.tanh(ax_n[t] + r[t] * ah_n[t])
        h = hs[t] = n[t] + z[t] * (h - n[t])  # (1 - z) n + z h_{t-1}, one operation fewer
    return hs, GRUCache(x, h0, W_ih, W_hh, gates, ah_n, hs)


def gru_backward(dhs, cache):
    """Backpropagation through time for `gru_forward`: gradients of the inputs, h0 and the parameters.

    Math: dh_t = dhs[t] + dah_{t+1} W_hh + dh_{t+1} * z_{t+1}  (upstream plus carried);  dax_t, dah_t as in
          `gru_step_backward`;  dW_ih = sum_t dax_t^T x_t;  dW_hh = sum_t dah_t^T h_{t-1};
          db_ih = sum_t sum_n dax_t;  db_hh = sum_t sum_n dah_t;  dh0 = dah_1 W_hh + dh_1 * z_1

    Parameters
    ----------
    dhs : ndarray, shape (T, N, H)   upstream gradient of every hs[t], from the loss at each step
                                     (not the gradient carried between steps, which this computes)
    cache : the cache returned by `gru_forward`

    Returns
    -------
    dx : ndarray, shape (T, N, D)
    dh0 : ndarray, shape (N, H)
    dW_ih : ndarray, shape (3H, D)
    dW_hh : ndarray, shape (3H, H)
    db_ih, db_hh : ndarray, shape (3H,)

    Book: chapter 5, section "The GRU backward", the GRU's carried gradient.
    """
    func = "gru_backward"
    check_cache(cache, GRUCache, func, "gru_forward")
    x, h0, W_ih, W_hh, gates, ah_n, hs = cache
    dhs = as_float_array("dhs", dhs, func)
    check_shape("dhs", dhs, hs.shape, func, "(T, N, H)")
    T, N, H = hs.shape
    dtype = np.result_type(gates, dhs)

    r, z, n = np.split(gates, 3, axis=-1)  # each (T, N, H)
    dax = np.empty_like(gates, dtype=dtype)  # gradients of the input parts, (T, N, 3H)
    dah = np.empty_like(gates, dtype=dtype)  # gradients of the hidden parts, (T, N, 3H)
    dax_r, dax_z, dax_n = np.split(dax, 3, axis=-1)  # views, each (T, N, H)
    dah_n = dah[..., 2 * H :]
    dh = np.zeros((N, H), dtype=dtype)  # gradient carried back from step t+1
    # step by step: a step's arrays stay in the CPU cache, faster here than whole-sequence passes
    for t in range(T - 1, -1, -1):
        h_prev = hs[t - 1] if t else h0
        dh_t = dhs[t] + dh
        np.multiply(dh_t * (1 - z[t]), 1 - n[t] * n[t], out=dax_n[t])  # back through (1 - z) n, then tanh
        np.multiply(dax_n[t] * ah_n[t], r[t] * (1 - r[t]), out=dax_r[t])
        np.multiply(dh_t * (h_prev - n[t]), z[t] * (1 - z[t]), out=dax_z[t])
        dah[t, :, : 2 * H] = dax[t, :, : 2 * H]  # r and z: the same gradient for both parts
        np.multiply(dax_n[t], r[t], out=dah_n[t])  # the reset gate scales the hidden part of n
        dh = dah[t] @ W_hh + dh_t * z[t]
    h_prevs = np.concatenate([h0[None], hs[:-1]])  # h_{t-1} for every t, (T, N, H)
    dax_all, dah_all = dax.reshape(T * N, 3 * H), dah.reshape(T * N, 3 * H)  # rows: sums become products
    dx = (dax_all @ W_ih).reshape(x.shape)
    dW_ih = dax_all.T @ x.reshape(T * N, -1)
    dW_hh = dah_all.T @ h_prevs.reshape(T * N, H)
    db_ih = dax_all.sum(axis=0)
    db_hh = dah_all.sum(axis=0)
    return dx, dh, dW_ih, dW_hh, db_ih, db_hh


def gru_step_forward_cho(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """One GRU step in the paper's form (Cho et al., 2014), with the reset gate applied before the W_hn product.

    Math: r, z as in `gru_step_forward`;  n = tanh(x_t W_in^T + b_in + (r * h_{t-1}) W_hn^T + b_hn);
          h_t = (1 - z) * n + z * h_{t-1}

    The book compares this with torch's "reset-after" form (`gru_step_forward`), which torch's documentation says
    "differs on purpose for efficiency": for every input the two agree only when W_hn is diagonal and b_hn = 0;
    otherwise the same weights give different numbers. Forward only; the layout is torch's (r, z, n blocks).

    Parameters
    ----------
    x_t : ndarray, shape (N, D)
    h_prev : ndarray, shape (N, H)
    W_ih : ndarray, shape (3H, D)
    W_hh : ndarray, shape (3H, H)
    b_ih, b_hh : ndarray, shape (3H,)

    Returns
    -------
    h_next : ndarray, shape (N, H)

    Book: chapter 5, section "The GRU cell", Cho et al.'s candidate.
    """
    x_t, h_prev, W_ih, W_hh, b_ih, b_hh = _check_step_inputs(
        "gru_step_forward_cho", x_t, h_prev, W_ih, W_hh, b_ih, b_hh
    )
    ax_r, ax_z, ax_n = np.split(x_t @ W_ih.T + b_ih, 3, axis=-1)  # input parts, each (N, H)
    W_hr, W_hz, W_hn = np.split(W_hh, 3, axis=0)  # each (H, H)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    r = sigmoid(ax_r + h_prev @ W_hr.T + b_hr)
    z = sigmoid(ax_z + h_prev @ W_hz.T + b_hz)
    n = np.tanh(ax_n + (r * h_prev) @ W_hn.T + b_hn)  # reset before the product: the paper's form
    return (1 - z) * n + z * h_prev
