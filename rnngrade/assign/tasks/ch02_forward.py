"""Assignment 2's task that rnncore does not answer: the forward pass of a Jordan network.

Chapter 1 gives the Jordan network's equations (section "Elman and Jordan networks", eq. ch01-jordan): the previous
*output*, not the previous hidden state, is fed back into the hidden layer. rnncore implements only the Elman network
(`rnn_forward`); the assignment asks for the Jordan variant, in torch's layout and time-major.
"""

import numpy as np

from ..cases import Case, Step, register
from . import mistake, reference, visible_case

_SECTION = 'chapter 1, section "Elman and Jordan networks"'


def _run(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y, feed="output", shift=False):
    x = np.asarray(x, dtype=np.float64)
    T, N, _ = x.shape
    H, V = W_hy.shape[1], W_hy.shape[0]
    hs, ys = np.empty((T, N, H)), np.empty((T, N, V))
    fed = np.asarray(y0, dtype=np.float64)  # what step 1 reads back: y_0 (or, for a mistake, a state)
    for t in range(T):
        back = fed @ W_yh if feed == "untransposed" else fed @ W_yh.T
        h = np.tanh(x[t] @ W_ih.T + b_ih + back + b_hh)
        y = h @ W_hy.T + b_y
        hs[t] = h
        ys[t] = fed if shift else y
        fed = h if feed == "hidden" else y
    return hs, ys


@reference
def jordan_forward(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y):
    """Run a Jordan network over a time-major sequence: the previous output, not the hidden state, is fed back.

    Math: h_t = tanh(x_t W_ih^T + b_ih + y_{t-1} W_yh^T + b_hh),   y_t = h_t W_hy^T + b_y   for t = 1..T,
          starting from the given y_0

    Parameters
    ----------
    x : ndarray, shape (T, N, D)      the input sequence, time first
    y0 : ndarray, shape (N, V)        the output fed back into the first step
    W_ih : ndarray, shape (H, D)      input-to-hidden weights
    W_yh : ndarray, shape (H, V)      output-to-hidden weights (the recurrent connection)
    b_ih, b_hh : ndarray, shape (H,)  the two biases of the hidden layer
    W_hy : ndarray, shape (V, H)      hidden-to-output weights
    b_y : ndarray, shape (V,)         the output bias

    Returns
    -------
    hs : ndarray, shape (T, N, H)     the hidden state at every step (hs[t] is h_{t+1})
    ys : ndarray, shape (T, N, V)     the output at every step (ys[-1] is y_T, the one a next step would read)

    Book: chapter 1, section "Elman and Jordan networks", the Jordan network.
    """
    return _run(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y)


@mistake("jordan_forward", "hidden state fed back",
         "the states equal an Elman recurrence that feeds the previous hidden state through W_yh, starting from y0; "
         f"what does a Jordan network read back? ({_SECTION})")
def _hidden_fed_back(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y):
    if W_hy.shape[0] != W_hy.shape[1]:
        raise ValueError("only possible when H = V")
    return _run(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y, feed="hidden")


@mistake("jordan_forward", "y0 ignored",
         f"the states equal the run that feeds back zeros into the first step, as if `y0` were not given ({_SECTION})")
def _y0_ignored(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y):
    if not np.any(y0):
        raise ValueError("same as the reference")
    return _run(x, np.zeros_like(np.asarray(y0, dtype=np.float64)), W_ih, W_yh, b_ih, b_hh, W_hy, b_y)


@mistake("jordan_forward", "outputs one step late",
         "each output equals the one of the step before (ys[0] equals y0): the outputs returned are those each step "
         f"reads back, not those it produces ({_SECTION})")
def _shifted(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y):
    return _run(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y, shift=True)


@mistake("jordan_forward", "W_yh untransposed",
         "the states equal the recurrence computed with W_yh untransposed, as if torch stored it (inputs, outputs) "
         f"({_SECTION})")
def _untransposed(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y):
    if W_yh.shape[0] != W_yh.shape[1]:
        raise ValueError("only possible when H = V")
    return _run(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y, feed="untransposed")


def _visible():
    # By hand: D = 1, H = V = 2, W_yh not symmetric, so a transposed W_yh and a fed-back hidden state both show.
    visible_case("jordan_forward", "T=3, N=1, D=1, H=V=2, by hand",
                 x=np.array([1.0, 0.0, -1.0]).reshape(3, 1, 1), y0=np.array([[0.5, -0.5]]),
                 W_ih=np.array([[1.0], [0.5]]), W_yh=np.array([[0.0, 1.0], [0.5, 0.0]]),
                 b_ih=np.array([0.1, 0.0]), b_hh=np.array([0.0, -0.1]),
                 W_hy=np.array([[2.0, 0.0], [1.0, -1.0]]), b_y=np.array([0.0, 0.5]))
    rng = np.random.default_rng(2)
    T, N, D, H, V = 4, 2, 3, 3, 3
    visible_case("jordan_forward", "T=4, N=2, D=3, H=3, V=3",
                 x=np.round(rng.uniform(-1, 1, (T, N, D)), 1), y0=np.round(rng.uniform(-1, 1, (N, V)), 1),
                 W_ih=np.round(rng.uniform(-1, 1, (H, D)), 1), W_yh=np.round(rng.uniform(-1, 1, (H, V)), 1),
                 b_ih=np.round(rng.uniform(-0.5, 0.5, H), 1), b_hh=np.round(rng.uniform(-0.5, 0.5, H), 1),
                 W_hy=np.round(rng.uniform(-1, 1, (V, H)), 1), b_y=np.round(rng.uniform(-0.5, 0.5, V), 1))
    T, N, D, H, V = 5, 3, 2, 4, 2
    visible_case("jordan_forward", "T=5, N=3, D=2, H=4, V=2",
                 x=np.round(rng.uniform(-1, 1, (T, N, D)), 1), y0=np.round(rng.uniform(-1, 1, (N, V)), 1),
                 W_ih=np.round(rng.uniform(-1, 1, (H, D)), 1), W_yh=np.round(rng.uniform(-1, 1, (H, V)), 1),
                 b_ih=np.round(rng.uniform(-0.5, 0.5, H), 1), b_hh=np.round(rng.uniform(-0.5, 0.5, H), 1),
                 W_hy=np.round(rng.uniform(-1, 1, (V, H)), 1), b_y=np.round(rng.uniform(-0.5, 0.5, V), 1))


_visible()


# The verifier's cases (rnn-grade): seeded, with T = 1, N = 1, H = V and H != V, y0 = 0 and not.
@register("jordan_forward", seed=20260420)
def _jordan_forward(rng):
    cases = []
    for T, N, D, H, V, zero_y0 in [(1, 1, 1, 1, 1, False), (1, 3, 2, 4, 3, False), (6, 1, 3, 2, 4, False),
                                   (5, 2, 3, 3, 3, True), (9, 4, 2, 5, 2, False), (12, 2, 4, 3, 6, False)]:
        x = rng.standard_normal((T, N, D))
        y0 = np.zeros((N, V)) if zero_y0 else rng.standard_normal((N, V))
        args = (x, y0, rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, V)) / np.sqrt(V),
                rng.standard_normal(H), rng.standard_normal(H), rng.standard_normal((V, H)) / np.sqrt(H),
                rng.standard_normal(V))
        label = f"T={T}, N={N}, D={D}, H={H}, V={V}" + (", y0 = 0" if zero_y0 else "")
        cases.append(Case(label, [Step("jordan_forward", args=args)]))
    return cases
