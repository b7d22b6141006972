"""The catalogue of known mistakes: for each graded function, what students really get wrong, computed.

Each entry runs the same inputs through a deliberately wrong variant of the reference (a transposed
weight, a missing bias, the wrong activation, ...). When a student's output is wrong, the visible checks
compare it with every variant and, if one matches, say which mistake it is in a teaching assistant's words.
Entries are built from the reference, so they are locked like it while a student's function is graded.

Book: the "Checks that explain your mistakes" box of each chapter's graded notebook.
"""

import copy
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _lock
from .activations import log_softmax, sigmoid, softmax
from .gradcheck import eval_numerical_gradient_array
from .init import GATES
from .layers import affine_backward, affine_forward
from .losses import softmax_cross_entropy
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
    inputs : dict of the keyword arguments the function was called with (each mistake runs on its own deep
             copy, so one that changes its inputs in place, like a gradient checker or an optimiser step that
             `update` makes, spoils nothing for the next)
    index : which element of the returned tuple `got` is (None if the function returns one value)

    Returns
    -------
    matches : list of Mistake (empty if none matches)
    """
    matches = []
    for entry in CATALOGUE.get(function, []):
        try:
            with np.errstate(all="ignore"):
                out = entry.compute(**copy.deepcopy(inputs))
            candidate = out if index is None else out[index]
        except Exception:  # the mistake is impossible on these shapes (e.g. a transpose that cannot multiply)
            continue
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
         "it equals the one-sided difference (f(x + h e_i) - f(x)) / h, whose error shrinks only like h: use the "
         f"central difference (f(x + h e_i) - f(x - h e_i)) / (2h), accurate to order h**2 ({_CENTRAL})")
def _grad_one_sided(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, one_sided=True)


@mistake("eval_numerical_gradient_array", "divided by h, not 2h",
         "it is twice the gradient: the central difference spans 2h, from x - h to x + h, so divide by `2 * h` "
         f"({_CENTRAL})")
def _grad_over_h(f, x, df, h=1e-5):
    return 2 * eval_numerical_gradient_array(f, np.array(x, dtype=np.float64, copy=True), df, h)


@mistake("eval_numerical_gradient_array", "df ignored",
         "it equals the gradient of sum(f(x)), as if `df` were all ones: weight the change of f by the upstream "
         f"gradient, np.sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h) ({_CENTRAL})")
def _grad_df_ignored(f, x, df, h=1e-5):
    return eval_numerical_gradient_array(f, np.array(x, dtype=np.float64, copy=True), np.ones(np.shape(df)), h)


@mistake("eval_numerical_gradient_array", "x not restored",
         "it equals what you get when `x[i]` is not put back after its turn: every later entry is then computed at "
         f"a shifted point; restore `x[i]` to its old value before you move to the next index ({_CENTRAL})")
def _grad_not_restored(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, restore=False)


@mistake("eval_numerical_gradient_array", "output of f not copied",
         "it equals what you get when you keep what `f(x)` returns without copying it: f may return a view of `x`, "
         "which changes as soon as you change `x` again; copy it, e.g. `np.array(f(x), copy=True)` "
         f"({_CENTRAL})")
def _grad_not_copied(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, copy_output=False)


@mistake("eval_numerical_gradient_array", "h ignored",
         "it equals the result with the default step h = 1e-5, although another `h` was passed: use the "
         f"argument `h`, not a constant of your own ({_STEP_SIZE})")
def _grad_h_ignored(f, x, df, h=1e-5):
    if h == 1e-5:
        raise ValueError("same as the reference")
    return eval_numerical_gradient_array(f, np.array(x, dtype=np.float64, copy=True), df)


@mistake("eval_numerical_gradient_array", "only the matching output entry",
         "it equals what you get by keeping only entry i of the change of f(x) (times df[i]), as if f worked entry "
         "by entry: every output of f may depend on x[i], so sum the whole change times `df` "
         f"({_CENTRAL})")
def _grad_diagonal(f, x, df, h=1e-5):
    return _numerical_gradient(f, x, df, h, diagonal=True)


def _step_cache(cache):
    """The cache of `rnn_step_forward`, also when given as the plain tuple the graded notebook's forward returns."""
    return cache if isinstance(cache, RNNStepCache) else RNNStepCache(*cache)


@mistake("rnn_step_backward", "activation derivative forgotten",
         "it equals the gradients with `da = dh_next`: backpropagate through the nonlinearity first, "
         f"da = dh_next * (1 - h_next**2) for tanh (dh_next * (h_next > 0) for relu) ({_STEP_BWD})")
def _step_bwd_no_derivative(dh_next, cache):
    c = _step_cache(cache)
    flat = np.zeros_like(c.h_next) if c.nonlinearity == "tanh" else np.ones_like(c.h_next)  # phi' = 1 everywhere
    return rnn_step_backward(dh_next, c._replace(h_next=flat))


@mistake("rnn_step_backward", "tanh applied twice in the derivative",
         "it equals da = dh_next * (1 - tanh(h_next)**2): h_next is already tanh(a), so tanh'(a) = 1 - h_next**2, "
         f"with no second tanh ({_STEP_BWD})")
def _step_bwd_tanh_twice(dh_next, cache):
    c = _step_cache(cache)
    if c.nonlinearity != "tanh":
        raise ValueError("a tanh mistake")
    return rnn_step_backward(dh_next, c._replace(h_next=np.tanh(c.h_next)))


@mistake("rnn_step_backward", "dh_prev through W_hh.T",
         "your `dh_prev` equals `da @ W_hh.T`: the forward pass computed `h_prev @ W_hh.T`, so the gradient flows "
         f"back as `da @ W_hh` ({_STEP_BWD})")
def _step_bwd_dh_prev_transposed(dh_next, cache):
    c = _step_cache(cache)
    return rnn_step_backward(dh_next, c._replace(W_hh=c.W_hh.T))


@mistake("rnn_step_backward", "dW_hh transposed",
         "your `dW_hh` equals `h_prev.T @ da`, the transpose of the gradient (the shapes agree only because W_hh is "
         f"square): the gradient of W_hh is `da.T @ h_prev` ({_STEP_BWD})")
def _step_bwd_dW_hh_transposed(dh_next, cache):
    dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh = rnn_step_backward(dh_next, _step_cache(cache))
    return dx_t, dh_prev, dW_ih, dW_hh.T, db_ih, db_hh


@mistake("rnn_step_backward", "dW_hh from h_next",
         "your `dW_hh` equals `da.T @ h_next`: W_hh multiplied the previous state in the forward pass, so its "
         f"gradient is `da.T @ h_prev`, with h_(t-1), not h_t ({_STEP_BWD})")
def _step_bwd_dW_hh_h_next(dh_next, cache):
    c = _step_cache(cache)
    return rnn_step_backward(dh_next, c._replace(h_prev=c.h_next))


@mistake("rnn_step_backward", "bias gradient averaged over the batch",
         "your bias gradient is the mean of `da` over the batch: the bias is added to every row, so its gradient is "
         f"the sum, `da.sum(axis=0)` ({_PARAMS})")
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
         "it equals BPTT without the carried gradient, each step seeing only its own `dhs[t]`: add the gradient "
         f"carried back from step t+1, dh_t = dhs[t] + da_(t+1) @ W_hh ({_DROPPED})")
def _bptt_no_carry(dhs, cache):
    return _bptt_by_steps(dhs, cache, carry=False)


@mistake("rnn_backward", "activation derivative forgotten",
         "it equals BPTT with `da = dh_t`: multiply by the nonlinearity's derivative, da = dh_t * (1 - hs[t]**2) "
         f"for tanh (* (hs[t] > 0) for relu) ({_SEQ_BWD})")
def _bptt_no_derivative(dhs, cache):
    return _bptt_by_steps(dhs, cache, h_for_derivative=_no_derivative)


@mistake("rnn_backward", "tanh applied twice in the derivative",
         "it equals BPTT with da = dh_t * (1 - tanh(hs[t])**2): hs[t] is already tanh(a_t), so the derivative is "
         f"1 - hs[t]**2 ({_SEQ_BWD})")
def _bptt_tanh_twice(dhs, cache):
    return _bptt_by_steps(dhs, cache, h_for_derivative=_tanh_again)


@mistake("rnn_backward", "carried gradient skips the derivative",
         "it equals BPTT where the carried gradient is `dh_t @ W_hh`: it must pass through the nonlinearity "
         f"first, so carry `da @ W_hh` ({_SEQ_BWD})")
def _bptt_carry_skips_derivative(dhs, cache):
    return _bptt_by_steps(dhs, cache, carry_skips_derivative=True)


@mistake("rnn_backward", "carried gradient through W_hh.T",
         "it equals BPTT with the gradient carried back as `da @ W_hh.T`: the forward pass computed "
         f"`h @ W_hh.T`, so the gradient flows back as `da @ W_hh` ({_SEQ_BWD})")
def _bptt_carry_transposed(dhs, cache):
    return _bptt_by_steps(dhs, cache, carry_through_W_hh_T=True)


@mistake("rnn_backward", "not summed over time",
         "it equals the first step's contribution alone (the last one your loop visits): the parameters are "
         f"shared by every step, so add up their gradients over all steps with `+=` ({_SUMMED})")
def _bptt_not_summed(dhs, cache):
    return _bptt_by_steps(dhs, cache, summed=False)


@mistake("rnn_backward", "bias gradient averaged over the batch",
         "your bias gradient uses the mean of `da` over the batch: the bias is added to every row, so sum over the "
         f"batch as well as over time ({_PARAMS})")
def _bptt_bias_mean(dhs, cache):
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, _seq_cache(cache))
    N = np.shape(dhs)[1]
    return dx, dh0, dW_ih, dW_hh, db_ih / N, db_hh / N


@mistake("rnn_backward", "dW_hh transposed",
         "your `dW_hh` equals the sum of `h_prev.T @ da`, the transpose of the gradient (the shapes agree only "
         f"because W_hh is square): add up `da.T @ h_prev` ({_PARAMS})")
def _bptt_dW_hh_transposed(dhs, cache):
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, _seq_cache(cache))
    return dx, dh0, dW_ih, dW_hh.T, db_ih, db_hh


@mistake("rnn_backward", "dW_hh from h_t",
         "your `dW_hh` equals the sum of `da_t.T @ h_t`: at step t, W_hh multiplied the previous state, so use "
         f"h_(t-1), which is `hs[t - 1]`, or `h0` at the first step (an off-by-one in time) ({_PARAMS})")
def _bptt_dW_hh_h_t(dhs, cache):
    return _bptt_by_steps(dhs, cache, h_prev_is_h_t=True)


@mistake("rnn_backward", "dh0 is zero",
         "your `dh0` is zero: h0 is read by the first step, so its gradient is the gradient carried back out of "
         f"that step, da_1 @ W_hh, which your carried gradient holds when the loop ends ({_PARAMS})")
def _bptt_dh0_zero(dhs, cache):
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, _seq_cache(cache))
    return dx, 0 * dh0, dW_ih, dW_hh, db_ih, db_hh


@mistake("rnn_backward", "dh0 one step short",
         "your `dh0` equals the total gradient of h_1 (`dhs[0]` plus the carried gradient), not of h0: push it back "
         f"through the first step too, dh0 = da_1 @ W_hh ({_PARAMS})")
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
         "every chunk starts again from `h0`: carry the state, so that each chunk starts from the last hidden state "
         f"of the chunk before it (only the gradient is cut between chunks, not the state) ({_TBPTT})")
def _tbptt_restarts_from_h0(x, y, h0, params, k, update=None):
    return _tbptt_chunk_by_chunk(x, y, h0, params, k, update, h0, lambda h_last: h0)


@mistake("rnn_tbptt", "every chunk starts from zeros",
         "every chunk starts from zeros: the first chunk starts from `h0`, and each later one from the last hidden "
         f"state of the chunk before it ({_TBPTT})")
def _tbptt_restarts_from_zeros(x, y, h0, params, k, update=None):
    zeros = np.zeros(np.shape(h0))
    return _tbptt_chunk_by_chunk(x, y, h0, params, k, update, zeros, lambda h_last: zeros)


@mistake("rnn_tbptt", "starts from zeros",
         f"it equals the run started from zeros instead of from `h0`: the first chunk starts from `h0` ({_TBPTT})")
def _tbptt_zeros_not_h0(x, y, h0, params, k, update=None):
    if not np.any(h0):
        raise ValueError("same as the reference")
    return rnn_tbptt(x, y, np.zeros(np.shape(h0)), params, k, update)


@mistake("rnn_tbptt", "parameters never updated",
         "it equals a run in which the parameters never change: call `update(params, grads)` after every chunk, "
         "and read `params[...]` afresh at the start of every chunk (update may replace its entries rather than "
         f"change them in place) ({_TBPTT})")
def _tbptt_no_update(x, y, h0, params, k, update=None):
    if update is None:
        raise ValueError("same as the reference")
    return rnn_tbptt(x, y, h0, params, k, None)


@mistake("rnn_tbptt", "gradient flows across chunks",
         "it equals a run whose gradients reach back into earlier chunks, as if each chunk's loss were "
         "backpropagated through the whole sequence so far: the state carried into a chunk is a constant, so run "
         f"the forward and backward passes over the chunk's own steps and drop the `dh0` of `rnn_backward` ({_TBPTT})")
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


# ----------------------------------------------------------------------------------------- chapter 8
_SCAN = "chapter 8, section \"Linear recurrences and the parallel scan\""
_AFFINE = "chapter 8, section \"Steps as affine maps\""
_DOUBLING = "chapter 8, section \"The doubling scan\""
_MIN = "chapter 8, section \"minGRU and minLSTM\""


def _initial_state(a, h0):
    return np.zeros(np.shape(a)[1:]) if h0 is None else np.asarray(h0, dtype=np.float64)


@mistake("linear_recurrence", "starts from zeros",
         f"it equals the states started from zeros instead of from `h0`: start the loop from h = h0 ({_SCAN})")
def _loop_zeros_not_h0(a, b, h0=None):
    if h0 is None or not np.any(h0):
        raise ValueError("same as the reference")
    return linear_recurrence(a, b, None)


@mistake("linear_recurrence", "states shifted by one step",
         "it holds h_0, ..., h_(T-1): `hs[t]` must be the state *after* step t, so compute the new h first and "
         f"then store it ({_SCAN})")
def _loop_shifted(a, b, h0=None):
    hs = linear_recurrence(a, b, h0)
    return np.concatenate([_initial_state(a, h0)[None], hs[:-1]])


@mistake("linear_recurrence", "state not carried",
         "every step starts again from `h0`: each step must use the state the step before computed, "
         f"h = a[t] * h + b[t] ({_SCAN})")
def _loop_not_carried(a, b, h0=None):
    return np.concatenate([linear_recurrence(a[t:t + 1], b[t:t + 1], h0) for t in range(np.shape(a)[0])])


@mistake("linear_recurrence", "reads the previous step's coefficients",
         "it equals the loop in which step t reads `a[t-1]` and `b[t-1]` (an off-by-one in time): step t reads "
         f"`a[t]` and `b[t]` ({_SCAN})")
def _loop_previous_coefficients(a, b, h0=None):
    return linear_recurrence(np.roll(a, 1, axis=0), np.roll(b, 1, axis=0), h0)


@mistake("linear_recurrence", "a and b swapped",
         f"it equals h_t = b_t * h_(t-1) + a_t: `a` multiplies the previous state and `b` is added ({_SCAN})")
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
         "it equals the scan with the two steps composed in the wrong order, giving a_1 b_2 + b_1: the earlier "
         f"element is applied first, so the new `B[t]` is `A[t] * B[t - step] + B[t]` ({_AFFINE})")
def _scan_wrong_order(a, b, h0=None):
    return _doubling_scan(a, b, h0, _round_wrong_order)


@mistake("parallel_scan", "ignores h0",
         f"it equals the scan started from zeros: fold `h0` into the first step, `B[0] = A[0] * h0 + B[0]` ({_AFFINE})")
def _scan_ignores_h0(a, b, h0=None):
    if h0 is None or not np.any(h0):
        raise ValueError("same as the reference")
    return parallel_scan(a, b, None)


@mistake("parallel_scan", "h0 not multiplied by a_1",
         "it equals the scan with `h0` added to the first input instead of passed through the first step: "
         f"h_1 = a_1 h0 + b_1, so fold it in as `B[0] = A[0] * h0 + B[0]` ({_AFFINE})")
def _scan_h0_added(a, b, h0=None):
    if h0 is None:
        raise ValueError("same as the reference")
    b = np.array(b, dtype=np.float64, copy=True)
    b[0] = b[0] + h0
    return parallel_scan(a, b, None)


@mistake("parallel_scan", "exclusive scan",
         "it holds h_0, ..., h_(T-1), the exclusive scan: return the inclusive one, where `hs[t]` is the state after "
         f"step t ({_DOUBLING})")
def _scan_exclusive(a, b, h0=None):
    hs = parallel_scan(a, b, h0)
    return np.concatenate([_initial_state(a, h0)[None], hs[:-1]])


@mistake("parallel_scan", "A updated before B",
         "it equals the scan that updates `A` before `B` in each round: the update of `B` needs the old `A`, so "
         f"update `B` first ({_DOUBLING})")
def _scan_A_first(a, b, h0=None):
    return _doubling_scan(a, b, h0, _round_A_first)


@mistake("parallel_scan", "A never composed",
         "it equals the scan in which `A` never changes: after each round `A[t]` must be the product of all the "
         f"a's that element t covers, `A[step:] = A[step:] * A[:-step]` ({_DOUBLING})")
def _scan_A_fixed(a, b, h0=None):
    return _doubling_scan(a, b, h0, _round_A_fixed)


@mistake("parallel_scan", "too few rounds",
         "it equals the scan stopped after floor(log2 T) rounds: when T is not a power of two, one more round is "
         f"needed; keep going while `step < T` ({_DOUBLING})")
def _scan_too_few_rounds(a, b, h0=None):
    T = np.shape(a)[0]
    if T & (T - 1) == 0:
        raise ValueError("same as the reference when T is a power of two")
    return _doubling_scan(a, b, h0, _round, rounds=int(np.floor(np.log2(T))))


@mistake("mingru_forward", "z and 1 - z swapped",
         "it equals h_t = z_t h_(t-1) + (1 - z_t) h~_t: in minGRU z_t weights the NEW candidate, "
         f"h_t = (1 - z_t) h_(t-1) + z_t h~_t (torch's GRU uses the opposite convention) ({_MIN})")
def _mingru_z_swapped(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    return mingru_forward(x, h0, -W_z, -b_z, W_h, b_h, parallel)  # sigmoid(-u) = 1 - sigmoid(u)


@mistake("mingru_forward", "tanh on the candidate",
         f"it equals the minGRU with a tanh on the candidate: minGRU's candidate is linear, h~_t = x_t W_h^T + b_h "
         f"({_MIN})")
def _mingru_tanh(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    z = sigmoid(x @ W_z.T + b_z)
    return parallel_scan(1 - z, z * np.tanh(x @ W_h.T + b_h), h0)


@mistake("mingru_forward", "starts from zeros",
         f"it equals the sequence started from zeros instead of from `h0`: fold `h0` into the first step ({_MIN})")
def _mingru_zeros_not_h0(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    if not np.any(h0):
        raise ValueError("same as the reference")
    return mingru_forward(x, 0 * h0, W_z, b_z, W_h, b_h, parallel)


@mistake("mingru_forward", "weights not transposed",
         "it equals the minGRU computed with `x @ W_z` and `x @ W_h` instead of `x @ W_z.T` and `x @ W_h.T`: the "
         f"weights are stored (H, D), as in torch ({_MIN})")
def _mingru_not_transposed(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    return mingru_forward(x, h0, W_z.T, b_z, W_h.T, b_h, parallel)  # possible only when D = H


@mistake("mingru_forward", "no sigmoid on the gate",
         "it equals the minGRU with z_t = x_t W_z^T + b_z: the gate is z_t = sigmoid(x_t W_z^T + b_z), a weight "
         f"between 0 and 1 ({_MIN})")
def _mingru_no_sigmoid(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    u = x @ W_z.T + b_z
    return parallel_scan(1 - u, u * (x @ W_h.T + b_h), h0)


@mistake("mingru_forward", "states shifted by one step",
         "it holds h_0, ..., h_(T-1): `hs[t]` must be the state after reading `x[t]` (an exclusive scan gives the "
         f"states before each step) ({_MIN})")
def _mingru_shifted(x, h0, W_z, b_z, W_h, b_h, parallel=True):
    hs = mingru_forward(x, h0, W_z, b_z, W_h, b_h, parallel)
    return np.concatenate([np.asarray(h0, dtype=np.float64)[None], hs[:-1]])
