"""Assignment 3's task that rnncore does not answer: truncated BPTT with k1 != k2, TBPTT(k1, k2).

Chapter 3 (section "Truncated BPTT") defines TBPTT(k1, k2), a backward pass every k1 steps that reaches k2 steps
back, and recommends k2 > k1 (overlapping windows) when long dependencies matter; rnncore's `rnn_tbptt`, and the
chapter's code, only do k1 = k2 = k. The assignment asks for the general scheme: every k1 steps, the losses of the
last k1 steps are backpropagated through a window that reaches k2 - k1 steps further back.
"""

import numpy as np

from rnncore import layers, losses, rnn

from ..cases import Case, Fn, Ref, Step, register
from . import mistake, reference, visible_case

_SECTION = 'chapter 3, section "Truncated BPTT"'
_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "W", "b")


def _run(x, y, h0, params, k1, k2, update=None, *, reach=None, window_losses=False, from_h0=False):
    """TBPTT(k1, k2); `reach(s, e)` overrides the window's first step, the flags make the known mistakes."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    h0 = np.asarray(h0, dtype=np.float64)
    k1, k2 = int(k1), int(k2)
    if not 1 <= k1 <= k2:
        raise ValueError(f"rnn_tbptt_k1k2: need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    T = x.shape[0]
    states = np.empty((T + 1, *h0.shape))  # states[t]: the state before step t, as the run computed it
    states[0] = h0
    block_losses, stacked = [], {n: [] for n in _NAMES}
    for s in range(0, T, k1):
        e = min(s + k1, T)
        w = max(0, s - (k2 - k1)) if reach is None else reach(s, e)
        p = params  # read afresh: `update` may have changed it in place
        start = h0 if from_h0 else states[w]
        hs, cache = rnn.rnn_forward(x[w:e], start, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])
        first = 0 if window_losses else s - w  # the window's steps whose losses count
        logits, out_cache = layers.affine_forward(hs[first:], p["W"], p["b"])
        loss, dlogits = losses.softmax_cross_entropy(logits, y[w + first:e])
        dhs_loss, dW, db = layers.affine_backward(dlogits, out_cache)
        dhs = np.zeros(hs.shape)
        dhs[first:] = dhs_loss
        _, _, dW_ih, dW_hh, db_ih, db_hh = rnn.rnn_backward(dhs, cache)  # dh0 dropped: the window's start is a constant
        grads = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "W": dW, "b": db}
        states[s + 1:e + 1] = hs[s - w:]
        block_losses.append(loss)
        for n in _NAMES:
            stacked[n].append(grads[n])
        if update is not None:
            update(params, grads)
    return (np.array(block_losses), states[T].copy(), *(np.stack(stacked[n]) for n in _NAMES))


@reference
def rnn_tbptt_k1k2(x, y, h0, params, k1, k2, update=None):
    """TBPTT(k1, k2): every k1 steps, the losses of those k1 steps backpropagated through the last k2 steps.

    Math: blocks [s, e) = [u k1, min((u + 1) k1, T)), u = 0 .. U - 1, U = ceil(T / k1);
          window [w, e) with w = max(0, s - (k2 - k1))  (k2 steps for a full block);
          for each block in order: h_w..h_e from the stored state before step w (held constant), with the current
          params;  L_u = mean cross-entropy over (t, n), t in [s, e)  (the block's steps only);
          grads_u = dL_u/dparams by BPTT through the window only;  store the states of the block's steps;
          update(params, grads_u)

    The network is the Elman RNN (tanh) with an affine output and softmax cross-entropy at every step, as in
    `rnn_tbptt`, which is the case k1 = k2. Each window's forward pass is recomputed from the state stored before
    its first step (computed when that step's block ran), with the parameters as they are when the block runs.
    With update=None the states are those of one forward pass over the whole sequence.

    Parameters
    ----------
    x : ndarray, shape (T, N, D)        one long input sequence (or N of them side by side)
    y : ndarray of int, shape (T, N)    target class at every step, in [0, V)
    h0 : ndarray, shape (N, H)          the state before the first step
    params : dict with W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,), W (V, H), b (V,)
    k1 : int >= 1, how many steps between two backward passes (the block length; the last may be shorter)
    k2 : int >= k1, how many steps a full block's backward pass reaches back
    update : optional callable update(params, grads), called after every block with a dict `grads`
             holding the block's gradients under the same keys and shapes as `params`

    Returns
    -------
    losses : ndarray, shape (U,)        the mean loss of every block, computed before its update
    h_last : ndarray, shape (N, H)      the state after the last step
    dW_ih, dW_hh, db_ih, db_hh, dW, db : ndarray, shape (U, ...)   the gradients of every block, stacked:
             dW_ih[u] is grads["W_ih"] of block u, shape (H, D), and so on

    Book: chapter 3, section "Truncated BPTT".
    """
    return _run(x, y, h0, params, k1, k2, update)


@mistake("rnn_tbptt_k1k2", "k2 ignored",
         "the gradients equal those of TBPTT(k1, k1), as if k2 were k1: every backward pass stops at the first step "
         f"of its own block ({_SECTION})")
def _k2_ignored(x, y, h0, params, k1, k2, update=None):
    if k2 == k1:
        raise ValueError("same as the reference")
    return _run(x, y, h0, params, k1, k2, update, reach=lambda s, e: s)


@mistake("rnn_tbptt_k1k2", "window losses",
         "the losses and gradients equal those of the mean loss over the whole window of up to k2 steps, so the "
         f"steps shared by two windows are counted twice ({_SECTION})")
def _window_losses(x, y, h0, params, k1, k2, update=None):
    if k2 == k1:
        raise ValueError("same as the reference")
    return _run(x, y, h0, params, k1, k2, update, window_losses=True)


@mistake("rnn_tbptt_k1k2", "window one step short",
         "the gradients equal backward passes that reach one step less far back than k2 for a full block, an "
         f"off-by-one in the window's first step ({_SECTION})")
def _one_short(x, y, h0, params, k1, k2, update=None):
    if k2 == k1:
        raise ValueError("same as the reference")
    return _run(x, y, h0, params, k1, k2, update, reach=lambda s, e: max(0, s - (k2 - k1) + 1))


@mistake("rnn_tbptt_k1k2", "windows start from h0",
         "the losses equal a run in which every window starts from h0 rather than from the state the run reached "
         f"before the window's first step ({_SECTION})")
def _from_h0(x, y, h0, params, k1, k2, update=None):
    return _run(x, y, h0, params, k1, k2, update, from_h0=True)


@mistake("rnn_tbptt_k1k2", "backward through the whole past",
         "the gradients equal backward passes that always reach back to the first step of the sequence, full BPTT "
         f"of each block's loss, with no truncation at k2 ({_SECTION})")
def _whole_past(x, y, h0, params, k1, k2, update=None):
    if k2 >= x.shape[0]:
        raise ValueError("same as the reference")
    return _run(x, y, h0, params, k1, k2, update, reach=lambda s, e: 0)


def _params(rng, D, H, V, decimals=None):
    def draw(shape, scale=1.0):
        value = scale * rng.uniform(-1, 1, shape)
        return value if decimals is None else np.round(value, decimals)

    return {"W_ih": draw((H, D)), "W_hh": draw((H, H)), "b_ih": draw(H, 0.5), "b_hh": draw(H, 0.5),
            "W": draw((V, H)), "b": draw(V, 0.5)}


def _visible():
    rng = np.random.default_rng(3)
    for T, N, D, H, V, k1, k2 in [(6, 1, 2, 3, 2, 2, 4), (7, 2, 3, 4, 3, 2, 5), (5, 2, 2, 3, 3, 1, 3)]:
        visible_case("rnn_tbptt_k1k2", f"T={T}, N={N}, D={D}, H={H}, V={V}, k1={k1}, k2={k2}",
                     x=np.round(rng.uniform(-1, 1, (T, N, D)), 1), y=rng.integers(0, V, size=(T, N)),
                     h0=np.round(rng.uniform(-1, 1, (N, H)), 1), params=_params(rng, D, H, V, decimals=1),
                     k1=k1, k2=k2, update=None)


_visible()


_SGD = """
def update(params, grads):
    for k in params:
        params[k] = params[k] - lr * grads[k]
"""


# The verifier's cases (rnn-grade): seeded, with T = 1, k1 = k2, k2 >= T, a short last block, and SGD updates (the
# windows then recompute states with the updated parameters).
@register("rnn_tbptt_k1k2", seed=20260421, solution_for=("rnn_backward", "rnn_step_backward"))
def _rnn_tbptt_k1k2(rng):
    cases = []
    for T, N, D, H, V, k1, k2, lr in [(1, 1, 2, 3, 2, 1, 2, None), (6, 2, 3, 4, 3, 2, 2, 0.3),
                                      (7, 1, 3, 4, 3, 2, 5, None), (9, 3, 2, 5, 4, 3, 5, 0.5),
                                      (8, 2, 3, 3, 3, 1, 4, 0.2), (5, 2, 4, 3, 5, 2, 9, 0.2),
                                      (10, 2, 3, 3, 3, 4, 7, 0.1)]:
        x, y, h0 = rng.standard_normal((T, N, D)), rng.integers(0, V, size=(T, N)), rng.standard_normal((N, H))
        params = _params(rng, D, H, V)
        label = f"T={T}, N={N}, D={D}, H={H}, V={V}, k1={k1}, k2={k2}" + ("" if lr is None else f", SGD lr={lr}")
        if lr is None:
            steps = [Step("rnn_tbptt_k1k2", args=(x, y, h0, Ref("params"), k1, k2))]
        else:
            update = Fn(_SGD, name="update", consts={"lr": lr})
            steps = [Step("rnn_tbptt_k1k2", args=(x, y, h0, Ref("params"), k1, k2, update)),
                     Step(None, args=(Ref("params"),), compare=("params after the updates",))]
        cases.append(Case(label, steps, inputs={"params": params}))
    return cases
