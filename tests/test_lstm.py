"""The LSTM against torch.nn.LSTM / nn.LSTMCell + autograd (float64), numerical gradients, gate order, bad input."""

import numpy as np
import pytest
import torch
from torch_reference import assert_matches_numerical, grads_of, torch_with

import rnncore as rc
from rnncore.activations import sigmoid

SIZES = [(5, 3, 4, 6), (1, 1, 2, 3), (7, 1, 3, 2), (1, 4, 3, 5), (4, 2, 1, 1)]
def _params(rng, D, H, dtype=np.float64):
    return rc.init_recurrent(rng, D, H, cell="lstm", dtype=dtype)


@pytest.mark.parametrize("use_dc_last", [False, True])
@pytest.mark.parametrize("T,N,D,H", SIZES)
def test_lstm_forward_backward_match_torch(rng, T, N, D, H, use_dc_last):
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))
    dc_last = rng.standard_normal((N, H)) if use_dc_last else None

    hs, cs, cache = rc.lstm_forward(x, h0, c0, **p)
    dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = rc.lstm_backward(dhs, cache, dc_last=dc_last)

    m = torch_with(torch.nn.LSTM, p)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out, (hn, cn) = m(xt, (h0t, c0t))
    if use_dc_last:  # c_n is used in the loss too
        torch.autograd.backward([out, cn], [torch.from_numpy(dhs), torch.from_numpy(dc_last[None])])
    else:
        out.backward(torch.from_numpy(dhs))

    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(hs[-1], hn[0].detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(cs[-1], cn[0].detach().numpy(), rtol=0, atol=1e-12)
    ours = [dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh]
    theirs = [xt.grad.numpy(), h0t.grad[0].numpy(), c0t.grad[0].numpy(), *grads_of(m)]
    for name, a, b in zip(["dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"], ours, theirs):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("N,D,H", [(3, 4, 5), (1, 2, 3), (1, 1, 1), (6, 3, 2)])
def test_lstm_step_matches_torch_lstmcell(rng, N, D, H):
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    c = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, H))
    dc = rng.standard_normal((N, H))
    h_next, c_next, cache = rc.lstm_step_forward(x, h, c, **p)
    grads = rc.lstm_step_backward(dh, dc, cache)

    cell = torch_with(torch.nn.LSTMCell, p)
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True)
    ct = torch.tensor(c, requires_grad=True)
    h1, c1 = cell(xt, (ht, ct))
    torch.autograd.backward([h1, c1], [torch.from_numpy(dh), torch.from_numpy(dc)])
    np.testing.assert_allclose(h_next, h1.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_next, c1.detach().numpy(), rtol=0, atol=1e-12)
    theirs = [xt.grad.numpy(), ht.grad.numpy(), ct.grad.numpy(), *grads_of(cell)]
    for name, a, b in zip(["dx_t", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db_ih", "db_hh"], grads, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=name)


def test_lstm_float32_matches_torch_and_keeps_dtype(rng):
    T, N, D, H = 6, 2, 3, 4
    p = _params(rng, D, H, dtype=np.float32)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    h0 = rng.standard_normal((N, H)).astype(np.float32)
    c0 = rng.standard_normal((N, H)).astype(np.float32)
    dhs = rng.standard_normal((T, N, H)).astype(np.float32)
    dc_last = rng.standard_normal((N, H)).astype(np.float32)
    hs, cs, cache = rc.lstm_forward(x, h0, c0, **p)
    assert hs.dtype == cs.dtype == np.float32
    grads = rc.lstm_backward(dhs, cache, dc_last=dc_last)
    assert all(g.dtype == np.float32 for g in grads)

    m = torch_with(torch.nn.LSTM, p, dtype=torch.float32)
    xt = torch.tensor(x, requires_grad=True)
    out, (_, cn) = m(xt, (torch.from_numpy(h0[None]), torch.from_numpy(c0[None])))
    torch.autograd.backward([out, cn], [torch.from_numpy(dhs), torch.from_numpy(dc_last[None])])
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(cs[-1], cn[0].detach().numpy(), rtol=0, atol=1e-5)
    for a, b in zip([grads[0], *grads[3:]], [xt.grad.numpy(), *grads_of(m)]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)

    h1, c1, step_cache = rc.lstm_step_forward(x[0], h0, c0, **p)
    assert h1.dtype == c1.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rc.lstm_step_backward(dhs[0], dc_last, step_cache))


def test_lstm_step_and_sequence_agree_forward_and_backward(rng):
    T, N, D, H = 4, 2, 3, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))
    dc_last = rng.standard_normal((N, H))
    hs, cs, cache = rc.lstm_forward(x, h0, c0, **p)
    h, c, caches = h0, c0, []
    for t in range(T):
        h, c, step_cache = rc.lstm_step_forward(x[t], h, c, **p)
        caches.append(step_cache)
        np.testing.assert_allclose(h, hs[t], rtol=0, atol=1e-14)
        np.testing.assert_allclose(c, cs[t], rtol=0, atol=1e-14)

    dx, dh0, dc0, *dparams = rc.lstm_backward(dhs, cache, dc_last=dc_last)
    dh, dc = np.zeros((N, H)), dc_last
    sums = [np.zeros_like(g) for g in dparams]
    for t in range(T - 1, -1, -1):  # BPTT written with the step function, as chapter 5 does
        dx_t, dh, dc, *dstep = rc.lstm_step_backward(dhs[t] + dh, dc, caches[t])
        np.testing.assert_allclose(dx_t, dx[t], rtol=0, atol=1e-13)
        sums = [s + g for s, g in zip(sums, dstep)]
    np.testing.assert_allclose(dh, dh0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(dc, dc0, rtol=0, atol=1e-13)
    for s, g in zip(sums, dparams):
        np.testing.assert_allclose(s, g, rtol=0, atol=1e-13)


def test_lstm_backward_without_dc_last_is_zero_dc_last(rng):
    T, N, D, H = 3, 2, 3, 4
    p = _params(rng, D, H)
    _, _, cache = rc.lstm_forward(rng.standard_normal((T, N, D)), np.zeros((N, H)), np.zeros((N, H)), **p)
    dhs = rng.standard_normal((T, N, H))
    for a, b in zip(rc.lstm_backward(dhs, cache), rc.lstm_backward(dhs, cache, dc_last=np.zeros((N, H)))):
        np.testing.assert_array_equal(a, b)


def test_lstm_backward_gradcheck(rng):
    T, N, D, H = 3, 2, 3, 4
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))
    dc_last = rng.standard_normal((N, H))
    _, _, cache = rc.lstm_forward(x, h0, c0, **p)
    dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh = rc.lstm_backward(dhs, cache, dc_last=dc_last)
    analytic = {"x": dx, "h0": dh0, "c0": dc0, "W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh}
    args = {"x": x, "h0": h0, "c0": c0, **p}
    dout = np.concatenate([dhs.ravel(), dc_last.ravel()])  # the loss reads every hs[t] and the final c_T

    def forward(**a):
        hs, cs, _ = rc.lstm_forward(**a)
        return np.concatenate([hs.ravel(), cs[-1].ravel()])
    assert_matches_numerical(forward, args, analytic, dout)


def test_lstm_step_backward_gradcheck(rng):
    N, D, H = 3, 4, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    c = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, H))
    dc = rng.standard_normal((N, H))
    _, _, cache = rc.lstm_step_forward(x, h, c, **p)
    names = ["x_t", "h_prev", "c_prev", "W_ih", "W_hh", "b_ih", "b_hh"]
    grads = dict(zip(names, rc.lstm_step_backward(dh, dc, cache)))
    args = {"x_t": x, "h_prev": h, "c_prev": c, **p}
    dout = np.concatenate([dh, dc], axis=-1)

    def forward(**a):
        h_next, c_next, _ = rc.lstm_step_forward(**a)
        return np.concatenate([h_next, c_next], axis=-1)
    assert_matches_numerical(forward, args, grads, dout)


def _lstm_step_cs231n_order(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    """The same cell, reading the blocks in CS231n's order i, f, o, g (the mistake the parity test catches)."""
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    a_i, a_f, a_o, a_g = np.split(a, 4, axis=-1)
    c_next = sigmoid(a_f) * c_prev + sigmoid(a_i) * np.tanh(a_g)
    return sigmoid(a_o) * np.tanh(c_next), c_next


def test_lstm_gate_order_is_torchs_ifgo_not_cs231n_ifog(rng):
    N, D, H = 3, 4, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    c = rng.standard_normal((N, H))
    with torch.no_grad():
        cell = torch_with(torch.nn.LSTMCell, p)
        h_torch, c_torch = (v.numpy() for v in cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c))))
    h_ours, c_ours, _ = rc.lstm_step_forward(x, h, c, **p)
    np.testing.assert_allclose(h_ours, h_torch, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_ours, c_torch, rtol=0, atol=1e-12)

    h_wrong, c_wrong = _lstm_step_cs231n_order(x, h, c, **p)
    assert np.max(np.abs(h_wrong - h_torch)) > 1e-2
    assert np.max(np.abs(c_wrong - c_torch)) > 1e-2
    # reordering the blocks to i, f, o, g makes the CS231n reading agree: only the order differs
    order = np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H), np.arange(2 * H, 3 * H)])
    h_fixed, c_fixed = _lstm_step_cs231n_order(x, h, c, **{k: v[order] for k, v in p.items()})
    np.testing.assert_allclose(h_fixed, h_torch, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_fixed, c_torch, rtol=0, atol=1e-12)


# recorded from `lstm_forward` / `lstm_backward` on the linspace inputs below, after they matched torch.nn.LSTM
GOLDEN_H_T = [[0.061080585642273, 0.10957602257641709], [0.06976844918500945, 0.16427298162491627]]
GOLDEN_C_T = [[0.0967535199831834, 0.16433803879021108], [0.1014078577014549, 0.22386038167712594]]
GOLDEN_DW_HH_COL0 = [0.002053728407707297, 0.00441591879920118, 0.000616574202120165, 0.0008104521834156888,
                     0.013023290946508517, 0.013477939313842478, 0.0013838692418243156, 0.0024850000483092297]


def test_lstm_golden_values():
    # hand-checkable: all weights and biases 0, so i = f = o = 1/2 and g = 0; the cell state halves each step
    D, H = 1, 1
    zeros = {"W_ih": np.zeros((4, D)), "W_hh": np.zeros((4, H)), "b_ih": np.zeros(4), "b_hh": np.zeros(4)}
    hs, cs, _ = rc.lstm_forward(np.ones((2, 1, D)), np.zeros((1, H)), np.ones((1, H)), **zeros)
    np.testing.assert_allclose(cs[:, 0, 0], [0.5, 0.25], rtol=1e-15)
    np.testing.assert_allclose(hs[:, 0, 0], [0.5 * np.tanh(0.5), 0.5 * np.tanh(0.25)], rtol=1e-15)
    # only the g bias set to 1 (third block), c0 = 0: c_1 = tanh(1) / 2
    b_g = np.array([0.0, 0.0, 1.0, 0.0])
    hs, cs, _ = rc.lstm_forward(np.ones((1, 1, D)), np.zeros((1, H)), np.zeros((1, H)), **{**zeros, "b_ih": b_g})
    np.testing.assert_allclose(cs[0, 0, 0], 0.5 * np.tanh(1.0), rtol=1e-15)
    np.testing.assert_allclose(hs[0, 0, 0], 0.5 * np.tanh(0.5 * np.tanh(1.0)), rtol=1e-15)
    # linspace inputs, against the recorded values above
    T, N, D, H = 2, 2, 3, 2
    x = np.linspace(-0.4, 0.6, T * N * D).reshape(T, N, D)
    W_ih = np.linspace(-0.5, 0.5, 4 * H * D).reshape(4 * H, D)
    W_hh = np.linspace(0.4, -0.3, 4 * H * H).reshape(4 * H, H)
    b = np.linspace(-0.1, 0.2, 4 * H)
    hs, cs, cache = rc.lstm_forward(x, np.zeros((N, H)), np.zeros((N, H)), W_ih, W_hh, b, b)
    np.testing.assert_allclose(hs[-1], GOLDEN_H_T, rtol=1e-12)
    np.testing.assert_allclose(cs[-1], GOLDEN_C_T, rtol=1e-12)
    dW_hh = rc.lstm_backward(np.ones_like(hs), cache)[4]
    np.testing.assert_allclose(dW_hh[:, 0], GOLDEN_DW_HH_COL0, rtol=1e-11)


BAD = [
    ("x", np.zeros((2, 3)), "`x` must be 3-D with shape (T, N, D), got shape (2, 3)"),
    ("x", np.zeros((2, 3, 5)), "`x` must have shape (T, N, D) = (2, 3, 4), got (2, 3, 5)"),
    ("x", np.zeros((0, 3, 4)), "`x` must have at least one time step, got shape (0, 3, 4)"),
    ("h0", np.zeros((2, 5)), "`h0` must have shape (N, H) = (3, 5), got (2, 5)"),
    ("c0", np.zeros((3, 4)), "`c0` must have shape (N, H) = (3, 5), got (3, 4)"),
    ("c0", np.zeros((1, 3, 5)), "`c0` must have shape (N, H) = (3, 5), got (1, 3, 5)"),
    ("W_hh", np.zeros((5, 5)), "`W_hh` must have shape (4H, H) = (20, 5), got (5, 5)"),
    ("W_hh", np.zeros(20), "`W_hh` must be 2-D with shape (4H, H), got shape (20,)"),
    ("W_ih", np.zeros((15, 4)), "`W_ih` must have shape (4H, D) = (20, ?), got (15, 4)"),
    ("b_ih", np.zeros(15), "`b_ih` must have shape (4H,) = (20,), got (15,)"),
    ("b_hh", np.zeros((20, 1)), "`b_hh` must have shape (4H,) = (20,), got (20, 1)"),
    ("b_hh", np.zeros(5), "`b_hh` must have shape (4H,) = (20,), got (5,)"),
]


@pytest.mark.parametrize("name,value,message", BAD)
def test_lstm_forward_bad_input_names_argument_and_shapes(rng, name, value, message):
    args = {"x": np.zeros((2, 3, 4)), "h0": np.zeros((3, 5)), "c0": np.zeros((3, 5)), **_params(rng, 4, 5)}
    args[name] = value
    with pytest.raises(ValueError) as err:
        rc.lstm_forward(**args)
    assert message in str(err.value)
    assert str(err.value).startswith("lstm_forward:")


def _check_errors(cases):
    """Every call must raise a ValueError whose message is exactly the expected one."""
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message


def test_lstm_step_bad_input_and_foreign_caches(rng):
    p = _params(rng, 4, 5)
    x, h = np.zeros((3, 4)), np.zeros((3, 5))
    _, _, step_cache = rc.lstm_step_forward(x, h, h, **p)
    _, _, seq_cache = rc.lstm_forward(np.zeros((2, 3, 4)), h, h, **p)
    _, gru_cache = rc.gru_step_forward(x, h, **rc.init_recurrent(rng, 4, 5, cell="gru"))
    _, rnn_cache = rc.rnn_forward(np.zeros((2, 3, 4)), h, **rc.init_recurrent(rng, 4, 5))
    _check_errors([
        (lambda: rc.lstm_step_forward(np.zeros(4), h, h, **p),
         "lstm_step_forward: `x_t` must be 2-D with shape (N, D), got shape (4,)"),
        (lambda: rc.lstm_step_forward(np.zeros((3, 2)), h, h, **p),
         "lstm_step_forward: `x_t` must have shape (N, D) = (3, 4), got (3, 2)"),
        (lambda: rc.lstm_step_forward(x, np.zeros((2, 5)), h, **p),
         "lstm_step_forward: `h_prev` must have shape (N, H) = (3, 5), got (2, 5)"),
        (lambda: rc.lstm_step_forward(x, h, np.zeros((3, 4)), **p),
         "lstm_step_forward: `c_prev` must have shape (N, H) = (3, 5), got (3, 4)"),
        (lambda: rc.lstm_step_forward(x, h, h, **{**p, "W_hh": np.zeros((15, 5))}),
         "lstm_step_forward: `W_hh` must have shape (4H, H) = (20, 5), got (15, 5)"),
        (lambda: rc.lstm_step_forward(x, h, h, **{**p, "b_hh": np.zeros(15)}),
         "lstm_step_forward: `b_hh` must have shape (4H,) = (20,), got (15,)"),
        (lambda: rc.lstm_step_forward(x, [["a"] * 5] * 3, h, **p),
         "lstm_step_forward: `h_prev` must be a numeric array, got dtype <U1"),
        (lambda: rc.lstm_step_backward(h, h, gru_cache),
         "lstm_step_backward: `cache` must be the cache returned by lstm_step_forward, got GRUStepCache"),
        (lambda: rc.lstm_step_backward(h, h, seq_cache),
         "lstm_step_backward: `cache` must be the cache returned by lstm_step_forward, got LSTMCache"),
        (lambda: rc.lstm_step_backward(h, h, (1, 2)),
         "lstm_step_backward: `cache` must be the cache returned by lstm_step_forward, got tuple"),
        (lambda: rc.lstm_backward(np.zeros((2, 3, 5)), step_cache),
         "lstm_backward: `cache` must be the cache returned by lstm_forward, got LSTMStepCache"),
        (lambda: rc.lstm_backward(np.zeros((2, 3, 5)), rnn_cache),
         "lstm_backward: `cache` must be the cache returned by lstm_forward, got RNNCache"),
        (lambda: rc.lstm_step_backward(h, np.zeros(5), step_cache),
         "lstm_step_backward: `dc_next` must have shape (N, H) = (3, 5), got (5,)"),
        (lambda: rc.lstm_step_backward(np.zeros((1, 5)), h, step_cache),
         "lstm_step_backward: `dh_next` must have shape (N, H) = (3, 5), got (1, 5)"),
        (lambda: rc.lstm_backward(h, seq_cache),
         "lstm_backward: `dhs` must have shape (T, N, H) = (2, 3, 5), got (3, 5)"),
        (lambda: rc.lstm_backward(np.zeros((2, 3, 5)), seq_cache, dc_last=np.zeros((2, 3, 5))),
         "lstm_backward: `dc_last` must have shape (N, H) = (3, 5), got (2, 3, 5)"),
    ])
