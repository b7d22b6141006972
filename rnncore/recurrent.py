"""A numpy twin of torch.nn.RNN, nn.LSTM and nn.GRU: torch's configuration, parameter names and call convention."""

import numpy as np

from ._checks import as_float_array, check_shape
from .stacked import _check_cell, _check_dropout, _check_params, init_stacked, stacked_backward, stacked_forward


class Recurrent:
    """A stacked, optionally bidirectional RNN, LSTM or GRU that takes and returns what the torch module does.

    Math: `stacked_forward` (time-major); with batch_first=True, x and the output are (N, T, .) and are transposed
          at the edges; h0/h_n are (S, N, H) either way, as in torch

    Parameters
    ----------
    mode : "rnn", "lstm" or "gru"
    input_size, hidden_size : D and H
    num_layers, nonlinearity ("tanh"/"relu", mode="rnn" only), bias, batch_first, dropout, bidirectional :
        as in torch's constructor
    params : dict of torch's names -> arrays (see `stacked_forward`); drawn with `init_stacked(rng, ...)` if None
    rng : numpy.random.Generator, needed only when `params` is None
    dtype : dtype of freshly drawn parameters

    Attributes: `params`, the configuration above, `training` (False: no dropout; see `train`).
    `forward(x, hx=None)` returns `(output, h_n)`, or `(output, (h_n, c_n))` for the LSTM; `backward(d_output,
    d_hx=None)` returns `(dx, d_hx0, grads)` for the last forward. An unbatched 2-D x (T, D) is accepted, as torch.

    Book: chapter 6, section "Stacked and bidirectional layers".
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, params=None, rng=None, dtype=np.float64):
        func = "Recurrent"
        _check_cell(mode, nonlinearity, func, "mode")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{func}: `{name}` must be a positive int, got {value!r}")
        self.mode, self.nonlinearity = mode, nonlinearity
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = _check_dropout(dropout, None, 1, func)
        if params is None:
            if not isinstance(rng, np.random.Generator):
                raise ValueError(f"{func}: `rng` must be a numpy.random.Generator when `params` is None (it draws "
                                 f"them), got {type(rng).__name__}")
            params = init_stacked(rng, input_size, hidden_size, mode, num_layers, bidirectional, bias, dtype)
        L, nd, has_bias, D, H, params = _check_params(params, mode, func)
        got = (L, nd == 2, has_bias, D, H)
        want = (self.num_layers, self.bidirectional, self.bias, self.input_size, self.hidden_size)
        if got != want:
            raise ValueError(f"{func}: `params` describe (num_layers, bidirectional, bias, input_size, hidden_size) "
                             f"= {got}, but the configuration is {want}")
        self.params = params  # float arrays in torch's order; forward and backward read them at every call
        self.training, self.rng, self._last = False, None, None

    def __repr__(self):
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, default in
                        (("num_layers", 1), ("nonlinearity", "tanh"), ("bias", True), ("batch_first", False),
                         ("dropout", 0.0), ("bidirectional", False)) if getattr(self, k) != default)
        return f"Recurrent({self.mode!r}, {self.input_size}, {self.hidden_size}{extra})"

    def train(self, rng):
        """Use dropout (if `dropout` > 0) in later forwards, drawing the masks from `rng`; returns the model."""
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"Recurrent.train: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")
        self.training, self.rng = True, rng
        return self

    def eval(self):
        """Switch dropout off (the default); returns the model."""
        self.training, self.rng = False, None
        return self

    def _check_states(self, value, arg, names, N, unbatched, func):
        """Check an hx-like argument (an array, or a pair for the LSTM) and return it batched, (S, N, H) each."""
        if value is None:
            return None
        lstm = self.mode == "lstm"
        if lstm and (not isinstance(value, (tuple, list)) or len(value) != 2):
            raise ValueError(f"{func}: `{arg}` must be a pair ({names[0]}, {names[1]}) for an LSTM, "
                             f"got {type(value).__name__}")
        S, H = self.num_layers * (2 if self.bidirectional else 1), self.hidden_size
        want, letters = ((S, H), "(num_layers * num_directions, H)") if unbatched else \
            ((S, N, H), "(num_layers * num_directions, N, H)")
        checked = []
        for name, s in zip(names, value if lstm else [value]):
            if s is not None:
                s = as_float_array(name, s, func)
                check_shape(name, s, want, func, letters)
                s = s[:, None] if unbatched else s  # a batch of one
            checked.append(s)
        return tuple(checked) if lstm else checked[0]

    def forward(self, x, hx=None):
        """Run the model like the torch module: `(output, h_n)`, or `(output, (h_n, c_n))` for the LSTM."""
        func = "Recurrent.forward"
        x = as_float_array("x", x, func)
        layout = "(N, T, D)" if self.batch_first else "(T, N, D)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{func}: `x` must be 2-D (T, D) or 3-D {layout}, got shape {x.shape}")
        unbatched = x.ndim == 2
        check_shape("x", x, (None,) * (x.ndim - 1) + (self.input_size,), func, "(T, D)" if unbatched else layout)
        if unbatched:
            x = x[:, None]  # a batch of one; torch ignores batch_first here
        elif self.batch_first:
            x = x.swapaxes(0, 1)  # (T, N, D)
        names = ("h0", "c0") if self.mode == "lstm" else ("hx",)
        hx = self._check_states(hx, "hx", names, x.shape[1], unbatched, func)
        dropout = self.dropout if self.training else 0.0
        out, hx_n, cache = stacked_forward(x, hx, self.params, self.mode, self.nonlinearity, dropout, self.rng)
        self._last = (cache, unbatched)
        if unbatched:
            out = out[:, 0]
            hx_n = tuple(s[:, 0] for s in hx_n) if self.mode == "lstm" else hx_n[:, 0]
        elif self.batch_first:
            out = out.swapaxes(0, 1)
        return out, hx_n

    __call__ = forward

    def backward(self, d_output, d_hx=None):
        """Gradients for the last forward: `(dx, d_hx0, grads)`, d_hx0 shaped like hx, grads keyed by torch's names.

        d_output is shaped like the output; d_hx (optional) like h_n, or a pair (dh_n, dc_n) for the LSTM.
        """
        func = "Recurrent.backward"
        if self._last is None:
            raise ValueError(f"{func}: call `forward` first; there is no forward pass to backpropagate through")
        cache, unbatched = self._last
        T, N, _, H = cache.shapes
        F = cache.num_directions * H
        d_output = as_float_array("d_output", d_output, func)
        if unbatched:
            check_shape("d_output", d_output, (T, F), func, "(T, num_directions * H)")
            d_output = d_output[:, None]
        elif self.batch_first:
            check_shape("d_output", d_output, (N, T, F), func, "(N, T, num_directions * H)")
            d_output = d_output.swapaxes(0, 1)
        else:
            check_shape("d_output", d_output, (T, N, F), func, "(T, N, num_directions * H)")
        names = ("dh_n", "dc_n") if self.mode == "lstm" else ("d_hx",)
        d_hx = self._check_states(d_hx, "d_hx", names, N, unbatched, func)
        dx, d_hx0, grads = stacked_backward(d_output, cache, d_hx)
        if unbatched:
            dx = dx[:, 0]
            d_hx0 = tuple(g[:, 0] for g in d_hx0) if self.mode == "lstm" else d_hx0[:, 0]
        elif self.batch_first:
            dx = dx.swapaxes(0, 1)
        return dx, d_hx0, grads
