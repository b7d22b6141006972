"""The catalogue of known mistakes: for each graded function, what students really get wrong, computed.

Each entry runs the same inputs through a deliberately wrong variant of the reference (a transposed
weight, a missing bias, the wrong activation, ...). When a student's output is wrong, the visible checks
compare it with every variant and, if one matches, say which mistake it is in a teaching assistant's words.
Entries are built from the reference, so they are locked like it while a student's function is graded.

Book: the "Checks that explain your mistakes" box of each chapter's graded notebook.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _lock
from .activations import log_softmax, sigmoid, softmax
from .init import GATES
from .layers import affine_forward
from .losses import softmax_cross_entropy
from .rnn import rnn_forward, rnn_step_forward


class Mistake(NamedTuple):
    """One known mistake of one graded function."""

    function: str  # the graded function, e.g. "rnn_step_forward"
    name: str  # short id, e.g. "W_hh not transposed"
    message: str  # what to tell the student: what their output equals, and what to check
    compute: Callable  # same signature as the reference; returns what the mistaken version returns


CATALOGUE: dict = {}


def mistake(function, name, message):
    """Register a mistaken variant of `function` (decorator); the variant is locked like the reference."""

    def register(compute):
        CATALOGUE.setdefault(function, []).append(Mistake(function, name, message, _lock.protect(compute)))
        return compute

    return register


def _close(got, candidate, atol=1e-6, rtol=1e-5):
    try:
        candidate = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == candidate.shape and bool(np.all(np.isclose(got, candidate, atol=atol, rtol=rtol)))


def diagnose(function, got, inputs, index=0):
    """The known mistakes of `function` whose output number `index` equals `got` on these inputs.

    Parameters
    ----------
    function : name of the graded function
    got : the student's output (already coerced to a float64 ndarray)
    inputs : dict of the keyword arguments the function was called with
    index : which element of the returned tuple `got` is (None if the function returns one value)

    Returns
    -------
    matches : list of Mistake (empty if none matches)
    """
    matches = []
    for entry in CATALOGUE.get(function, []):
        try:
            with np.errstate(all="ignore"):
                out = entry.compute(**inputs)
        except Exception:  # the mistake is impossible on these shapes (e.g. a transpose that cannot multiply)
            continue
        candidate = out if index is None else out[index]
        if _close(got, candidate):
            matches.append(entry)
    return matches


# ----------------------------------------------------------------------------------------- chapter 2
_FWD = "chapter 2, section \"The forward pass\""
_OUT = "chapter 2, section \"The output layer and the loss over time\""


@mistake("rnn_step_forward", "W_hh not transposed",
         "it equals what you get with `h_prev @ W_hh` instead of `h_prev @ W_hh.T`: torch stores W_hh as "
         f"(outputs, inputs), so with row vectors it is used transposed ({_FWD})")
def _step_W_hh_not_transposed(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh.T, b_ih, b_hh, nonlinearity)


@mistake("rnn_step_forward", "missing b_hh",
         f"it equals the step without `b_hh`: torch has two biases, add both `b_ih` and `b_hh` ({_FWD})")
def _step_missing_b_hh(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, 0 * b_hh, nonlinearity)


@mistake("rnn_step_forward", "missing b_ih",
         f"it equals the step without `b_ih`: torch has two biases, add both `b_ih` and `b_hh` ({_FWD})")
def _step_missing_b_ih(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, 0 * b_ih, b_hh, nonlinearity)


@mistake("rnn_step_forward", "no bias", f"it equals the step with no bias at all: add `b_ih` and `b_hh` ({_FWD})")
def _step_no_bias(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, 0 * b_ih, 0 * b_hh, nonlinearity)


@mistake("rnn_step_forward", "ignores h_prev",
         f"it equals the step with `h_prev` left out: the recurrent term `h_prev @ W_hh.T` is missing ({_FWD})")
def _step_ignores_h_prev(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, 0 * h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity)


@mistake("rnn_step_forward", "sigmoid instead of tanh",
         f"it equals the step with the logistic sigmoid where tanh belongs: use `np.tanh` ({_FWD})")
def _step_sigmoid(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return sigmoid(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh), None


@mistake("rnn_step_forward", "no nonlinearity",
         f"it equals the pre-activation `a` itself: apply tanh (or relu when asked) to it ({_FWD})")
def _step_linear(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, None


@mistake("rnn_step_forward", "nonlinearity argument ignored",
         f"it equals the tanh step although `nonlinearity=\"relu\"` was asked for: honour the argument ({_FWD})")
def _step_always_tanh(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    if nonlinearity == "tanh":
        raise ValueError("same as the reference")
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, "tanh")


@mistake("rnn_forward", "starts from zeros",
         f"it equals the sequence started from zeros instead of from `h0`: the first step must use `h0` ({_FWD})")
def _seq_zeros_not_h0(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(x, 0 * h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)


@mistake("rnn_forward", "states shifted by one step",
         "it holds h_0, ..., h_{T-1}: `hs[t]` must be the state *after* reading `x[t]`, so `hs[0]` is h_1, "
         f"not `h0` (store the new state after computing it) ({_FWD})")
def _seq_shifted_states(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    hs, cache = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)
    return np.concatenate([h0[None], hs[:-1]]), cache


@mistake("rnn_forward", "reads the previous input",
         f"it equals the sequence where step t reads `x[t-1]` (an off-by-one in time): step t reads `x[t]` ({_FWD})")
def _seq_previous_input(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(np.roll(x, 1, axis=0), h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)


@mistake("rnn_forward", "W_hh not transposed",
         f"it equals the sequence computed with `h @ W_hh` instead of `h @ W_hh.T` ({_FWD})")
def _seq_W_hh_not_transposed(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(x, h0, W_ih, W_hh.T, b_ih, b_hh, nonlinearity)


@mistake("rnn_forward", "state not carried",
         "every step starts again from `h0`: carry the state, so that step t uses the h computed at step t-1 "
         f"({_FWD})")
def _seq_not_carried(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    hs = np.stack([rnn_step_forward(x_t, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)[0] for x_t in x])
    return hs, None


@mistake("rnn_forward", "sigmoid instead of tanh",
         f"it equals the sequence with the logistic sigmoid where tanh belongs: use `np.tanh` ({_FWD})")
def _seq_sigmoid(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    h, hs = h0, []
    for x_t in x:
        h = sigmoid(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        hs.append(h)
    return np.stack(hs), None


@mistake("rnn_forward", "missing a bias",
         f"it equals the sequence with only one of the two biases: add both `b_ih` and `b_hh` ({_FWD})")
def _seq_one_bias(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(x, h0, W_ih, W_hh, b_ih, 0 * b_hh, nonlinearity)


@mistake("affine_forward", "missing bias", f"it equals `h @ W.T` without the bias `b` ({_OUT})")
def _affine_no_bias(h, W, b):
    return affine_forward(h, W, 0 * b)


@mistake("affine_forward", "softmax applied",
         f"it equals the softmax of the logits: return the raw scores; the loss applies the softmax ({_OUT})")
def _affine_softmax(h, W, b):
    y, cache = affine_forward(h, W, b)
    return softmax(y), cache


@mistake("affine_forward", "bias subtracted", f"it equals `h @ W.T - b`: the bias is added ({_OUT})")
def _affine_minus_bias(h, W, b):
    return affine_forward(h, W, -b)


@mistake("affine_forward", "tanh applied",
         f"it equals tanh of the logits: the output layer is affine, with no activation ({_OUT})")
def _affine_tanh(h, W, b):
    y, cache = affine_forward(h, W, b)
    return np.tanh(y), cache


@mistake("affine_forward", "ReLU applied",
         f"it equals relu of the logits: the output layer is affine, with no activation ({_OUT})")
def _affine_relu(h, W, b):
    y, cache = affine_forward(h, W, b)
    return np.maximum(y, 0), cache


def _onehot(y, V):
    return np.eye(V)[y]


def _mask_or_ones(y, mask):
    return np.ones(np.shape(y)) if mask is None else np.asarray(mask, dtype=np.float64)


@mistake("softmax_cross_entropy", "summed, not averaged",
         f"it equals the loss summed over positions: divide by M, the number of unmasked positions ({_OUT})")
def _ce_sum(logits, y, mask=None):
    m = _mask_or_ones(y, mask)
    loss, d = softmax_cross_entropy(logits, y, mask)
    return loss * m.sum(), d * m.sum()


@mistake("softmax_cross_entropy", "divided by T*N",
         "it equals the loss divided by every position, padding included: divide by M = mask.sum(), the "
         f"number of real positions ({_OUT})")
def _ce_all_positions(logits, y, mask=None):
    m = _mask_or_ones(y, mask)
    if m.all():
        raise ValueError("same as the reference without padding")
    loss, d = softmax_cross_entropy(logits, y, mask)
    return loss * m.sum() / m.size, d * m.sum() / m.size


@mistake("softmax_cross_entropy", "mask ignored",
         f"it equals the loss with the padding counted as real data: multiply by the mask and divide by its sum "
         f"({_OUT})")
def _ce_mask_ignored(logits, y, mask=None):
    if mask is None or np.all(mask):
        raise ValueError("same as the reference without padding")
    return softmax_cross_entropy(logits, y, None)


@mistake("softmax_cross_entropy", "gradient sign flipped",
         f"your `dlogits` equals onehot - softmax: the gradient of -log p is softmax - onehot ({_OUT})")
def _ce_sign(logits, y, mask=None):
    loss, d = softmax_cross_entropy(logits, y, mask)
    return loss, -d


@mistake("softmax_cross_entropy", "gradient not scaled by m/M",
         f"your `dlogits` is softmax - onehot without the factor m/M: the loss is a masked mean ({_OUT})")
def _ce_unscaled(logits, y, mask=None):
    V = np.shape(logits)[-1]
    m = _mask_or_ones(y, mask)
    return softmax_cross_entropy(logits, y, mask)[0], (softmax(logits) - _onehot(y, V)) * m[..., None]


@mistake("softmax_cross_entropy", "log of the wrong class",
         "it equals the mean of -log p over every class instead of only the target's: pick the target "
         f"with `np.take_along_axis` or fancy indexing ({_OUT})")
def _ce_all_classes(logits, y, mask=None):
    m = _mask_or_ones(y, mask)
    loss = -(log_softmax(logits).mean(axis=-1) * m).sum() / m.sum()
    return loss, softmax_cross_entropy(logits, y, mask)[1]


_COUNT = "chapter 2, section \"Parameter sharing and parameter counts\""


def _count(D, H, V, cell, per_block, output=lambda V, H: V * (H + 1)):
    G = GATES[cell]
    return G * per_block(D, H) + (0 if V is None else output(V, H))


@mistake("param_count", "one bias",
         f"it counts one bias vector per gate block: torch has two, b_ih and b_hh ({_COUNT})")
def _count_one_bias(D, H, V=None, cell="rnn"):
    return _count(D, H, V, cell, lambda D, H: H * (D + H + 1))


@mistake("param_count", "no biases", f"it leaves out the biases b_ih and b_hh ({_COUNT})")
def _count_no_bias(D, H, V=None, cell="rnn"):
    return _count(D, H, V, cell, lambda D, H: H * (D + H))


@mistake("param_count", "gate blocks ignored",
         f"it counts a single block: an LSTM has G = 4 stacked blocks and a GRU G = 3 ({_COUNT})")
def _count_no_gates(D, H, V=None, cell="rnn"):
    if cell == "rnn":
        raise ValueError("same as the reference")
    return _count(D, H, V, "rnn", lambda D, H: H * (D + H + 2))


@mistake("param_count", "no output bias", f"it leaves out the output bias b_y (V numbers) ({_COUNT})")
def _count_no_output_bias(D, H, V=None, cell="rnn"):
    if V is None:
        raise ValueError("same as the reference")
    return _count(D, H, V, cell, lambda D, H: H * (D + H + 2), output=lambda V, H: V * H)


@mistake("param_count", "W_hh as (H, D)",
         f"it counts W_hh as if it were shaped like W_ih: W_hh is (G*H, H) ({_COUNT})")
def _count_whh_like_wih(D, H, V=None, cell="rnn"):
    return _count(D, H, V, cell, lambda D, H: H * (2 * D + 2))
