"""The catalogue of known mistakes: for each graded function, what students really get wrong, computed.

Each entry runs the same inputs through a deliberately wrong variant of the reference (a transposed
weight, a missing bias, the wrong activation, ...). When a student's output is wrong, the visible checks
compare it with every variant and, if one matches, say which mistake it is in a teaching assistant's words.
Entries are built from the reference, so they are locked like it while a student's function is graded.

Book: the "Checks that explain your mistakes" box of each chapter's graded notebook.
"""

import copy
import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _lock
from .activations import log_softmax, sigmoid, softmax
from .architectures import beam_search, bidirectional_rnn_forward, greedy_decode, last_valid_state, masked_mean_pool
from .clip import clip_by_global_norm, clip_by_value
from .gradcheck import eval_numerical_gradient_array
from .gru import gru_forward, gru_step_forward, gru_step_forward_cho
from .init import GATES
from .jacobians import gradient_regime, jacobian_product_norms
from .layers import affine_backward, affine_forward
from .losses import softmax_cross_entropy
from .lstm import LSTMStepCache, lstm_step_backward, lstm_step_forward
from .realdata import build_vocab, decode, encode, make_windows, sample_with_temperature
from .rnn import RNNCache, RNNStepCache, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .scan import linear_recurrence, mingru_forward, parallel_scan
from .tbptt import chunk_bounds, rnn_tbptt


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
        guarded = _lock.protect(compute)  # the module-level name too: no unguarded way back to the reference
        CATALOGUE.setdefault(function, []).append(Mistake(function, name, message, guarded))
        return guarded

    return register


def plain_value(value):
    """`value` with arrays as lists and numpy scalars as Python numbers, so that `==` compares it as a whole."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value


def plain_equal(a, b, atol=1e-6, rtol=1e-5):
    """Whether two plain values (see `plain_value`) are equal: strs, ints and structure exactly, floats nearly."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(plain_equal(x, y, atol, rtol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(plain_equal(a[k], b[k], atol, rtol) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        numbers = (int, float)
        return isinstance(a, numbers) and isinstance(b, numbers) and bool(np.isclose(a, b, atol=atol, rtol=rtol))
    return type(a) is type(b) and a == b


def _part(out, index):
    """The part of a function's output that a check compares: all of it if `index` is None, else `out[index]`; a
    tuple index is a path, e.g. (0, "W") for `out[0]["W"]`, one gradient of a returned (dict, norm) pair."""
    if index is None:
        return out
    for key in index if isinstance(index, tuple) else (index,):
        out = out[key]
    return out


def _close(got, candidate, atol=1e-6, rtol=1e-5):
    if not isinstance(got, np.ndarray):  # a str, a list of tokens, a dict: compared exactly (floats in it nearly)
        try:
            return plain_equal(plain_value(got), plain_value(candidate))
        except Exception:
            return False
    try:
        candidate = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == candidate.shape and bool(np.all(np.isclose(got, candidate, atol=atol, rtol=rtol)))


def _as_got(value):
    """A value as `diagnose` compares it: numbers and arrays as a float64 ndarray, anything else as a plain value."""
    if isinstance(value, (np.ndarray, numbers.Number)):
        return np.asarray(value, dtype=np.float64)
    return plain_value(value)


def _differs(candidate, right, atol, rtol):
    """False if a mistake's output `candidate` is the right answer: then the mistake is not what went wrong.

    (A mistake that changes nothing on these inputs, such as a one-sided difference on a linear function, would
    otherwise be named for an answer that is wrong for another reason but close to the right one.)
    """
    try:
        if not isinstance(right, np.ndarray):  # a value compared exactly
            return not plain_equal(plain_value(candidate), right)
        candidate = np.asarray(candidate, dtype=np.float64)
    except Exception:
        return True
    return candidate.shape != right.shape or not np.allclose(candidate, right, atol=atol, rtol=rtol)


def diagnose(function, got, inputs, index=0, also=None, right=None, atol=1e-8, rtol=1e-6):
    """The known mistakes of `function` whose output number `index` equals `got` on these inputs.

    Parameters
    ----------
    function : name of the graded function
    got : the student's output (already coerced to a float64 ndarray), or a value compared exactly (a str, a list of
          tokens, a dict)
    inputs : dict of the keyword arguments the function was called with (each mistake runs on its own deep
             copy, so one that changes its inputs in place, like a gradient checker or an optimiser step that
             `update` makes, spoils nothing for the next)
    index : which element of the returned tuple `got` is (None if the function returns one value; a tuple is a
            path, as in `_part`)
    also : optional dict {index: value} of other parts of the student's output (checked right already): a mistake
           matches only if it gives those too
    right : optional, the right answer for `got` (as `got` is coerced): a mistake that gives it (within `atol`,
            `rtol`; exactly for values compared exactly) is not named

    Returns
    -------
    matches : list of Mistake (empty if none matches)
    """
    also = {i: _as_got(v) for i, v in (also or {}).items()}
    matches = []
    for entry in CATALOGUE.get(function, []):
        try:
            with np.errstate(all="ignore"):
                out = entry.compute(**copy.deepcopy(inputs))
            candidate = _part(out, index)
        except Exception:  # the mistake is impossible on these shapes (e.g. a transpose that cannot multiply)
            continue
        if (_close(got, candidate) and all(_close(v, _part(out, i)) for i, v in also.items())
                and (right is None or _differs(candidate, right, atol, rtol))):
            matches.append(entry)
    return matches


# ----------------------------------------------------------------------------------------- chapter 2
_FWD = "chapter 2, section \"The forward pass\""
_OUT = "chapter 2, section \"The output layer and the loss over time\""


@mistake("rnn_step_forward", "W_hh not transposed",
         f"it equals the step computed with W_hh untransposed, as if torch stored it (inputs, outputs) ({_FWD})")
def _step_W_hh_not_transposed(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh.T, b_ih, b_hh, nonlinearity)


@mistake("rnn_step_forward", "missing b_hh",
         f"it equals the step without the bias `b_hh`: torch's layer has two biases ({_FWD})")
def _step_missing_b_hh(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, 0 * b_hh, nonlinearity)


@mistake("rnn_step_forward", "missing b_ih",
         f"it equals the step without the bias `b_ih`: torch's layer has two biases ({_FWD})")
def _step_missing_b_ih(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, 0 * b_ih, b_hh, nonlinearity)


@mistake("rnn_step_forward", "no bias", f"it equals the step with neither bias, `b_ih` nor `b_hh` ({_FWD})")
def _step_no_bias(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, 0 * b_ih, 0 * b_hh, nonlinearity)


@mistake("rnn_step_forward", "ignores h_prev",
         f"it equals the step with `h_prev` left out: the recurrent term is missing ({_FWD})")
def _step_ignores_h_prev(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_step_forward(x_t, 0 * h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity)


@mistake("rnn_step_forward", "sigmoid instead of tanh",
         "it equals the step with the logistic sigmoid as the nonlinearity, where the equation has tanh "
         f"({_FWD})")
def _step_sigmoid(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return sigmoid(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh), None


@mistake("rnn_step_forward", "no nonlinearity",
         f"it equals the pre-activation itself: the nonlinearity is missing ({_FWD})")
def _step_linear(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, None


@mistake("rnn_step_forward", "nonlinearity argument ignored",
         "it equals the tanh step although `nonlinearity=\"relu\"` was asked for: the argument is ignored "
         f"({_FWD})")
def _step_always_tanh(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    if nonlinearity == "tanh":
        raise ValueError("same as the reference")
    return rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, "tanh")


@mistake("rnn_forward", "starts from zeros",
         f"it equals the sequence started from zeros: the given `h0` is ignored ({_FWD})")
def _seq_zeros_not_h0(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(x, 0 * h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)


@mistake("rnn_forward", "states shifted by one step",
         f"it holds h_0, ..., h_{{T-1}}, one step behind: `hs[t]` is meant to be the state after reading `x[t]`"
         f" ({_FWD})")
def _seq_shifted_states(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    hs, cache = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)
    return np.concatenate([h0[None], hs[:-1]]), cache


@mistake("rnn_forward", "reads the previous input",
         f"it equals the sequence in which step t reads `x[t-1]`, an off-by-one in time ({_FWD})")
def _seq_previous_input(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(np.roll(x, 1, axis=0), h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)


@mistake("rnn_forward", "W_hh not transposed",
         "it equals the sequence computed with W_hh untransposed, as if torch stored it (inputs, outputs) "
         f"({_FWD})")
def _seq_W_hh_not_transposed(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(x, h0, W_ih, W_hh.T, b_ih, b_hh, nonlinearity)


@mistake("rnn_forward", "state not carried",
         "it equals the sequence in which every step starts again from `h0`: the state is not carried from "
         f"step to step ({_FWD})")
def _seq_not_carried(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    hs = np.stack([rnn_step_forward(x_t, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)[0] for x_t in x])
    return hs, None


@mistake("rnn_forward", "sigmoid instead of tanh",
         "it equals the sequence with the logistic sigmoid as the nonlinearity, where the equation has tanh "
         f"({_FWD})")
def _seq_sigmoid(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    h, hs = h0, []
    for x_t in x:
        h = sigmoid(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        hs.append(h)
    return np.stack(hs), None


@mistake("rnn_forward", "missing a bias",
         f"it equals the sequence with only one of torch's two biases ({_FWD})")
def _seq_one_bias(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return rnn_forward(x, h0, W_ih, W_hh, b_ih, 0 * b_hh, nonlinearity)


@mistake("affine_forward", "missing bias", f"it equals the affine map without the bias `b` ({_OUT})")
def _affine_no_bias(h, W, b):
    return affine_forward(h, W, 0 * b)


@mistake("affine_forward", "softmax applied",
         "it equals the softmax of the logits: the output layer returns raw scores, and the softmax belongs to"
         f" the loss ({_OUT})")
def _affine_softmax(h, W, b):
    y, cache = affine_forward(h, W, b)
    return softmax(y), cache


@mistake("affine_forward", "bias subtracted", f"it equals the affine map with the bias `b` subtracted ({_OUT})")
def _affine_minus_bias(h, W, b):
    return affine_forward(h, W, -b)


@mistake("affine_forward", "tanh applied",
         f"it equals tanh of the logits: an activation on a layer that has none ({_OUT})")
def _affine_tanh(h, W, b):
    y, cache = affine_forward(h, W, b)
    return np.tanh(y), cache


@mistake("affine_forward", "ReLU applied",
         f"it equals relu of the logits: an activation on a layer that has none ({_OUT})")
def _affine_relu(h, W, b):
    y, cache = affine_forward(h, W, b)
    return np.maximum(y, 0), cache


def _onehot(y, V):
    return np.eye(V)[y]


def _mask_or_ones(y, mask):
    return np.ones(np.shape(y)) if mask is None else np.asarray(mask, dtype=np.float64)


@mistake("softmax_cross_entropy", "summed, not averaged",
         f"it equals the loss summed over the positions, not their mean ({_OUT})")
def _ce_sum(logits, y, mask=None):
    m = _mask_or_ones(y, mask)
    loss, d = softmax_cross_entropy(logits, y, mask)
    return loss * m.sum(), d * m.sum()


@mistake("softmax_cross_entropy", "divided by T*N",
         f"it equals the loss averaged over every position, padding included, not over the M real ones ({_OUT})")
def _ce_all_positions(logits, y, mask=None):
    m = _mask_or_ones(y, mask)
    if m.all():
        raise ValueError("same as the reference without padding")
    loss, d = softmax_cross_entropy(logits, y, mask)
    return loss * m.sum() / m.size, d * m.sum() / m.size


@mistake("softmax_cross_entropy", "mask ignored",
         f"it equals the loss with the padding counted as real data: the mask is ignored ({_OUT})")
def _ce_mask_ignored(logits, y, mask=None):
    if mask is None or np.all(mask):
        raise ValueError("same as the reference without padding")
    return softmax_cross_entropy(logits, y, None)


@mistake("softmax_cross_entropy", "gradient sign flipped",
         f"your `dlogits` has the wrong sign: it equals minus the gradient ({_OUT})")
def _ce_sign(logits, y, mask=None):
    loss, d = softmax_cross_entropy(logits, y, mask)
    return loss, -d


@mistake("softmax_cross_entropy", "gradient not scaled by m/M",
         "your `dlogits` lacks the factor m/M of the masked mean: it equals the gradient of the loss summed "
         f"over positions ({_OUT})")
def _ce_unscaled(logits, y, mask=None):
    V = np.shape(logits)[-1]
    m = _mask_or_ones(y, mask)
    return softmax_cross_entropy(logits, y, mask)[0], (softmax(logits) - _onehot(y, V)) * m[..., None]


@mistake("softmax_cross_entropy", "log of the wrong class",
         "it equals the mean of -log p over every class, not the log-probability of the target class alone "
         f"({_OUT})")
def _ce_all_classes(logits, y, mask=None):
    m = _mask_or_ones(y, mask)
    loss = -(log_softmax(logits).mean(axis=-1) * m).sum() / m.sum()
    return loss, softmax_cross_entropy(logits, y, mask)[1]


_COUNT = "chapter 2, section \"Parameter sharing and parameter counts\""


def _count(D, H, V, cell, per_block, output=lambda V, H: V * (H + 1)):
    G = GATES[cell]
    return G * per_block(D, H) + (0 if V is None else output(V, H))


@mistake("param_count", "one bias",
         f"it counts one bias vector per gate block, where torch has two ({_COUNT})")
def _count_one_bias(D, H, V=None, cell="rnn"):
    return _count(D, H, V, cell, lambda D, H: H * (D + H + 1))


@mistake("param_count", "no biases", f"it leaves out the biases b_ih and b_hh ({_COUNT})")
def _count_no_bias(D, H, V=None, cell="rnn"):
    return _count(D, H, V, cell, lambda D, H: H * (D + H))


@mistake("param_count", "gate blocks ignored",
         f"it counts a single block of weights for every cell, where an LSTM or GRU stacks G of them ({_COUNT})")
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
         f"it counts W_hh as if it were shaped like W_ih ({_COUNT})")
def _count_whh_like_wih(D, H, V=None, cell="rnn"):
    return _count(D, H, V, cell, lambda D, H: H * (2 * D + 2))


# ----------------------------------------------------------------------------------------- chapter 3
_CENTRAL = "chapter 3, section \"Central differences\""
_STEP_SIZE = "chapter 3, section \"The step size: truncation against round-off\""
_STEP_BWD = "chapter 3, section \"One step backward\""
_SEQ_BWD = "chapter 3, section \"The whole sequence backward\""
_DROPPED = "chapter 3, section \"Dropping the recursive term\""
_PARAMS = "chapter 3, section \"The gradients of the parameters\""
_SUMMED = "chapter 3, section \"Why the gradients of shared weights are summed\""
_TBPTT = "chapter 3, section \"Truncated BPTT\""


@_lock.protect
def _numerical_gradient(f, x, df, h, *, one_sided=False, restore=True, copy_output=True, diagonal=False):
    """`eval_numerical_gradient_array` with one thing done wrong (chosen by the keywords), on a copy of `x`."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True) if copy_output else f(x)
        x[i] = old if one_sided else old - h
        neg = np.array(f(x), dtype=np.float64, copy=True) if copy_output else f(x)
        if restore:
            x[i] = old
        change = np.asarray(pos, dtype=np.float64) - np.asarray(neg, dtype=np.float64)
        if diagonal:
            if change.shape != x.shape:
                raise ValueError("f(x) is not shaped like x: the mistake does not apply")
            grad[i] = change[i] * np.asarray(df)[i]
        else:
            grad[i] = np.sum(change * df)
        grad[i] /= h if one_sided else 2 * h
    return grad


@mistake("eval_numerical_gradient_array", "one-sided differences",
         "it equals the one-sided difference, whose error shrinks only like h, not the central difference "
         f"({_CENTRAL})")
def _grad_one_sided(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, one_sided=True)


@mistake("eval_numerical_gradient_array", "divided by h, not 2h",
         f"it is twice the gradient: the central difference is divided by the wrong step length ({_CENTRAL})")
def _grad_over_h(f, x, df, h=1e-5):
    return 2 * eval_numerical_gradient_array(f, np.array(x, dtype=np.float64, copy=True), df, h)


@mistake("eval_numerical_gradient_array", "df ignored",
         "it equals the gradient of sum(f(x)), as if `df` were all ones: the upstream gradient is left out "
         f"({_CENTRAL})")
def _grad_df_ignored(f, x, df, h=1e-5):
    return eval_numerical_gradient_array(f, np.array(x, dtype=np.float64, copy=True), np.ones(np.shape(df)), h)


@mistake("eval_numerical_gradient_array", "x not restored",
         "it equals what you get when `x[i]` is not put back after its turn, so later entries are computed at "
         f"a shifted point ({_CENTRAL})")
def _grad_not_restored(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, restore=False)


@mistake("eval_numerical_gradient_array", "output of f not copied",
         "it equals what you get when what `f(x)` returns is kept without a copy: f may return a view of `x`, "
         f"which changes when `x` changes ({_CENTRAL})")
def _grad_not_copied(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, copy_output=False)


@mistake("eval_numerical_gradient_array", "h ignored",
         "it equals the result with the default step h = 1e-5, although another `h` was passed: the argument "
         f"is ignored ({_STEP_SIZE})")
def _grad_h_ignored(f, x, df, h=1e-5):
    if h == 1e-5:
        raise ValueError("same as the reference")
    return eval_numerical_gradient_array(f, np.array(x, dtype=np.float64, copy=True), df)


@mistake("eval_numerical_gradient_array", "only the matching output entry",
         "it equals what you get by keeping only entry i of the change of f(x), as if f worked entry by entry:"
         f" the other outputs' changes are left out ({_CENTRAL})")
def _grad_diagonal(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, diagonal=True)


def _step_cache(cache):
    """The cache of `rnn_step_forward`, also when given as the plain tuple the graded notebook's forward returns."""
    return cache if isinstance(cache, RNNStepCache) else RNNStepCache(*cache)


@mistake("rnn_step_backward", "activation derivative forgotten",
         "it equals the gradients with the nonlinearity's derivative left out: `dh_next` goes straight to the "
         f"affine part ({_STEP_BWD})")
def _step_bwd_no_derivative(dh_next, cache):
    c = _step_cache(cache)
    flat = np.zeros_like(c.h_next) if c.nonlinearity == "tanh" else np.ones_like(c.h_next)  # phi' = 1 everywhere
    return rnn_step_backward(dh_next, c._replace(h_next=flat))


@mistake("rnn_step_backward", "tanh applied twice in the derivative",
         "it equals the gradients with tanh applied to `h_next` again in the derivative, although `h_next` is "
         f"already tanh(a) ({_STEP_BWD})")
def _step_bwd_tanh_twice(dh_next, cache):
    c = _step_cache(cache)
    if c.nonlinearity != "tanh":
        raise ValueError("a tanh mistake")
    return rnn_step_backward(dh_next, c._replace(h_next=np.tanh(c.h_next)))


@mistake("rnn_step_backward", "dh_prev through W_hh.T",
         "your `dh_prev` equals the gradient sent back through W_hh.T, the matrix exactly as the forward product "
         f"used it ({_STEP_BWD})")
def _step_bwd_dh_prev_transposed(dh_next, cache):
    c = _step_cache(cache)
    return rnn_step_backward(dh_next, c._replace(W_hh=c.W_hh.T))


@mistake("rnn_step_backward", "dW_hh transposed",
         "your `dW_hh` is the transpose of the gradient (the shapes agree only because W_hh is square) "
         f"({_STEP_BWD})")
def _step_bwd_dW_hh_transposed(dh_next, cache):
    dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh = rnn_step_backward(dh_next, _step_cache(cache))
    return dx_t, dh_prev, dW_ih, dW_hh.T, db_ih, db_hh


@mistake("rnn_step_backward", "dW_hh from h_next",
         "your `dW_hh` is built from `h_next`, the state the step produced, not from the state W_hh multiplied"
         f" ({_STEP_BWD})")
def _step_bwd_dW_hh_h_next(dh_next, cache):
    c = _step_cache(cache)
    return rnn_step_backward(dh_next, c._replace(h_prev=c.h_next))


@mistake("rnn_step_backward", "bias gradient averaged over the batch",
         f"your bias gradient is the mean over the batch, where the bias is added to every row ({_PARAMS})")
def _step_bwd_bias_mean(dh_next, cache):
    dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh = rnn_step_backward(dh_next, _step_cache(cache))
    N = np.shape(dh_next)[0]
    return dx_t, dh_prev, dW_ih, dW_hh, db_ih / N, db_hh / N


def _seq_cache(cache):
    """The cache of `rnn_forward`, also when given as the plain tuple the graded notebook's forward returns."""
    return cache if isinstance(cache, RNNCache) else RNNCache(*cache)


@_lock.protect
def _bptt_by_steps(dhs, cache, *, carry=True, h_for_derivative=None, h_prev_is_h_t=False,
                   carry_skips_derivative=False, carry_through_W_hh_T=False, summed=True, dh0_one_step_short=False):
    """BPTT as a loop over `rnn_step_backward`, with one thing done wrong (chosen by the keywords)."""
    c = _seq_cache(cache)
    dhs = np.asarray(dhs, dtype=np.float64)
    dx = np.zeros(np.shape(c.x))
    dW_ih, dW_hh, db = np.zeros(np.shape(c.W_ih)), np.zeros(np.shape(c.W_hh)), np.zeros(np.shape(c.W_hh)[0])
    dh = np.zeros(np.shape(c.h0))  # the carried gradient
    for t in reversed(range(dhs.shape[0])):
        h_next = c.hs[t] if h_for_derivative is None else h_for_derivative(c.hs[t], c.nonlinearity)
        h_prev = c.hs[t] if h_prev_is_h_t else (c.hs[t - 1] if t else c.h0)
        W_hh = c.W_hh.T if carry_through_W_hh_T else c.W_hh
        dh_t = dhs[t] + dh if carry else dhs[t]
        step = RNNStepCache(c.x[t], h_prev, c.W_ih, W_hh, h_next, c.nonlinearity)
        dx[t], dh, dW_ih_t, dW_hh_t, db_t, _ = rnn_step_backward(dh_t, step)
        if carry_skips_derivative:
            dh = dh_t @ c.W_hh
        if summed:
            dW_ih, dW_hh, db = dW_ih + dW_ih_t, dW_hh + dW_hh_t, db + db_t
        else:  # overwritten at every step: what is left is the first step's (the loop's last)
            dW_ih, dW_hh, db = dW_ih_t, dW_hh_t, db_t
    return dx, dh_t if dh0_one_step_short else dh, dW_ih, dW_hh, db, db.copy()


def _no_derivative(h, nonlinearity):
    return np.zeros_like(h) if nonlinearity == "tanh" else np.ones_like(h)  # phi' computed from it is 1


def _tanh_again(h, nonlinearity):
    if nonlinearity != "tanh":
        raise ValueError("a tanh mistake")
    return np.tanh(h)


@mistake("rnn_backward", "missing carried gradient",
         f"it equals BPTT without the carried gradient, each step seeing only its own `dhs[t]` ({_DROPPED})")
def _bptt_no_carry(dhs, cache):
    return _bptt_by_steps(dhs, cache, carry=False)


@mistake("rnn_backward", "activation derivative forgotten",
         f"it equals BPTT with the nonlinearity's derivative left out ({_SEQ_BWD})")
def _bptt_no_derivative(dhs, cache):
    return _bptt_by_steps(dhs, cache, h_for_derivative=_no_derivative)


@mistake("rnn_backward", "tanh applied twice in the derivative",
         "it equals BPTT with tanh applied to `hs[t]` again in the derivative, although `hs[t]` is already "
         f"tanh(a_t) ({_SEQ_BWD})")
def _bptt_tanh_twice(dhs, cache):
    return _bptt_by_steps(dhs, cache, h_for_derivative=_tanh_again)


@mistake("rnn_backward", "carried gradient skips the derivative",
         "it equals BPTT where the gradient carried to the previous step skips the nonlinearity's derivative "
         f"({_SEQ_BWD})")
def _bptt_carry_skips_derivative(dhs, cache):
    return _bptt_by_steps(dhs, cache, carry_skips_derivative=True)


@mistake("rnn_backward", "carried gradient through W_hh.T",
         "it equals BPTT with the gradient carried back through W_hh.T, the matrix exactly as the forward product "
         f"used it ({_SEQ_BWD})")
def _bptt_carry_transposed(dhs, cache):
    return _bptt_by_steps(dhs, cache, carry_through_W_hh_T=True)


@mistake("rnn_backward", "not summed over time",
         "it equals the first step's contribution alone (the last one your loop visits): the shared "
         f"parameters' gradients are not added up over the steps ({_SUMMED})")
def _bptt_not_summed(dhs, cache):
    return _bptt_by_steps(dhs, cache, summed=False)


@mistake("rnn_backward", "bias gradient averaged over the batch",
         f"your bias gradient is averaged over the batch, where the bias is added to every row ({_PARAMS})")
def _bptt_bias_mean(dhs, cache):
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, _seq_cache(cache))
    N = np.shape(dhs)[1]
    return dx, dh0, dW_ih, dW_hh, db_ih / N, db_hh / N


@mistake("rnn_backward", "dW_hh transposed",
         "your `dW_hh` is the transpose of the gradient (the shapes agree only because W_hh is square) "
         f"({_PARAMS})")
def _bptt_dW_hh_transposed(dhs, cache):
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, _seq_cache(cache))
    return dx, dh0, dW_ih, dW_hh.T, db_ih, db_hh


@mistake("rnn_backward", "dW_hh from h_t",
         "your `dW_hh` pairs step t with the state it produced, h_t, not the state W_hh multiplied (an "
         f"off-by-one in time) ({_PARAMS})")
def _bptt_dW_hh_h_t(dhs, cache):
    return _bptt_by_steps(dhs, cache, h_prev_is_h_t=True)


@mistake("rnn_backward", "dh0 is zero",
         f"your `dh0` is zero, although the first step reads h0 ({_PARAMS})")
def _bptt_dh0_zero(dhs, cache):
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, _seq_cache(cache))
    return dx, 0 * dh0, dW_ih, dW_hh, db_ih, db_hh


@mistake("rnn_backward", "dh0 one step short",
         "your `dh0` equals the total gradient of h_1, one step short of h0: it stops before going back "
         f"through the first step ({_PARAMS})")
def _bptt_dh0_short(dhs, cache):
    return _bptt_by_steps(dhs, cache, dh0_one_step_short=True)


def _tbptt_chunk_by_chunk(x, y, h0, params, k, update, first_state, next_state):
    """Truncated BPTT run one chunk at a time by the reference, choosing the state each chunk starts from."""
    losses, h = [], first_state
    for start, stop in chunk_bounds(np.shape(x)[0], k):
        chunk_losses, h_last = rnn_tbptt(x[start:stop], y[start:stop], h, params, k, update)
        losses.append(chunk_losses[0])
        h = next_state(h_last)
    return np.array(losses), h_last


@mistake("rnn_tbptt", "state not carried",
         "it equals the run in which every chunk starts again from `h0`: the state is not carried between "
         f"chunks (only the gradient is cut there) ({_TBPTT})")
def _tbptt_restarts_from_h0(x, y, h0, params, k, update=None):
    return _tbptt_chunk_by_chunk(x, y, h0, params, k, update, h0, lambda h_last: h0)


@mistake("rnn_tbptt", "every chunk starts from zeros",
         "it equals the run in which every chunk starts from zeros, neither from `h0` nor from the chunk "
         f"before ({_TBPTT})")
def _tbptt_restarts_from_zeros(x, y, h0, params, k, update=None):
    zeros = np.zeros(np.shape(h0))
    return _tbptt_chunk_by_chunk(x, y, h0, params, k, update, zeros, lambda h_last: zeros)


@mistake("rnn_tbptt", "starts from zeros",
         f"it equals the run started from zeros: the given `h0` is ignored ({_TBPTT})")
def _tbptt_zeros_not_h0(x, y, h0, params, k, update=None):
    if not np.any(h0):
        raise ValueError("same as the reference")
    return rnn_tbptt(x, y, np.zeros(np.shape(h0)), params, k, update)


@mistake("rnn_tbptt", "parameters never updated",
         "it equals a run in which the parameters never change: the updates are lost (`update` may replace the"
         f" entries of `params` rather than change them in place) ({_TBPTT})")
def _tbptt_no_update(x, y, h0, params, k, update=None):
    if update is None:
        raise ValueError("same as the reference")
    return rnn_tbptt(x, y, h0, params, k, None)


@mistake("rnn_tbptt", "gradient flows across chunks",
         "it equals a run whose gradients reach back into earlier chunks, as if each chunk's loss were "
         f"backpropagated through the whole sequence so far ({_TBPTT})")
def _tbptt_untruncated(x, y, h0, params, k, update=None):
    if update is None:
        raise ValueError("same as the reference: without an update only the gradients differ")
    losses = []
    for start, stop in chunk_bounds(np.shape(x)[0], k):
        p = params
        hs, cache = rnn_forward(x[:stop], h0, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])  # from the very start
        logits, out_cache = affine_forward(hs[start:], p["W"], p["b"])
        loss, dlogits = softmax_cross_entropy(logits, y[start:stop])
        dhs, dW, db = affine_backward(dlogits, out_cache)
        dhs = np.concatenate([np.zeros((start,) + dhs.shape[1:]), dhs])
        _, _, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, cache)
        losses.append(loss)
        update(params, {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "W": dW, "b": db})
    return np.array(losses), hs[-1]


# ----------------------------------------------------------------------------------------- chapter 5
_LSTM = "chapter 5, section \"The LSTM cell\""
_LSTM_BWD = "chapter 5, section \"The LSTM backward\""
_GRU = "chapter 5, section \"The GRU cell\""


def _blocks(arrays, order):
    """Each stacked weight or bias with its gate blocks (along the first axis) put in `order`, e.g. (0, 1, 3, 2)."""
    return [np.concatenate([np.split(np.asarray(a), len(order))[k] for k in order]) for a in arrays]


@_lock.protect
def _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, *, g_sigmoid=False, o_tanh=False, forget=True,
               squash_c_prev=False, squash_c=True, h_from_c_prev=False):
    """One LSTM step with one thing done wrong (chosen by the keywords); returns (h_next, c_next, None)."""
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=-1)
    i, f = sigmoid(a_i), sigmoid(a_f)
    g = sigmoid(a_g) if g_sigmoid else np.tanh(a_g)
    o = np.tanh(a_o) if o_tanh else sigmoid(a_o)
    kept = np.tanh(c_prev) if squash_c_prev else c_prev
    c_next = f * kept + i * g if forget else i * g
    c_out = c_prev if h_from_c_prev else c_next
    return o * (np.tanh(c_out) if squash_c else c_out), c_next, None


@mistake("lstm_step_forward", "CS231n gate order",
         "it equals the step with the four blocks read in CS231n's order i, f, o, g, not torch's i, f, g, o "
         f"({_LSTM})")
def _lstm_cs231n_order(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return lstm_step_forward(x_t, h_prev, c_prev, *_blocks((W_ih, W_hh, b_ih, b_hh), (0, 1, 3, 2)))


@mistake("lstm_step_forward", "i and f swapped",
         f"it equals the step with the input and forget gates trading places in the cell update ({_LSTM})")
def _lstm_i_f_swapped(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return lstm_step_forward(x_t, h_prev, c_prev, *_blocks((W_ih, W_hh, b_ih, b_hh), (1, 0, 2, 3)))


@mistake("lstm_step_forward", "sigmoid on g",
         f"it equals the step with a sigmoid on the candidate g, which is not a gate ({_LSTM})")
def _lstm_g_sigmoid(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, g_sigmoid=True)


@mistake("lstm_step_forward", "tanh on o",
         f"it equals the step with a tanh on the output gate o, which is a gate ({_LSTM})")
def _lstm_o_tanh(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, o_tanh=True)


@mistake("lstm_step_forward", "forget term missing",
         f"it equals the step with the old cell left out of the new one ({_LSTM})")
def _lstm_no_forget_term(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, forget=False)


@mistake("lstm_step_forward", "tanh on c_prev",
         f"it equals the step with the old cell squashed by a tanh before it enters the new one ({_LSTM})")
def _lstm_squashed_c_prev(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, squash_c_prev=True)


@mistake("lstm_step_forward", "tanh of c missing",
         f"your `h_next` equals the output gate times the unsquashed cell ({_LSTM})")
def _lstm_h_without_tanh(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, squash_c=False)


@mistake("lstm_step_forward", "h from c_prev",
         f"your `h_next` is computed from the old cell c_prev, not the new one ({_LSTM})")
def _lstm_h_from_c_prev(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, h_from_c_prev=True)


@mistake("lstm_step_forward", "missing b_ih",
         f"it equals the step without the bias `b_ih`: torch's layer has two biases ({_LSTM})")
def _lstm_missing_b_ih(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, 0 * b_ih, b_hh)


@mistake("lstm_step_forward", "missing b_hh",
         f"it equals the step without the bias `b_hh`: torch's layer has two biases ({_LSTM})")
def _lstm_missing_b_hh(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, 0 * b_hh)


def _lstm_cache(cache):
    """The cache of `lstm_step_forward`, also when given as a plain tuple in the same order."""
    return cache if isinstance(cache, LSTMStepCache) else LSTMStepCache(*cache)


@_lock.protect
def _lstm_step_backward(dh_next, dc_next, cache, *, through_h=True, tanh_derivative=True, squash_gates_again=False,
                        forget_in_carousel=True, order=(0, 1, 2, 3)):
    """One LSTM step backward with one thing done wrong (chosen by the keywords)."""
    x_t, h_prev, c_prev, W_ih, W_hh, i, f, g, o, c_next = (np.asarray(v, dtype=np.float64) for v in cache)
    dh_next = np.asarray(dh_next, dtype=np.float64)
    tanh_c = np.tanh(c_next)
    dc = np.asarray(dc_next, dtype=np.float64)
    if through_h:
        dc = dc + dh_next * o * ((1 - tanh_c ** 2) if tanh_derivative else 1)
    do = dh_next * tanh_c
    si, sf, so, tg = (sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(g)) if squash_gates_again else (i, f, o, g)
    blocks = [dc * g * si * (1 - si), dc * c_prev * sf * (1 - sf), dc * i * (1 - tg ** 2), do * so * (1 - so)]
    da = np.concatenate([blocks[k] for k in order], axis=-1)
    db = da.sum(axis=0)
    return da @ W_ih, da @ W_hh, dc * f if forget_in_carousel else dc, da.T @ x_t, da.T @ h_prev, db, db.copy()


@mistake("lstm_step_backward", "dc_next ignored",
         "it equals the gradients with `dc_next` left out: the path of c_t along the carousel to step t+1 is "
         f"missing ({_LSTM_BWD})")
def _lstm_bwd_no_dc_next(dh_next, dc_next, cache):
    return lstm_step_backward(dh_next, 0 * np.asarray(dc_next, dtype=np.float64), _lstm_cache(cache))


@mistake("lstm_step_backward", "path through h_t missing",
         "it equals the gradients with `dc_next` alone as the cell's gradient: the path of c_t through h_t is "
         f"missing ({_LSTM_BWD})")
def _lstm_bwd_no_path_through_h(dh_next, dc_next, cache):
    return _lstm_step_backward(dh_next, dc_next, cache, through_h=False)


@mistake("lstm_step_backward", "tanh derivative of c forgotten",
         "it equals the gradients in which the path from h_t to c_t skips the derivative of the tanh "
         f"({_LSTM_BWD})")
def _lstm_bwd_no_tanh_derivative(dh_next, dc_next, cache):
    return _lstm_step_backward(dh_next, dc_next, cache, tanh_derivative=False)


@mistake("lstm_step_backward", "gate derivatives applied to the gates again",
         "it equals the gradients with the sigmoid and tanh applied a second time in the local derivatives, "
         f"although the cache holds the gates' outputs ({_LSTM_BWD})")
def _lstm_bwd_gates_squashed_again(dh_next, dc_next, cache):
    return _lstm_step_backward(dh_next, dc_next, cache, squash_gates_again=True)


@mistake("lstm_step_backward", "carousel without f",
         f"your `dc_prev` equals the cell's whole gradient: the forget gate's factor is missing ({_LSTM_BWD})")
def _lstm_bwd_carousel_without_f(dh_next, dc_next, cache):
    return _lstm_step_backward(dh_next, dc_next, cache, forget_in_carousel=False)


@mistake("lstm_step_backward", "CS231n block order",
         "it equals the gradients with the blocks of the pre-activations' gradient stacked in CS231n's order "
         f"i, f, o, g, not torch's i, f, g, o ({_LSTM_BWD})")
def _lstm_bwd_cs231n_order(dh_next, dc_next, cache):
    return _lstm_step_backward(dh_next, dc_next, cache, order=(0, 1, 3, 2))


@mistake("lstm_step_backward", "bias gradient averaged over the batch",
         f"your bias gradient is averaged over the batch, where the biases are added to every row ({_LSTM_BWD})")
def _lstm_bwd_bias_mean(dh_next, dc_next, cache):
    dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, db_hh = lstm_step_backward(dh_next, dc_next, _lstm_cache(cache))
    N = np.shape(dh_next)[0]
    return dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db_ih / N, db_hh / N


@mistake("lstm_step_backward", "db_hh zero",
         f"your `db_hh` is zero, although b_hh is added to the same pre-activations as b_ih ({_LSTM_BWD})")
def _lstm_bwd_db_hh_zero(dh_next, dc_next, cache):
    dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, db_hh = lstm_step_backward(dh_next, dc_next, _lstm_cache(cache))
    return dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, 0 * db_hh


@_lock.protect
def _gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, *, cho=False, b_hn_outside=False, tanh_gates=False,
              z_swapped=False):
    """One GRU step (h_next only) with one thing done wrong (chosen by the keywords)."""
    gate = np.tanh if tanh_gates else sigmoid
    ax_r, ax_z, ax_n = np.split(x_t @ W_ih.T + b_ih, 3, axis=-1)
    W_hr, W_hz, W_hn = np.split(W_hh, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    r = gate(ax_r + h_prev @ W_hr.T + b_hr)
    z = gate(ax_z + h_prev @ W_hz.T + b_hz)
    if cho:
        n = np.tanh(ax_n + (r * h_prev) @ W_hn.T + b_hn)
    elif b_hn_outside:
        n = np.tanh(ax_n + r * (h_prev @ W_hn.T) + b_hn)
    else:
        n = np.tanh(ax_n + r * (h_prev @ W_hn.T + b_hn))
    return z * n + (1 - z) * h_prev if z_swapped else (1 - z) * n + z * h_prev


@_lock.protect
def _gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, carried=True, **step):
    """The GRU over a sequence, a loop over `_gru_step` with the same keywords (and optionally no carried state)."""
    h, hs = h0, []
    for x_t in x:
        h_new = _gru_step(x_t, h if carried else h0, W_ih, W_hh, b_ih, b_hh, **step)
        hs.append(h_new)
        h = h_new
    return np.stack(hs), None


_GRU_CHO = ("it equals the paper's GRU (Cho et al., 2014), with the reset gate applied to h_prev before the product "
            f"with W_hn, not to the product and its bias as in torch's form ({_GRU})")
_GRU_Z = ("it equals the GRU with z and 1 - z swapped, so that z weights the new candidate, not the old state as in "
          f"torch's GRU ({_GRU})")
_GRU_ORDER = ("it equals the step with the first two blocks read as z, r, not in torch's order r, z, n "
              f"({_GRU})")


@mistake("gru_step_forward", "Cho's form", _GRU_CHO)
def _gru_cho(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return gru_step_forward_cho(x_t, h_prev, W_ih, W_hh, b_ih, b_hh), None


@mistake("gru_step_forward", "z and 1 - z swapped", _GRU_Z)
def _gru_z_swapped(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return _gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, z_swapped=True), None


@mistake("gru_step_forward", "gate order z, r, n", _GRU_ORDER)
def _gru_z_r_order(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return gru_step_forward(x_t, h_prev, *_blocks((W_ih, W_hh, b_ih, b_hh), (1, 0, 2)))


@mistake("gru_step_forward", "b_hn outside the reset",
         "it equals the candidate with `b_hn` outside the reset gate's product: in torch's form the reset gate"
         f" multiplies the bias too ({_GRU})")
def _gru_b_hn_outside(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return _gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, b_hn_outside=True), None


@mistake("gru_step_forward", "tanh gates",
         f"it equals the step with tanh for the gates r and z, which are sigmoids ({_GRU})")
def _gru_tanh_gates(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return _gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, tanh_gates=True), None


@mistake("gru_step_forward", "missing b_hh",
         f"it equals the step without the bias `b_hh`: torch's GRU has two biases ({_GRU})")
def _gru_missing_b_hh(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, 0 * b_hh)


@mistake("gru_forward", "starts from zeros",
         f"it equals the sequence started from zeros: the given `h0` is ignored ({_GRU})")
def _gru_seq_zeros_not_h0(x, h0, W_ih, W_hh, b_ih, b_hh):
    if not np.any(h0):
        raise ValueError("same as the reference")
    return gru_forward(x, 0 * h0, W_ih, W_hh, b_ih, b_hh)


@mistake("gru_forward", "state not carried",
         "it equals the sequence in which every step starts again from `h0`: the state is not carried from "
         f"step to step ({_GRU})")
def _gru_seq_not_carried(x, h0, W_ih, W_hh, b_ih, b_hh):
    return _gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, carried=False)


@mistake("gru_forward", "states shifted by one step",
         "it holds h_0, ..., h_(T-1), one step behind: `hs[t]` is meant to be the state after reading `x[t]` "
         f"({_GRU})")
def _gru_seq_shifted(x, h0, W_ih, W_hh, b_ih, b_hh):
    hs, cache = gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    return np.concatenate([np.asarray(h0, dtype=np.float64)[None], hs[:-1]]), cache


@mistake("gru_forward", "states stored one slot early",
         "it holds h_2, ..., h_T and then h_1: each new state went one slot too early (the first one wrapping "
         f"round to the end) ({_GRU})")
def _gru_seq_stored_early(x, h0, W_ih, W_hh, b_ih, b_hh):
    hs, cache = gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    return np.roll(hs, -1, axis=0), cache


@mistake("gru_forward", "reads the previous input",
         f"it equals the sequence in which step t reads `x[t-1]`, an off-by-one in time ({_GRU})")
def _gru_seq_previous_input(x, h0, W_ih, W_hh, b_ih, b_hh):
    return gru_forward(np.roll(x, 1, axis=0), h0, W_ih, W_hh, b_ih, b_hh)


@mistake("gru_forward", "Cho's form", _GRU_CHO)
def _gru_seq_cho(x, h0, W_ih, W_hh, b_ih, b_hh):
    return _gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, cho=True)


@mistake("gru_forward", "z and 1 - z swapped", _GRU_Z)
def _gru_seq_z_swapped(x, h0, W_ih, W_hh, b_ih, b_hh):
    return _gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, z_swapped=True)


@mistake("gru_forward", "gate order z, r, n", _GRU_ORDER)
def _gru_seq_z_r_order(x, h0, W_ih, W_hh, b_ih, b_hh):
    return gru_forward(x, h0, *_blocks((W_ih, W_hh, b_ih, b_hh), (1, 0, 2)))


# ----------------------------------------------------------------------------------------- chapter 8
_SCAN = "chapter 8, section \"Linear recurrences and the parallel scan\""
_AFFINE = "chapter 8, section \"Steps as affine maps\""
_DOUBLING = "chapter 8, section \"The doubling scan\""
_MIN = "chapter 8, section \"minGRU and minLSTM\""


def _initial_state(a, h0):
    return np.zeros(np.shape(a)[1:]) if h0 is None else np.asarray(h0, dtype=np.float64)


@mistake("linear_recurrence", "starts from zeros",
         f"it equals the states started from zeros: the given `h0` is ignored ({_SCAN})")
def _loop_zeros_not_h0(a, b, h0=None):
    if h0 is None or not np.any(h0):
        raise ValueError("same as the reference")
    return linear_recurrence(a, b, None)


@mistake("linear_recurrence", "states shifted by one step",
         f"it holds h_0, ..., h_(T-1), one step behind: `hs[t]` is meant to be the state after step t ({_SCAN})")
def _loop_shifted(a, b, h0=None):
    hs = linear_recurrence(a, b, h0)
    return np.concatenate([_initial_state(a, h0)[None], hs[:-1]])


@mistake("linear_recurrence", "state not carried",
         "it equals the states in which every step starts again from `h0`: the state is not carried from step "
         f"to step ({_SCAN})")
def _loop_not_carried(a, b, h0=None):
    return np.concatenate([linear_recurrence(a[t:t + 1], b[t:t + 1], h0) for t in range(np.shape(a)[0])])


@mistake("linear_recurrence", "reads the previous step's coefficients",
         f"it equals the loop in which step t reads `a[t-1]` and `b[t-1]`, an off-by-one in time ({_SCAN})")
def _loop_previous_coefficients(a, b, h0=None):
    return linear_recurrence(np.roll(a, 1, axis=0), np.roll(b, 1, axis=0), h0)


@mistake("linear_recurrence", "a and b swapped",
         f"it equals the recurrence with the roles of `a` and `b` swapped ({_SCAN})")
def _loop_a_b_swapped(a, b, h0=None):
    return linear_recurrence(b, a, h0)


@_lock.protect
def _doubling_scan(a, b, h0, one_round, rounds=None):
    """The doubling scan with `one_round(A, B, step)` as its round and at most `rounds` rounds."""
    A = np.array(a, dtype=np.float64, copy=True)
    B = np.array(b, dtype=np.float64, copy=True)
    if h0 is not None:
        B[0] = A[0] * h0 + B[0]
    step, done = 1, 0
    while step < A.shape[0] and (rounds is None or done < rounds):
        one_round(A, B, step)
        step, done = 2 * step, done + 1
    return B


def _round_wrong_order(A, B, step):
    B[step:] = A[:-step] * B[step:] + B[:-step]  # (a1, b1) o (a2, b2) = (a1 a2, a1 b2 + b1): step 2 applied first
    A[step:] = A[step:] * A[:-step]


def _round_A_first(A, B, step):
    A[step:] = A[step:] * A[:-step]
    B[step:] = A[step:] * B[:-step] + B[step:]  # uses the new A


def _round_A_fixed(A, B, step):
    B[step:] = A[step:] * B[:-step] + B[step:]  # A never updated


def _round(A, B, step):
    B[step:] = A[step:] * B[:-step] + B[step:]
    A[step:] = A[step:] * A[:-step]


@mistake("parallel_scan", "wrong composition order",
         f"it equals the scan with the two affine steps composed in the wrong order ({_AFFINE})")
def _scan_wrong_order(a, b, h0=None):
    return _doubling_scan(a, b, h0, _round_wrong_order)


@mistake("parallel_scan", "ignores h0",
         f"it equals the scan started from zeros: the given `h0` is ignored ({_AFFINE})")
def _scan_ignores_h0(a, b, h0=None):
    if h0 is None or not np.any(h0):
        raise ValueError("same as the reference")
    return parallel_scan(a, b, None)


@mistake("parallel_scan", "h0 not multiplied by a_1",
         f"it equals the scan with `h0` added to the first input, not passed through the first step ({_AFFINE})")
def _scan_h0_added(a, b, h0=None):
    if h0 is None:
        raise ValueError("same as the reference")
    b = np.array(b, dtype=np.float64, copy=True)
    b[0] = b[0] + h0
    return parallel_scan(a, b, None)


@mistake("parallel_scan", "exclusive scan",
         f"it holds h_0, ..., h_(T-1), the exclusive scan, one step behind the states asked for ({_DOUBLING})")
def _scan_exclusive(a, b, h0=None):
    hs = parallel_scan(a, b, h0)
    return np.concatenate([_initial_state(a, h0)[None], hs[:-1]])


@mistake("parallel_scan", "A updated before B",
         "it equals the scan that updates `A` before `B` in each round, so that `B` is updated with the new "
         f"`A` ({_DOUBLING})")
def _scan_A_first(a, b, h0=None):
    return _doubling_scan(a, b, h0, _round_A_first)


@mistake("parallel_scan", "A never composed",
         f"it equals the scan in which `A` never changes from round to round ({_DOUBLING})")
def _scan_A_fixed(a, b, h0=None):
    return _doubling_scan(a, b, h0, _round_A_fixed)


@mistake("parallel_scan", "too few rounds",
         "it equals the scan stopped one round short, after floor(log2 T) rounds (T is not a power of two "
         f"here) ({_DOUBLING})")
def _scan_too_few_rounds(a, b, h0=None):
    T = np.shape(a)[0]
    if T & (T - 1) == 0:
        raise ValueError("same as the reference when T is a power of two")
    return _doubling_scan(a, b, h0, _round, rounds=int(np.floor(np.log2(T))))


@mistake("mingru_forward", "z and 1 - z swapped",
         "it equals the minGRU with z_t weighting the old state (torch's GRU convention) and 1 - z_t the "
         f"candidate ({_MIN})")
def _mingru_z_swapped(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    return mingru_forward(x, h0, -W_z, -b_z, W_h, b_h, parallel)  # sigmoid(-u) = 1 - sigmoid(u)


@mistake("mingru_forward", "tanh on the candidate",
         f"it equals the minGRU with a tanh on the candidate, which in minGRU is linear ({_MIN})")
def _mingru_tanh(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    z = sigmoid(x @ W_z.T + b_z)
    return parallel_scan(1 - z, z * np.tanh(x @ W_h.T + b_h), h0)


@mistake("mingru_forward", "starts from zeros",
         f"it equals the sequence started from zeros: the given `h0` is ignored ({_MIN})")
def _mingru_zeros_not_h0(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    if not np.any(h0):
        raise ValueError("same as the reference")
    return mingru_forward(x, 0 * h0, W_z, b_z, W_h, b_h, parallel)


@mistake("mingru_forward", "weights not transposed",
         f"it equals the minGRU computed with the weights untransposed, as if they were stored (D, H) ({_MIN})")
def _mingru_not_transposed(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    return mingru_forward(x, h0, W_z.T, b_z, W_h.T, b_h, parallel)  # possible only when D = H


@mistake("mingru_forward", "no sigmoid on the gate",
         f"it equals the minGRU with the gate's sigmoid left out ({_MIN})")
def _mingru_no_sigmoid(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    u = x @ W_z.T + b_z
    return parallel_scan(1 - u, u * (x @ W_h.T + b_h), h0)


@mistake("mingru_forward", "states shifted by one step",
         "it holds h_0, ..., h_(T-1), one step behind: `hs[t]` is meant to be the state after reading `x[t]` "
         f"({_MIN})")
def _mingru_shifted(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    hs = mingru_forward(x, h0, W_z, b_z, W_h, b_h, parallel)
    return np.concatenate([np.asarray(h0, dtype=np.float64)[None], hs[:-1]])


# ----------------------------------------------------------------------------------------- chapter 4
_CLIP = "chapter 4, section \"Gradient clipping\""
_JAC = "chapter 4, section \"The product of Jacobians\""
_BOUND = "chapter 4, section \"What the singular values guarantee\""
_RADIUS = "chapter 4, section \"The spectral radius is not enough\""


def _each(grads, f):
    """A new dict with f(g) for every gradient g of `grads`."""
    return {name: f(np.asarray(g, dtype=np.float64)) for name, g in grads.items()}


@mistake("clip_by_value", "upper side only",
         "it equals the gradients clipped from above only: entries below -limit are left as they were "
         f"({_CLIP})")
def _clipv_upper_only(grads, limit):
    return _each(grads, lambda g: np.minimum(g, limit))


@mistake("clip_by_value", "lower side only",
         f"it equals the gradients clipped from below only: entries above limit are left as they were ({_CLIP})")
def _clipv_lower_only(grads, limit):
    return _each(grads, lambda g: np.maximum(g, -limit))


@mistake("clip_by_value", "clipped to [0, limit]",
         f"it equals the gradients clipped to [0, limit], so every negative entry became 0 ({_CLIP})")
def _clipv_from_zero(grads, limit):
    return _each(grads, lambda g: np.clip(g, 0, limit))


@mistake("clip_by_value", "rescaled by the largest entry",
         "it equals each gradient rescaled by limit / max|g|, which keeps its direction, not clipped entry by "
         f"entry ({_CLIP})")
def _clipv_rescaled(grads, limit):
    return _each(grads, lambda g: g * min(1.0, limit / np.abs(g).max()))


@mistake("clip_by_value", "clipped by norm",
         "it equals each gradient rescaled to norm at most `limit`, which is clipping by norm, not by value "
         f"({_CLIP})")
def _clipv_by_norm(grads, limit):
    return _each(grads, lambda g: g * min(1.0, limit / np.sqrt(np.sum(g**2))))


@mistake("clip_by_value", "every entry set to +-limit",
         f"it equals sign(g) * limit: the entries already inside [-limit, limit] were moved too ({_CLIP})")
def _clipv_sign(grads, limit):
    return _each(grads, lambda g: np.sign(g) * limit)


@mistake("clip_by_value", "limit ignored",
         "it equals the gradients clipped to [-5, 5], min-char-rnn's value, although another `limit` was "
         f"passed ({_CLIP})")
def _clipv_limit_ignored(grads, limit):
    if limit == 5:
        raise ValueError("same as the reference")
    return clip_by_value(grads, 5.0)


@_lock.protect
def _global_norm(grads):
    return float(np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads.values())))


@_lock.protect
def _rescaled(grads, factor, total_norm):
    return _each(grads, lambda g: g * factor), total_norm


@mistake("clip_by_global_norm", "one norm per gradient",
         f"it equals each gradient clipped to its own norm, not all of them by one global norm ({_CLIP})")
def _clipn_per_tensor(grads, max_norm, eps=1e-6):
    clipped = {name: clip_by_global_norm({name: g}, max_norm, eps)[0][name] for name, g in grads.items()}
    return clipped, clip_by_global_norm(grads, max_norm, eps)[1]


@mistake("clip_by_global_norm", "eps missing",
         f"it equals the clipping without `eps` in the denominator of the factor ({_CLIP})")
def _clipn_no_eps(grads, max_norm, eps=1e-6):
    return clip_by_global_norm(grads, max_norm, 0.0)


@mistake("clip_by_global_norm", "scaled up below the threshold",
         "it equals the gradients rescaled even when their norm is below max_norm, which scales them up "
         f"({_CLIP})")
def _clipn_always_scaled(grads, max_norm, eps=1e-6):
    total = _global_norm(grads)
    return _rescaled(grads, max_norm / (total + eps), total)


@mistake("clip_by_global_norm", "max instead of min",
         "it equals the factor taken as the larger of 1 and max_norm / (total_norm + eps): large gradients "
         f"pass unchanged and small ones are scaled up ({_CLIP})")
def _clipn_max(grads, max_norm, eps=1e-6):
    total = _global_norm(grads)
    return _rescaled(grads, max(1.0, max_norm / (total + eps)), total)


@mistake("clip_by_global_norm", "norm after clipping",
         f"your `total_norm` is the norm after clipping, not the norm of the gradients you were given ({_CLIP})")
def _clipn_norm_after(grads, max_norm, eps=1e-6):
    clipped, total = clip_by_global_norm(grads, max_norm, eps)
    return clipped, total * min(1.0, max_norm / (total + eps))


@mistake("clip_by_global_norm", "squared norm",
         f"it equals the clipping with the sum of squares taken as the norm, without its square root ({_CLIP})")
def _clipn_squared(grads, max_norm, eps=1e-6):
    total = _global_norm(grads) ** 2
    return _rescaled(grads, min(1.0, max_norm / (total + eps)), total)


@mistake("clip_by_global_norm", "sum of the norms",
         f"it equals the clipping with the sum of the gradients' own norms taken as the global norm ({_CLIP})")
def _clipn_sum_of_norms(grads, max_norm, eps=1e-6):
    total = float(sum(_global_norm({name: g}) for name, g in grads.items()))
    return _rescaled(grads, min(1.0, max_norm / (total + eps)), total)


@_lock.protect
def _jacobian_norms(hs, W_hh, nonlinearity="tanh", *, derivative=None, factor=None, latest_left=True, order=2,
                    single=False):
    """`jacobian_product_norms` with one thing done wrong (chosen by the keywords), one sequence at a time."""
    hs = np.asarray(hs, dtype=np.float64)
    W_hh = np.asarray(W_hh, dtype=np.float64)
    T, N, H = hs.shape
    dphi = 1 - hs**2 if nonlinearity == "tanh" else (hs > 0).astype(np.float64)
    if derivative is not None:
        dphi = derivative(hs, dphi)
    norms = np.ones((T + 1, N))
    for n in range(N):
        P = np.eye(H)
        for t in range(T, 0, -1):  # hs[t - 1] is h_t
            J = dphi[t - 1, n][:, None] * W_hh if factor is None else factor(dphi[t - 1, n], W_hh)
            P = J if single else (P @ J if latest_left else J @ P)
            norms[t - 1, n] = np.linalg.norm(P, order)
    return norms


@mistake("jacobian_product_norms", "activation derivative forgotten",
         "it equals the norms with J_t = W_hh: the nonlinearity's derivative is left out of each step's "
         f"Jacobian ({_JAC})")
def _jac_no_derivative(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, derivative=lambda hs, dphi: np.ones_like(dphi))


@mistake("jacobian_product_norms", "tanh derivative not squared",
         f"it equals the norms with the tanh derivative taken as 1 - h_t, not squared ({_JAC})")
def _jac_not_squared(hs, W_hh, nonlinearity="tanh"):
    if nonlinearity != "tanh":
        raise ValueError("a tanh mistake")
    return _jacobian_norms(hs, W_hh, nonlinearity, derivative=lambda hs, dphi: 1 - hs)


@mistake("jacobian_product_norms", "W_hh transposed",
         f"it equals the norms with W_hh transposed in every step's Jacobian ({_JAC})")
def _jac_transposed(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, factor=lambda d, W: d[:, None] * W.T)


@mistake("jacobian_product_norms", "derivative scales the columns",
         f"it equals the norms with the derivative scaling the columns of W_hh, not its rows ({_JAC})")
def _jac_columns(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, factor=lambda d, W: W * d[None, :])


@mistake("jacobian_product_norms", "product in the wrong order",
         f"it equals the norms of J_(k+1) ... J_T, the product of the Jacobians in the wrong order ({_JAC})")
def _jac_wrong_order(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, latest_left=False)


@mistake("jacobian_product_norms", "Frobenius norm",
         f"it equals the Frobenius norms of the products, not their spectral norms ({_JAC})")
def _jac_frobenius(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, order=None)


@mistake("jacobian_product_norms", "norms of single factors",
         f"it equals ||J_(k+1)||, the norm of a single step's Jacobian, not of the whole product ({_JAC})")
def _jac_single_factors(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, single=True)


@mistake("jacobian_product_norms", "stored one step late",
         "it holds at index k the norm that belongs at k - 1 (and 1 at k = 0), an off-by-one in the lag "
         f"({_JAC})")
def _jac_late(hs, W_hh, nonlinearity="tanh"):
    norms = jacobian_product_norms(hs, W_hh, nonlinearity)
    return np.concatenate([np.ones((1, norms.shape[1])), norms[:-1]])


@mistake("jacobian_product_norms", "derivative from the previous state",
         "it equals the norms with the derivative in J_t read from the previous state h_(t-1), not from the "
         f"state the step produces ({_JAC})")
def _jac_previous_state(hs, W_hh, nonlinearity="tanh"):
    return _jacobian_norms(hs, W_hh, nonlinearity, derivative=lambda hs, dphi: np.roll(dphi, 1, axis=0))


@_lock.protect
def _verdict(r, tol):
    return "vanishing" if r < 1 - tol else ("bounded" if r <= 1 + tol else "may explode")


@_lock.protect
def _regime_with(W_hh, gamma, tol, size):
    r = float(gamma) * float(size(np.asarray(W_hh, dtype=np.float64)))
    return _verdict(r, tol), r


@mistake("gradient_regime", "spectral radius",
         "it equals what you get from the spectral radius (the largest |eigenvalue|), which differs from the "
         f"largest singular value for a non-normal W_hh ({_RADIUS})")
def _regime_radius(W_hh, gamma=1.0, tol=1e-8):
    return _regime_with(W_hh, gamma, tol, lambda W: np.abs(np.linalg.eigvals(W)).max())


@mistake("gradient_regime", "gamma ignored",
         f"it equals what you get with gamma = 1: the bound on |phi'| is left out ({_BOUND})")
def _regime_no_gamma(W_hh, gamma=1.0, tol=1e-8):
    if gamma == 1:
        raise ValueError("same as the reference")
    return gradient_regime(W_hh, 1.0, tol)


@mistake("gradient_regime", "Frobenius norm",
         f"it equals what you get from the Frobenius norm of W_hh, not its largest singular value ({_BOUND})")
def _regime_frobenius(W_hh, gamma=1.0, tol=1e-8):
    return _regime_with(W_hh, gamma, tol, np.linalg.norm)


@mistake("gradient_regime", "smallest singular value",
         f"it equals what you get from the smallest singular value of W_hh, not the largest ({_BOUND})")
def _regime_smallest(W_hh, gamma=1.0, tol=1e-8):
    return _regime_with(W_hh, gamma, tol, lambda W: np.linalg.svd(W, compute_uv=False)[-1])


@mistake("gradient_regime", "no bounded verdict",
         "your `regime` is \"may explode\" where r equals 1 within tol, the case in which the products can "
         f"never grow ({_BOUND})")
def _regime_never_bounded(W_hh, gamma=1.0, tol=1e-8):
    regime, r = gradient_regime(W_hh, gamma, tol)
    return ("may explode" if regime == "bounded" else regime), r


@mistake("gradient_regime", "tol ignored",
         "your `regime` compares r with 1 exactly, although r within tol of 1 counts as 1 (an orthogonal W_hh "
         f"has sigma_max = 1 only up to rounding) ({_BOUND})")
def _regime_no_tol(W_hh, gamma=1.0, tol=1e-8):
    r = gradient_regime(W_hh, gamma, tol)[1]
    return _verdict(r, 0.0), r


@mistake("gradient_regime", "ends of the band excluded",
         "your `regime` leaves the ends of the band of width tol around 1 out of \"bounded\" (with tol = 0 and"
         f" r = 1 exactly, too) ({_BOUND})")
def _regime_strict(W_hh, gamma=1.0, tol=1e-8):
    r = gradient_regime(W_hh, gamma, tol)[1]
    return ("vanishing" if r <= 1 - tol else ("bounded" if r < 1 + tol else "may explode")), r


# ----------------------------------------------------------------------------------------- chapter 6
_BI = "chapter 6, section \"Bidirectional RNNs\""
_LAST = "chapter 6, section \"The last state of a padded batch\""
_POOL = "chapter 6, section \"Pooling over time\""
_GREEDY = "chapter 6, section \"Greedy decoding\""
_BEAM = "chapter 6, section \"Beam search\""
_LENGTH = "chapter 6, section \"Length normalisation\""


def _padded(x, lengths):
    """True if some sequence of the batch is shorter than T, so that padding is present."""
    return lengths is not None and bool(np.any(np.asarray(lengths) < np.shape(x)[0]))


@_lock.protect
def _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh", *,
                   from_padded_end=False, put_back=True, reversed_input=True, backward_params=None, zero_padding=True,
                   h_n_backward_at_start=False, h_n_forward_at_end=False):
    """`bidirectional_rnn_forward` with one thing done wrong (chosen by the keywords)."""
    x = np.asarray(x, dtype=np.float64)
    T, N, _ = x.shape
    L = np.full(N, T) if lengths is None else np.asarray(lengths)
    t = np.arange(T)[:, None]
    valid = t < L
    rev = np.broadcast_to(T - 1 - t, (T, N)) if from_padded_end else np.where(valid, L - 1 - t, t)
    n = np.arange(N)
    f, _ = rnn_forward(x, h0_fwd, **params_fwd, nonlinearity=nonlinearity)
    pb = params_bwd if backward_params is None else backward_params
    if reversed_input:
        b, _ = rnn_forward(x[rev, n], h0_bwd, **pb, nonlinearity=nonlinearity)
        b = b[rev, n] if put_back else b
    else:
        b, _ = rnn_forward(x, h0_bwd, **pb, nonlinearity=nonlinearity)
    out = np.concatenate([f, b], axis=-1)
    if zero_padding:
        out = out * valid[..., None]
    h_n = np.stack([f[-1] if h_n_forward_at_end else f[L - 1, n], b[L - 1, n] if h_n_backward_at_start else b[0]])
    return out, h_n


@mistake("bidirectional_rnn_forward", "directions in the wrong order",
         f"it equals the output with the two directions' halves in the wrong order, not torch's ({_BI})")
def _bi_swapped(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    out, h_n = bidirectional_rnn_forward(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity)
    H = out.shape[-1] // 2
    return np.concatenate([out[..., H:], out[..., :H]], axis=-1), h_n


@mistake("bidirectional_rnn_forward", "backward states not put back in time order",
         "its backward half is in the order the backward direction read the sequence (the state after x_L "
         f"first), not in time order ({_BI})")
def _bi_not_put_back(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity, put_back=False)


@mistake("bidirectional_rnn_forward", "backward direction starts at the padded end",
         "it equals the output of a backward direction that starts at the padded end T for every sequence, so "
         f"a short sequence reads its padding first ({_BI})")
def _bi_from_padded_end(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    if not _padded(x, lengths):
        raise ValueError("same as the reference without padding")
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity, from_padded_end=True)


@mistake("bidirectional_rnn_forward", "backward direction not reversed",
         f"its backward half equals a second RNN run forward in time ({_BI})")
def _bi_not_reversed(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity, reversed_input=False)


@mistake("bidirectional_rnn_forward", "same parameters for both directions",
         f"its backward half was computed with `params_fwd`, the forward direction's parameters ({_BI})")
def _bi_same_params(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity,
                          backward_params=params_fwd)


@mistake("bidirectional_rnn_forward", "padding not zeroed",
         f"it equals the output with states at the padded steps, where torch's padded output is zero ({_BI})")
def _bi_padding_kept(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    if not _padded(x, lengths):
        raise ValueError("same as the reference without padding")
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity, zero_padding=False)


@mistake("bidirectional_rnn_forward", "h_n backward at the last step",
         "your `h_n[1]` is the backward state at the last real step, where the backward direction starts, not "
         f"where it ends ({_BI})")
def _bi_h_n_backward_last(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity,
                          h_n_backward_at_start=True)


@mistake("bidirectional_rnn_forward", "h_n forward at the padded end",
         f"your `h_n[0]` is the forward state at the padded end T, not at each sequence's own last step ({_BI})")
def _bi_h_n_forward_padded(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    if not _padded(x, lengths):
        raise ValueError("same as the reference without padding")
    return _bidirectional(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths, nonlinearity, h_n_forward_at_end=True)


@_lock.protect
def _gather(hs, steps):
    """hs[steps[n], n] for every sequence n (numpy indexing, so a step of -1 wraps round as in a student's code)."""
    hs = np.asarray(hs, dtype=np.float64)
    return hs[np.asarray(steps), np.arange(hs.shape[1])]


@mistake("last_valid_state", "output[-1]",
         "it equals hs[-1], the state after the padded end T, right only for the sequences of full length "
         f"({_LAST})")
def _last_padded_end(hs, lengths):
    return np.asarray(hs, dtype=np.float64)[-1]


@mistake("last_valid_state", "one step too late",
         f"it equals the states one step after each sequence's end ({_LAST})")
def _last_late(hs, lengths):
    return last_valid_state(hs, np.asarray(lengths) + 1)


@mistake("last_valid_state", "one step too early",
         "it equals the states one step before each sequence's end (and hs[-1] for a sequence of length 1) "
         f"({_LAST})")
def _last_early(hs, lengths):
    return _gather(hs, np.asarray(lengths) - 2)


@mistake("last_valid_state", "time and batch indices swapped",
         f"it equals the states gathered with the time and batch indices swapped ({_LAST})")
def _last_swapped(hs, lengths):
    hs = np.asarray(hs, dtype=np.float64)
    return hs[np.arange(hs.shape[1]), np.asarray(lengths) - 1]


@mistake("last_valid_state", "one length for the whole batch",
         f"it equals every sequence read at the first sequence's last step ({_LAST})")
def _last_first_length(hs, lengths):
    return np.asarray(hs, dtype=np.float64)[int(np.asarray(lengths)[0]) - 1]


def _pool_parts(hs, mask):
    """The states, the mask as floats, and the masked sum over time (the reference times each sequence's length)."""
    hs = np.asarray(hs, dtype=np.float64)
    m = np.asarray(mask, dtype=np.float64)
    return hs, m, masked_mean_pool(hs, mask) * m.sum(axis=0)[:, None]


@mistake("masked_mean_pool", "divided by T",
         "it equals the masked sum divided by T, the padded length, not by each sequence's own length "
         f"({_POOL})")
def _pool_over_T(hs, mask):
    hs, m, total = _pool_parts(hs, mask)
    return total / hs.shape[0]


@mistake("masked_mean_pool", "mask ignored",
         f"it equals the plain mean over time, with the padding averaged in ({_POOL})")
def _pool_no_mask(hs, mask):
    return masked_mean_pool(hs, np.ones(np.shape(mask), dtype=bool))


@mistake("masked_mean_pool", "sum, not mean",
         f"it equals the masked sum over time, not the mean ({_POOL})")
def _pool_sum(hs, mask):
    return _pool_parts(hs, mask)[2]


@mistake("masked_mean_pool", "divided by every real step of the batch",
         "it equals the masked sum divided by the number of real steps of the whole batch, not of each "
         f"sequence ({_POOL})")
def _pool_batch_count(hs, mask):
    hs, m, total = _pool_parts(hs, mask)
    return total / m.sum()


@mistake("masked_mean_pool", "padding in the sum",
         f"it equals the sum over every step, padding included, divided by the lengths ({_POOL})")
def _pool_padding_summed(hs, mask):
    hs, m, _ = _pool_parts(hs, mask)
    return hs.sum(axis=0) / m.sum(axis=0)[:, None]


@_lock.protect
def _greedy(step_fn, h0, start_token, max_len, end_token, *, stop=True, keep_end=True, late_stop=False,
            feed_back=True, carry=True, extra=0, last_only=False):
    """`greedy_decode` with one thing done wrong (chosen by the keywords)."""
    tokens, logp, h, token = [], 0.0, h0, start_token
    while len(tokens) < max_len + extra:
        log_probs, h_next = step_fn(token if feed_back else start_token, h if carry else h0)
        h = h_next
        token = int(np.argmax(log_probs))
        if stop and not keep_end and token == end_token:
            break
        ended = bool(tokens) and tokens[-1] == end_token
        tokens.append(token)
        logp = float(log_probs[token]) if last_only else logp + float(log_probs[token])
        if stop and (ended if late_stop else token == end_token):
            break
    return tokens, logp


@mistake("greedy_decode", "no stop at the end token",
         f"it equals the output that goes on after the end token until max_len tokens ({_GREEDY})")
def _greedy_no_stop(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, stop=False)


@mistake("greedy_decode", "end token left out",
         "it equals the output without its end token (the end token is part of the output, and of `logp`) "
         f"({_GREEDY})")
def _greedy_no_end(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, keep_end=False)


@mistake("greedy_decode", "stops one token late",
         f"it equals the output with one more token after the end token ({_GREEDY})")
def _greedy_late_stop(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, late_stop=True)


@mistake("greedy_decode", "token not fed back",
         f"it equals the output of a decoder fed `start_token` at every step ({_GREEDY})")
def _greedy_no_feedback(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, feed_back=False)


@mistake("greedy_decode", "state not carried",
         f"it equals the output of a decoder started from `h0` at every step ({_GREEDY})")
def _greedy_no_state(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, carry=False)


@mistake("greedy_decode", "one token too many",
         f"it equals the output with max_len + 1 tokens when no end token comes ({_GREEDY})")
def _greedy_too_long(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, extra=1)


@mistake("greedy_decode", "start token in the output",
         f"it equals the output with `start_token` in front ({_GREEDY})")
def _greedy_with_start(step_fn, h0, start_token, max_len, end_token):
    tokens, logp = greedy_decode(step_fn, h0, start_token, max_len, end_token)
    return [start_token] + tokens, logp


@mistake("greedy_decode", "probability, not log-probability",
         f"your `logp` is the probability of the output, not its log-probability ({_GREEDY})")
def _greedy_probability(step_fn, h0, start_token, max_len, end_token):
    tokens, logp = greedy_decode(step_fn, h0, start_token, max_len, end_token)
    return tokens, float(np.exp(logp))


@mistake("greedy_decode", "log-probability of the last token only",
         f"your `logp` is the log-probability of the last token only, not of the whole output ({_GREEDY})")
def _greedy_last_logp(step_fn, h0, start_token, max_len, end_token):
    return _greedy(step_fn, h0, start_token, max_len, end_token, last_only=True)


@_lock.protect
def _beam(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0, *, finished_rule="aside",
          length_offset=0, stop_at_first=False):
    """`beam_search` with one thing done wrong (chosen by the keywords).

    finished_rule: "aside" (right), "extend" (finished hypotheses stay in the beam and are extended), "compete"
    (they re-enter the candidates at every step) or "drop" (they are thrown away).
    """
    live, finished = [([], 0.0, h0)], []
    for _ in range(max_len):
        candidates = []
        if finished_rule == "compete":
            candidates, finished = list(finished), []
        for tokens, logp, h in live:
            log_probs, h_next = step_fn(tokens[-1] if tokens else start_token, h)
            candidates += [(tokens + [v], logp + float(log_probs[v]), h_next) for v in range(len(log_probs))]
        order = np.argsort([-c[1] for c in candidates], kind="stable")
        live = []
        for i in order[:beam_width]:
            if finished_rule != "extend" and candidates[i][0][-1] == end_token:
                if finished_rule != "drop":
                    finished.append(candidates[i])
            else:
                live.append(candidates[i])
        if not live or (stop_at_first and finished):
            break
    hypotheses = finished + live
    scores = [logp / (len(tokens) + length_offset) ** alpha for tokens, logp, _ in hypotheses]
    best = int(np.argmax(scores))
    return hypotheses[best][0], float(scores[best])


@mistake("beam_search", "no length normalisation",
         "it equals the result ranked by the raw log-probability although alpha > 0: the length normalisation "
         f"is missing ({_LENGTH})")
def _beam_no_norm(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    if alpha == 0:
        raise ValueError("same as the reference")
    return beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, 0.0)  # the search ignores alpha


@mistake("beam_search", "alpha taken as 1",
         "it equals the result ranked by the log-probability per token whatever alpha, as if alpha were 1 "
         f"({_LENGTH})")
def _beam_alpha_one(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    if alpha == 1:
        raise ValueError("same as the reference")
    return beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, 1.0)


@mistake("beam_search", "start token counted in the length",
         f"it equals the result normalised with the start token counted in the length ({_LENGTH})")
def _beam_length_plus_one(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    if alpha == 0:
        raise ValueError("same as the reference")
    return _beam(step_fn, h0, start_token, beam_width, max_len, end_token, alpha, length_offset=1)


@mistake("beam_search", "finished hypotheses extended",
         "it equals the search in which a hypothesis that ends with `end_token` stays in the beam and is "
         f"extended further ({_BEAM})")
def _beam_extends_finished(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    return _beam(step_fn, h0, start_token, beam_width, max_len, end_token, alpha, finished_rule="extend")


@mistake("beam_search", "finished hypotheses compete again",
         "it equals the search in which finished hypotheses re-enter the candidates at every step and take "
         f"slots of the beam ({_BEAM})")
def _beam_finished_compete(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    return _beam(step_fn, h0, start_token, beam_width, max_len, end_token, alpha, finished_rule="compete")


@mistake("beam_search", "finished hypotheses dropped",
         f"it equals the search in which hypotheses that end with `end_token` are thrown away ({_BEAM})")
def _beam_drops_finished(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    return _beam(step_fn, h0, start_token, beam_width, max_len, end_token, alpha, finished_rule="drop")


@mistake("beam_search", "stops at the first finished hypothesis",
         "it equals the search stopped as soon as one hypothesis finishes, although live hypotheses remain "
         f"({_BEAM})")
def _beam_stops_early(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    return _beam(step_fn, h0, start_token, beam_width, max_len, end_token, alpha, stop_at_first=True)


# ----------------------------------------------------------------------------------------- chapter 7
# train_forecaster trains a model: its output has no single right value to compare with a known mistake's.
_VOCAB = "chapter 7, section \"The text and its vocabulary\""
_SAMPLE = "chapter 7, section \"Sampling from the model\""
_WINDOWS = "chapter 7, section \"Windows, scaling and baselines\""


@_lock.protect
def _vocab_of(itos):
    """(stoi, itos) for the characters `itos` in the given order."""
    itos = list(itos)
    return {c: i for i, c in enumerate(itos)}, itos


@mistake("build_vocab", "order of first appearance",
         "it equals the vocabulary in the order the characters first appear in the text, which is not sorted "
         f"({_VOCAB})")
def _vocab_appearance(text):
    return _vocab_of(dict.fromkeys(text))


@mistake("build_vocab", "ids counted from 1",
         f"your `stoi` counts from 1, so that it does not invert `itos` ({_VOCAB})")
def _vocab_from_one(text):
    stoi, itos = build_vocab(text)
    return {c: i + 1 for c, i in stoi.items()}, itos


@mistake("build_vocab", "characters not deduplicated",
         f"it equals a vocabulary that lists every repeated character again ({_VOCAB})")
def _vocab_repeats(text):
    return {c: i for i, c in enumerate(sorted(text))}, sorted(text)


@mistake("build_vocab", "sorted by frequency",
         f"it equals the vocabulary sorted by how often each character occurs ({_VOCAB})")
def _vocab_by_frequency(text):
    counts = {}
    for c in text:
        counts[c] = counts.get(c, 0) + 1
    return _vocab_of(sorted(counts, key=lambda c: -counts[c]))  # stable: ties in order of first appearance


@mistake("build_vocab", "words, not characters",
         "it equals the vocabulary of the words of the text, where a character-level model has one entry per "
         f"distinct character ({_VOCAB})")
def _vocab_words(text):
    return _vocab_of(sorted(set(text.split())))


@mistake("encode", "own sorted vocabulary",
         "it equals the ids in a sorted vocabulary built from the text itself, not in the `stoi` you were "
         f"given ({_VOCAB})")
def _enc_own_sorted(text, stoi):
    return encode(text, build_vocab(text)[0])


@mistake("encode", "own vocabulary in order of appearance",
         "it equals the ids numbered in the order the characters first appear in the text, not those of the "
         f"`stoi` you were given ({_VOCAB})")
def _enc_own_appearance(text, stoi):
    return np.array([_vocab_of(dict.fromkeys(text))[0][c] for c in text], dtype=np.int64)


@mistake("encode", "ids shifted by one",
         f"it equals every id of `stoi` plus 1 ({_VOCAB})")
def _enc_plus_one(text, stoi):
    return encode(text, stoi) + 1


@mistake("encode", "position among the keys of stoi",
         "it equals each character's position in the order of the keys of `stoi`, which need not be its id "
         f"({_VOCAB})")
def _enc_key_position(text, stoi):
    keys = list(stoi)
    return np.array([keys.index(c) for c in text], dtype=np.int64)


@mistake("encode", "position in the text",
         f"it equals the position where each character first occurs in the text, not its id ({_VOCAB})")
def _enc_text_position(text, stoi):
    return np.array([text.index(c) for c in text], dtype=np.int64)


@mistake("decode", "joined with spaces",
         f"it equals the characters joined with spaces, which encode would not give back ({_VOCAB})")
def _dec_spaces(ids, itos):
    return " ".join(itos[i] for i in ids)


@mistake("decode", "index one too low",
         f"it equals the text read with every index one too low ({_VOCAB})")
def _dec_minus_one(ids, itos):
    return decode(np.asarray([i - 1 for i in ids], dtype=np.int64) % len(itos), itos)


@mistake("decode", "first index dropped",
         f"it equals the text without its first character ({_VOCAB})")
def _dec_first_dropped(ids, itos):
    return decode(list(ids)[1:], itos)


@mistake("decode", "itos sorted again",
         "it equals the text read with `itos` sorted again, which changes which character an index means "
         f"({_VOCAB})")
def _dec_sorted(ids, itos):
    return decode(ids, sorted(itos))


@mistake("decode", "last index dropped",
         f"it equals the text without its last character (an off-by-one in the loop's range) ({_VOCAB})")
def _dec_last_dropped(ids, itos):
    return decode(list(ids)[:-1], itos)


@_lock.protect
def _sample(logits, temperature, rng, *, scaled=lambda z, tau: z / tau, normalised=True, divide_probs=False,
            one_u=False):
    """`sample_with_temperature` with one thing done wrong (chosen by the keywords)."""
    z = scaled(np.asarray(logits, dtype=np.float64), temperature)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    if normalised:
        p = p / p.sum(axis=-1, keepdims=True)
    if divide_probs:
        p = p / temperature
    c = np.cumsum(p, axis=-1)
    V = z.shape[-1]
    if z.ndim == 1:
        return int(min((c <= rng.random()).sum(), V - 1))
    u = np.full(z.shape[0], rng.random()) if one_u else rng.random(z.shape[0])
    return np.minimum((c <= u[:, None]).sum(axis=-1), V - 1).astype(np.int64)


@mistake("sample_with_temperature", "temperature multiplies",
         "it equals the draw with the temperature multiplying the scores, so that a high temperature sharpens "
         f"the distribution ({_SAMPLE})")
def _temp_multiplies(logits, temperature, rng):
    if temperature == 1:
        raise ValueError("same as the reference")
    return _sample(logits, temperature, rng, scaled=lambda z, tau: z * tau)


@mistake("sample_with_temperature", "argmax",
         "it equals the argmax of the scores, the most probable index, every time: nothing is drawn (the "
         f"argmax is only the limit tau -> 0) ({_SAMPLE})")
def _temp_argmax(logits, temperature, rng):
    z = np.asarray(logits, dtype=np.float64)
    return int(np.argmax(z)) if z.ndim == 1 else np.argmax(z, axis=-1).astype(np.int64)


@mistake("sample_with_temperature", "not normalised",
         "it equals the draw from unnormalised probabilities, whose cumulative sum does not end at 1 "
         f"({_SAMPLE})")
def _temp_unnormalised(logits, temperature, rng):
    return _sample(logits, temperature, rng, normalised=False)


@mistake("sample_with_temperature", "temperature ignored",
         f"it equals the draw with the temperature ignored, as if it were 1 ({_SAMPLE})")
def _temp_ignored(logits, temperature, rng):
    if temperature == 1:
        raise ValueError("same as the reference")
    return sample_with_temperature(logits, 1.0, rng)


@mistake("sample_with_temperature", "temperature divides the probabilities",
         "it equals the draw with the temperature applied to the probabilities after the softmax (which then "
         f"no longer sum to 1), not to the scores ({_SAMPLE})")
def _temp_divides_probs(logits, temperature, rng):
    if temperature == 1:
        raise ValueError("same as the reference")
    return _sample(logits, temperature, rng, scaled=lambda z, tau: z, divide_probs=True)


@mistake("sample_with_temperature", "one u for the whole batch",
         f"it equals the draws with one uniform number shared by every row ({_SAMPLE})")
def _temp_one_u(logits, temperature, rng):
    if np.ndim(logits) != 2:
        raise ValueError("a batch mistake")
    return _sample(logits, temperature, rng, one_u=True)


@mistake("make_windows", "target overlaps the window",
         "your `Y` starts at the last value of the window, a leak: the model is asked to forecast a value it "
         f"was given ({_WINDOWS})")
def _win_target_overlaps(series, window, horizon):
    X, Y = make_windows(series, window, horizon)
    s = np.asarray(series, dtype=np.float64)
    return X, s[np.arange(Y.shape[0])[:, None] + window - 1 + np.arange(horizon)[None, :]]


@mistake("make_windows", "window reversed in time",
         f"your `X` holds each window backwards, the newest value first ({_WINDOWS})")
def _win_reversed(series, window, horizon):
    X, Y = make_windows(series, window, horizon)
    return X[::-1], Y


@mistake("make_windows", "window one step late",
         "your `X` holds each window one step late, so that its last value is the first target, a leak "
         f"({_WINDOWS})")
def _win_late(series, window, horizon):
    X, Y = make_windows(series, window, horizon)
    s = np.asarray(series, dtype=np.float64)
    return s[np.arange(window)[:, None] + np.arange(Y.shape[0])[None, :] + 1][..., None], Y


@mistake("make_windows", "window one step early",
         "your `X` holds each window one step early (with the series' last value in the first window, where "
         f"numpy wraps round) ({_WINDOWS})")
def _win_early(series, window, horizon):
    X, Y = make_windows(series, window, horizon)
    s = np.asarray(series, dtype=np.float64)
    return s[np.arange(window)[:, None] + np.arange(Y.shape[0])[None, :] - 1][..., None], Y


@mistake("make_windows", "reshaped instead of transposed",
         "your `X` has the right shape but scrambled values: the windows stacked as rows were reshaped to "
         f"(window, N, 1), which does not move time to the first axis ({_WINDOWS})")
def _win_reshaped(series, window, horizon):
    X, Y = make_windows(series, window, horizon)
    return X[..., 0].T.reshape(X.shape), Y
