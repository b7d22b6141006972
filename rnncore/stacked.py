"""Stacked and bidirectional recurrent layers (RNN, LSTM, GRU) built from the one-layer sequence functions, as torch.

The parameters are one dict keyed by torch's names (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`,
`..._reverse` for the reverse direction, `_l1`, `_l2`, ... for higher layers), so it can be filled straight from
`module.named_parameters()`. Layers and directions are read from the keys; `cell` says which layer it is.
"""

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_cache, check_ndim, check_shape, common_dtype
from .gru import gru_backward, gru_forward
from .init import GATES
from .lstm import lstm_backward, lstm_forward
from .rnn import _check_nonlinearity, rnn_backward, rnn_forward


class StackedCache(NamedTuple):
    """Values `stacked_backward` needs: the configuration, each layer-direction's cache and the dropout masks."""

    cell: str
    num_layers: int
    num_directions: int
    bias: bool
    shapes: tuple  # (T, N, D, H)
    caches: tuple  # one per (layer, direction), in torch's order
    masks: tuple  # one per layer: the scaled dropout mask applied to its output, or None


def stacked_param_names(num_layers=1, bidirectional=False, bias=True):
    """Torch's parameter names of a stacked recurrent module, in torch's order (`module.named_parameters()`).

    Returns
    -------
    names : list of str, e.g. ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse', ...]

    Book: chapter 6, section "Stacked and bidirectional layers".
    """
    names = []
    for l in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            names += [f"weight_ih_l{l}{suffix}", f"weight_hh_l{l}{suffix}"]
            if bias:
                names += [f"bias_ih_l{l}{suffix}", f"bias_hh_l{l}{suffix}"]
    return names


def _check_cell(cell, nonlinearity, func, name="cell"):
    if cell not in GATES:
        raise ValueError(f"{func}: `{name}` must be one of {sorted(GATES)}, got {cell!r}")
    _check_nonlinearity(nonlinearity, func)
    if cell != "rnn" and nonlinearity != "tanh":
        raise ValueError(f"{func}: `nonlinearity` applies only to {name}='rnn', got {nonlinearity!r} "
                         f"with {name}={cell!r}")


def _check_params(params, cell, func):
    """Read (num_layers, num_directions, bias, D, H) from torch's keys and check every shape; return them and params."""
    if not isinstance(params, dict):
        raise ValueError(f"{func}: `params` must be a dict of torch's names -> arrays, got {type(params).__name__}")
    num_layers = 0
    while f"weight_ih_l{num_layers}" in params:
        num_layers += 1
    bidirectional = "weight_ih_l0_reverse" in params
    bias = "bias_ih_l0" in params
    expected = stacked_param_names(num_layers, bidirectional, bias)
    missing = [k for k in expected if k not in params]
    unexpected = sorted(k for k in params if k not in expected)
    if num_layers == 0 or missing or unexpected:
        raise ValueError(f"{func}: `params` must hold torch's names for {num_layers or 'at least one'} layer(s) "
                         f"(e.g. 'weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'); "
                         f"missing {missing}, unexpected {unexpected}")
    p = {k: as_float_array(f"params[{k!r}]", params[k], func) for k in expected}
    G, nd = GATES[cell], 2 if bidirectional else 1
    check_ndim("params['weight_hh_l0']", p["weight_hh_l0"], 2, "(G*H, H)", func)
    H = p["weight_hh_l0"].shape[1]
    check_ndim("params['weight_ih_l0']", p["weight_ih_l0"], 2, "(G*H, D)", func)
    D = p["weight_ih_l0"].shape[1]
    for k, arr in p.items():
        kind, layer = k.split("_l")[0], int(k.split("_l")[1].split("_")[0])
        if kind == "weight_ih":
            D_l, letters = (D, "(G*H, D)") if layer == 0 else (nd * H, f"(G*H, {nd}*H)")
            check_shape(f"params[{k!r}]", arr, (G * H, D_l), func, letters)
        elif kind == "weight_hh":
            check_shape(f"params[{k!r}]", arr, (G * H, H), func, "(G*H, H)")
        else:
            check_shape(f"params[{k!r}]", arr, (G * H,), func, "(G*H,)")
    return num_layers, nd, bias, D, H, p


def _check_dropout(dropout, rng, num_layers, func):
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
        raise ValueError(f"{func}: `dropout` must be a number in [0, 1], got {dropout!r}")
    if dropout > 0 and num_layers > 1 and not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: `rng` must be a numpy.random.Generator when dropout > 0 "
                         f"(it draws the masks), got {type(rng).__name__}")
    return float(dropout)


def stacked_forward(x, hx, params, cell="rnn", nonlinearity="tanh", dropout=0.0, rng=None):
    """Run a stacked, optionally bidirectional RNN, LSTM or GRU over a time-major sequence, as torch's modules do.

    Math: layer l, direction fwd: h^{l}_{1..T} = cell(u^{l}_{1..T});  reverse: the same cell on u^{l}_{T..1},
          its outputs flipped back;  y^{l}_t = [h^{l,fwd}_t, h^{l,rev}_t];  u^{0} = x,
          u^{l+1} = y^{l} * m^{l} / (1 - p)  with m^{l} ~ Bernoulli(1 - p) (dropout, not after the last layer)

    Parameters
    ----------
    x : ndarray, shape (T, N, D)            the input sequence, time first
    hx : ndarray, shape (S, N, H), or None  initial hidden states, S = num_layers * num_directions, in torch's order
                                            (layer 0 fwd, layer 0 reverse, layer 1 fwd, ...); zeros if None.
                                            For cell="lstm" a pair (h0, c0) of such arrays, or None.
    params : dict of torch's names -> arrays: weight_ih_l{l}[_reverse] (G*H, D or num_directions*H),
             weight_hh_l{l}[_reverse] (G*H, H), and bias_ih_l{l}[_reverse], bias_hh_l{l}[_reverse] (G*H,) unless the
             module has no biases (then they are held at zero). Layers, directions and bias are read from the keys.
    cell : "rnn", "lstm" or "gru"
    nonlinearity : "tanh" or "relu" (cell="rnn" only)
    dropout : probability p in [0, 1] of zeroing each output of every layer but the last (inverted dropout)
    rng : numpy.random.Generator, needed when dropout > 0 and there is more than one layer

    Returns
    -------
    out : ndarray, shape (T, N, num_directions * H)   the last layer's output, [forward, reverse] on the last axis
    hx_n : ndarray, shape (S, N, H)                   the final hidden states (a pair (h_n, c_n) for the LSTM);
                                                      a reverse direction's final state is its state at t = 1
    cache : values needed by `stacked_backward`

    Book: chapter 6, section "Stacked and bidirectional layers".
    """
    func = "stacked_forward"
    _check_cell(cell, nonlinearity, func)
    L, nd, bias, D, H, p = _check_params(params, cell, func)
    dropout = _check_dropout(dropout, rng, L, func)
    x = as_float_array("x", x, func)
    check_ndim("x", x, 3, "(T, N, D)", func)
    T, N = x.shape[:2]
    check_shape("x", x, (T, N, D), func, "(T, N, D)")
    dtype = common_dtype(x, *p.values())
    S = L * nd
    if cell == "lstm":
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"{func}: `hx` must be a pair (h0, c0) or None for an LSTM, got {type(hx).__name__}")
        h0, c0 = hx
    else:
        h0, c0 = hx, None
    states = {"h0": h0, "c0": c0} if cell == "lstm" else {"h0": h0}
    for name, s in states.items():
        s = np.zeros((S, N, H), dtype) if s is None else as_float_array(name, s, func)
        check_shape(name, s, (S, N, H), func, "(num_layers * num_directions, N, H)")
        states[name] = s

    caches, masks, h_n, c_n = [], [], [], []
    u = x  # the input of the current layer
    for l in range(L):
        outs = []
        for d in range(nd):
            k, sfx = l * nd + d, "_reverse" if d else ""
            W_ih, W_hh = p[f"weight_ih_l{l}{sfx}"], p[f"weight_hh_l{l}{sfx}"]
            zero = np.zeros(W_hh.shape[0], W_hh.dtype)  # no bias: held at zero
            b_ih, b_hh = (p[f"bias_ih_l{l}{sfx}"], p[f"bias_hh_l{l}{sfx}"]) if bias else (zero, zero)
            u_d = u if d == 0 else u[::-1]  # the reverse direction reads time backwards
            if cell == "lstm":
                hs, cs, cache = lstm_forward(u_d, states["h0"][k], states["c0"][k], W_ih, W_hh, b_ih, b_hh)
                c_n.append(cs[-1])
            elif cell == "gru":
                hs, cache = gru_forward(u_d, states["h0"][k], W_ih, W_hh, b_ih, b_hh)
            else:
                hs, cache = rnn_forward(u_d, states["h0"][k], W_ih, W_hh, b_ih, b_hh, nonlinearity)
            h_n.append(hs[-1])
            caches.append(cache)
            outs.append(hs if d == 0 else hs[::-1])  # flip the reverse outputs back into time order
        y = np.concatenate(outs, axis=-1) if nd == 2 else outs[0]  # (T, N, nd*H)
        mask = None
        if dropout > 0 and l < L - 1:
            keep = rng.random(y.shape) < 1 - dropout  # each unit kept with probability 1 - p
            mask = keep.astype(y.dtype) * (1 / (1 - dropout) if dropout < 1 else 0.0)  # inverted dropout
            y = y * mask
        masks.append(mask)
        u = y
    hx_n = np.stack(h_n)
    if cell == "lstm":
        hx_n = (hx_n, np.stack(c_n))
    cache = StackedCache(cell, L, nd, bias, (T, N, D, H), tuple(caches), tuple(masks))
    return u, hx_n, cache


def stacked_backward(dout, cache, dhx_n=None):
    """Backpropagate through `stacked_forward`: gradients of the input, the initial states and every parameter.

    Math: per layer from the top: dy^{l} = du^{l+1} * m^{l} / (1 - p);  split dy^{l} into [dh^{fwd}, dh^{rev}];
          add dh_n to the last step each direction computed;  du^{l} = dx^{fwd} + flip(dx^{rev});
          the one-layer backward (`rnn_backward`, `lstm_backward`, `gru_backward`) does the rest

    Parameters
    ----------
    dout : ndarray, shape (T, N, num_directions * H)   upstream gradient of `out`
    cache : the cache returned by `stacked_forward`
    dhx_n : ndarray, shape (S, N, H), or None    upstream gradient of `hx_n` (a pair (dh_n, dc_n) for the LSTM,
                                                  either of which may be None); zero if None

    Returns
    -------
    dx : ndarray, shape (T, N, D)
    dhx0 : ndarray, shape (S, N, H)     gradient of the initial states (a pair (dh0, dc0) for the LSTM)
    grads : dict of torch's names -> arrays, one per parameter in `params` (no bias entries without biases),
            in torch's order

    Book: chapter 6, section "Stacked and bidirectional layers".
    """
    func = "stacked_backward"
    check_cache(cache, StackedCache, func, "stacked_forward")
    cell, L, nd, bias, (T, N, D, H), caches, masks = cache
    S = L * nd
    dout = as_float_array("dout", dout, func)
    check_shape("dout", dout, (T, N, nd * H), func, "(T, N, num_directions * H)")
    if cell == "lstm":
        if dhx_n is None:
            dhx_n = (None, None)
        if not isinstance(dhx_n, (tuple, list)) or len(dhx_n) != 2:
            raise ValueError(f"{func}: `dhx_n` must be a pair (dh_n, dc_n) or None for an LSTM, "
                             f"got {type(dhx_n).__name__}")
        named = {"dh_n": dhx_n[0], "dc_n": dhx_n[1]}
    else:
        named = {"dh_n": dhx_n}
    for name, g in named.items():
        g = np.zeros((S, N, H), dout.dtype) if g is None else as_float_array(name, g, func)
        check_shape(name, g, (S, N, H), func, "(num_layers * num_directions, N, H)")
        named[name] = g

    grads, dh0, dc0 = {}, [None] * S, [None] * S
    dy = dout  # gradient of the current layer's (dropped-out) output
    for l in range(L - 1, -1, -1):
        if masks[l] is not None:
            dy = dy * masks[l]  # back through the dropout mask and its 1 / (1 - p)
        du = 0
        for d in range(nd):
            k, sfx = l * nd + d, "_reverse" if d else ""
            dhs = dy[..., d * H : (d + 1) * H]
            dhs = np.array(dhs if d == 0 else dhs[::-1])  # a copy, in the order this direction ran
            dhs[-1] += named["dh_n"][k]  # h_n is the last state this direction computed
            if cell == "lstm":
                du_d, dh0[k], dc0[k], dW_ih, dW_hh, db_ih, db_hh = lstm_backward(dhs, caches[k], named["dc_n"][k])
            else:
                backward = gru_backward if cell == "gru" else rnn_backward
                du_d, dh0[k], dW_ih, dW_hh, db_ih, db_hh = backward(dhs, caches[k])
            grads[f"weight_ih_l{l}{sfx}"], grads[f"weight_hh_l{l}{sfx}"] = dW_ih, dW_hh
            if bias:
                grads[f"bias_ih_l{l}{sfx}"], grads[f"bias_hh_l{l}{sfx}"] = db_ih, db_hh
            du = du + (du_d if d == 0 else du_d[::-1])  # both directions read the same input
        dy = du
    grads = {name: grads[name] for name in stacked_param_names(L, nd == 2, bias)}
    dhx0 = (np.stack(dh0), np.stack(dc0)) if cell == "lstm" else np.stack(dh0)
    return dy, dhx0, grads


def init_stacked(rng, D, H, cell="rnn", num_layers=1, bidirectional=False, bias=True, dtype=np.float64):
    """Parameters of a stacked recurrent module drawn like torch's: every entry from U(-1/sqrt(H), 1/sqrt(H)).

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness (entries drawn in torch's name order)
    D, H : input and hidden sizes (positive ints)
    cell : "rnn", "lstm" or "gru" (G = 1, 4 or 3 gate blocks)
    num_layers : positive int;  bidirectional : bool;  bias : bool (False: no bias entries)

    Returns
    -------
    params : dict of torch's names -> arrays, shapes as in `stacked_forward`

    Book: chapter 6, section "Stacked and bidirectional layers".
    """
    func = "init_stacked"
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    if cell not in GATES:
        raise ValueError(f"{func}: `cell` must be one of {sorted(GATES)}, got {cell!r}")
    for name, value in (("D", D), ("H", H), ("num_layers", num_layers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{func}: `{name}` must be a positive int, got {value!r}")
    G, nd, k = GATES[cell], 2 if bidirectional else 1, 1 / np.sqrt(H)
    params = {}
    for name in stacked_param_names(num_layers, bidirectional, bias):
        if name.startswith("weight_ih"):
            shape = (G * H, D if name.startswith("weight_ih_l0") else nd * H)
        else:
            shape = (G * H, H) if name.startswith("weight_hh") else (G * H,)
        params[name] = rng.uniform(-k, k, size=shape).astype(dtype)
    return params
