"""Assignment 5's task that rnncore does not answer: the backward pass of one step of the coupled-gate LSTM (CIFG).

Chapter 5 implements torch's LSTM and describes the variant of Greff et al. (2017) that couples the input gate to
the forget gate, i_t = 1 - f_t, so that what the cell forgets is what it writes. rnncore has neither its forward nor
its backward; the assignment asks for the backward of one step, which has a path the LSTM's lacks: f_t reaches c_t
twice, through the old cell and through the write.
"""

import numpy as np

from ..cases import Case, Step, register
from . import mistake, reference, visible_case

_CELL = 'chapter 5, section "The LSTM cell"'
_BACKWARD = 'chapter 5, section "The LSTM backward"'


def _sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))  # 1 / (1 + e^{-a}), without overflow


def _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, order="fgo", coupled=True):
    x_t, h_prev, c_prev = (np.asarray(v, dtype=np.float64) for v in (x_t, h_prev, c_prev))
    W_ih, W_hh, b_ih, b_hh = (np.asarray(v, dtype=np.float64) for v in (W_ih, W_hh, b_ih, b_hh))
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    blocks = dict(zip(order, np.split(a, 3, axis=1)))
    f, g, o = _sigmoid(blocks["f"]), np.tanh(blocks["g"]), _sigmoid(blocks["o"])
    i = 1 - f if coupled else f
    c = f * c_prev + i * g
    return x_t, h_prev, c_prev, W_ih, W_hh, f, g, o, i, c, order


def _backward(dh_next, dc_next, state, *, df_path="coupled", tanh_prime=True, carousel=True):
    x_t, h_prev, c_prev, W_ih, W_hh, f, g, o, i, c, order = state
    dh_next, dc_next = np.asarray(dh_next, dtype=np.float64), np.asarray(dc_next, dtype=np.float64)
    tanh_c = np.tanh(c)
    dc = dh_next * o * ((1 - tanh_c ** 2) if tanh_prime else 1.0) + (dc_next if carousel else 0.0)
    do = dh_next * tanh_c
    df = dc * {"coupled": c_prev - g, "old cell only": c_prev, "plus": c_prev + g}[df_path]
    dg = dc * i
    blocks = {"f": df * f * (1 - f), "g": dg * (1 - g ** 2), "o": do * o * (1 - o)}
    da = np.concatenate([blocks[k] for k in order], axis=1)
    db = da.sum(axis=0)
    return da @ W_ih, da @ W_hh, dc * f, da.T @ x_t, da.T @ h_prev, db, db.copy()


@reference
def cifg_step_backward(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """Backpropagate through one step of the LSTM with coupled input and forget gates (CIFG), i_t = 1 - f_t.

    Math: [a_f, a_g, a_o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh   (three blocks of H columns: f, g, o);
          f_t = sigma(a_f), g_t = tanh(a_g), o_t = sigma(a_o), i_t = 1 - f_t;
          c_t = f_t * c_{t-1} + (1 - f_t) * g_t,  h_t = o_t * tanh(c_t);
          the gradients of the loss with respect to x_t, h_{t-1}, c_{t-1} and the parameters, by the chain rule,
          given dh_next = dL/dh_t and dc_next = dL/dc_t from step t+1 (as in the LSTM step's backward pass)

    The forward step is recomputed from the inputs: no cache is passed.

    Parameters
    ----------
    dh_next : ndarray, shape (N, H)   gradient of the loss with respect to h_t
    dc_next : ndarray, shape (N, H)   gradient of the loss with respect to c_t (from step t+1 or from c_n)
    x_t : ndarray, shape (N, D)       the input of the step
    h_prev, c_prev : ndarray, shape (N, H)   h_{t-1} and c_{t-1}
    W_ih : ndarray, shape (3H, D)     rows 0:H the forget gate, H:2H the candidate, 2H:3H the output gate
    W_hh : ndarray, shape (3H, H)     the same blocks
    b_ih, b_hh : ndarray, shape (3H,)

    Returns
    -------
    dx_t : ndarray, shape (N, D)
    dh_prev : ndarray, shape (N, H)
    dc_prev : ndarray, shape (N, H)
    dW_ih : ndarray, shape (3H, D)
    dW_hh : ndarray, shape (3H, H)
    db_ih, db_hh : ndarray, shape (3H,)

    Book: chapter 5, section "The LSTM backward".
    """
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh))


@mistake("cifg_step_backward", "f's path through the write missing",
         "the forget gate's gradient equals the one of torch's LSTM, with i_t a gate of its own: f_t reaches c_t "
         f"through the old cell only, and its path through the write (1 - f_t) g_t is missing ({_BACKWARD})")
def _old_cell_only(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh), df_path="old cell only")


@mistake("cifg_step_backward", "sign of the write's path",
         "the forget gate's gradient equals one in which the path through the write (1 - f_t) g_t has the wrong sign: "
         f"what does 1 - f_t do when f_t grows? ({_BACKWARD})")
def _plus(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh), df_path="plus")


@mistake("cifg_step_backward", "i = f",
         "the gradients equal those of a step whose input gate is the forget gate itself, i_t = f_t, not coupled to "
         f"it ({_CELL})")
def _i_equals_f(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, coupled=False),
                     df_path="plus")


@mistake("cifg_step_backward", "tanh' forgotten on the cell",
         "the gradients equal those without the derivative of the tanh in h_t = o_t * tanh(c_t) on the way to the "
         f"cell ({_BACKWARD})")
def _no_tanh_prime(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh), tanh_prime=False)


@mistake("cifg_step_backward", "dc_next dropped",
         "the gradients equal those of a step whose cell reaches the loss only through h_t: the gradient `dc_next` "
         f"that the carousel brings from step t+1 is missing ({_BACKWARD})")
def _no_carousel(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    if not np.any(dc_next):
        raise ValueError("same as the reference")
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh), carousel=False)


@mistake("cifg_step_backward", "blocks in the order f, o, g",
         "the gradients equal those of a step that reads the three blocks in the order f, o, g, the candidate and "
         f"the output gate exchanged ({_CELL})")
def _fog(dh_next, dc_next, x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    return _backward(dh_next, dc_next, _forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, order="fog"))


def _visible():
    visible_case("cifg_step_backward", "N=1, D=1, H=1",
                 dh_next=np.array([[1.0]]), dc_next=np.array([[0.5]]), x_t=np.array([[1.0]]),
                 h_prev=np.array([[0.5]]), c_prev=np.array([[2.0]]), W_ih=np.array([[0.5], [1.0], [-0.5]]),
                 W_hh=np.array([[1.0], [-1.0], [0.5]]), b_ih=np.array([0.25, 0.0, 0.5]),
                 b_hh=np.array([0.25, 0.5, 0.0]))
    rng = np.random.default_rng(5)
    for N, D, H in [(2, 3, 2), (3, 2, 4)]:
        visible_case("cifg_step_backward", f"N={N}, D={D}, H={H}",
                     dh_next=np.round(rng.normal(size=(N, H)), 2), dc_next=np.round(rng.normal(size=(N, H)), 2),
                     x_t=np.round(rng.normal(size=(N, D)), 2), h_prev=np.round(rng.uniform(-1, 1, (N, H)), 2),
                     c_prev=np.round(rng.normal(scale=1.5, size=(N, H)), 2),
                     W_ih=np.round(rng.normal(scale=0.7, size=(3 * H, D)), 2),
                     W_hh=np.round(rng.normal(scale=0.7, size=(3 * H, H)), 2),
                     b_ih=np.round(rng.normal(scale=0.5, size=3 * H), 2),
                     b_hh=np.round(rng.normal(scale=0.5, size=3 * H), 2))


_visible()


# The verifier's cases (rnn-grade): seeded, with N = 1, D = H = 1, a zero dc_next and a large cell state.
@register("cifg_step_backward", seed=20260505)
def _cifg_step_backward(rng):
    cases = []
    for N, D, H, dc_scale, c_scale in [(1, 1, 1, 1.0, 1.0), (1, 3, 4, 0.0, 1.0), (4, 3, 5, 1.0, 2.0),
                                       (6, 7, 2, 1.0, 5.0), (2, 5, 5, 0.5, 1.0), (3, 1, 3, 1.0, 0.1)]:
        args = (rng.standard_normal((N, H)), dc_scale * rng.standard_normal((N, H)), rng.standard_normal((N, D)),
                rng.standard_normal((N, H)), c_scale * rng.standard_normal((N, H)),
                rng.standard_normal((3 * H, D)) / np.sqrt(D), rng.standard_normal((3 * H, H)) / np.sqrt(H),
                rng.standard_normal(3 * H), rng.standard_normal(3 * H))
        label = f"N={N}, D={D}, H={H}" + (", dc_next = 0" if dc_scale == 0 else "")
        cases.append(Case(label, [Step("cifg_step_backward", args=args)]))
    return cases
