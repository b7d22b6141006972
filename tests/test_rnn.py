"""The Elman RNN against torch.nn.RNN + autograd (float64), numerical gradients, and bad input."""

import numpy as np
import pytest
import torch
from torch_reference import assert_matches_numerical, torch_with

import rnncore as rc


def _params(rng, D, H, dtype=np.float64):
    return rc.init_recurrent(rng, D, H, dtype=dtype)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("T,N,D,H", [(5, 3, 4, 6), (1, 1, 2, 3), (7, 1, 3, 2), (1, 4, 3, 5)])
def test_rnn_forward_backward_match_torch(rng, nonlinearity, T, N, D, H):
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))

    hs, cache = rc.rnn_forward(x, h0, **p, nonlinearity=nonlinearity)
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rc.rnn_backward(dhs, cache)

    m = torch_with(torch.nn.RNN, p, nonlinearity=nonlinearity)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, hn = m(xt, h0t)
    out.backward(torch.from_numpy(dhs))

    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(hs[-1], hn[0].detach().numpy(), rtol=0, atol=1e-12)
    grads = {
        "dx": (dx, xt.grad.numpy()),
        "dh0": (dh0, h0t.grad[0].numpy()),
        "dW_ih": (dW_ih, m.weight_ih_l0.grad.numpy()),
        "dW_hh": (dW_hh, m.weight_hh_l0.grad.numpy()),
        "db_ih": (db_ih, m.bias_ih_l0.grad.numpy()),
        "db_hh": (db_hh, m.bias_hh_l0.grad.numpy()),
    }
    for name, (ours, theirs) in grads.items():
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_step_matches_torch_rnncell(rng, nonlinearity):
    N, D, H = 3, 4, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, H))
    h_next, cache = rc.rnn_step_forward(x, h, **p, nonlinearity=nonlinearity)
    dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh = rc.rnn_step_backward(dh, cache)

    cell = torch_with(torch.nn.RNNCell, p, nonlinearity=nonlinearity)
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True)
    out = cell(xt, ht)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h_next, out.detach().numpy(), atol=1e-12)
    for ours, theirs in [(dx, xt.grad), (dh_prev, ht.grad), (dW_ih, cell.weight_ih.grad),
                         (dW_hh, cell.weight_hh.grad), (db_ih, cell.bias_ih.grad), (db_hh, cell.bias_hh.grad)]:
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-10)


def test_rnn_float32_matches_torch_and_keeps_dtype(rng):
    T, N, D, H = 6, 2, 3, 4
    p = _params(rng, D, H, dtype=np.float32)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    h0 = np.zeros((N, H), np.float32)
    hs, cache = rc.rnn_forward(x, h0, **p)
    assert hs.dtype == np.float32
    grads = rc.rnn_backward(np.ones_like(hs), cache)
    assert all(g.dtype == np.float32 for g in grads)
    m = torch_with(torch.nn.RNN, p, dtype=torch.float32)
    out, _ = m(torch.from_numpy(x), torch.from_numpy(h0[None]))
    np.testing.assert_allclose(hs, out.detach().numpy(), atol=1e-6)


def test_rnn_step_and_sequence_agree(rng):
    T, N, D, H = 4, 2, 3, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h = h0 = rng.standard_normal((N, H))
    hs, _ = rc.rnn_forward(x, h0, **p)
    for t in range(T):
        h, _ = rc.rnn_step_forward(x[t], h, **p)
        np.testing.assert_allclose(h, hs[t], atol=1e-14)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_backward_gradcheck(rng, nonlinearity):
    T, N, D, H = 3, 2, 3, 4
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))
    _, cache = rc.rnn_forward(x, h0, **p, nonlinearity=nonlinearity)
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rc.rnn_backward(dhs, cache)
    analytic = {"x": dx, "h0": dh0, "W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh}
    args = {"x": x, "h0": h0, **p}
    assert_matches_numerical(lambda **a: rc.rnn_forward(**a, nonlinearity=nonlinearity)[0], args, analytic, dhs)


def test_rnn_step_backward_gradcheck(rng):
    N, D, H = 3, 4, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, H))
    _, cache = rc.rnn_step_forward(x, h, **p)
    grads = dict(zip(["x_t", "h_prev", "W_ih", "W_hh", "b_ih", "b_hh"], rc.rnn_step_backward(dh, cache)))
    args = {"x_t": x, "h_prev": h, **p}
    assert_matches_numerical(lambda **a: rc.rnn_step_forward(**a)[0], args, grads, dh)


def test_rnn_golden_values():
    # hand-checkable: D = H = 1, weights 0.5, biases 0, x = [1, 0], h0 = 0
    hs, _ = rc.rnn_forward(np.array([[[1.0]], [[0.0]]]), np.zeros((1, 1)), [[0.5]], [[0.5]], [0.0], [0.0])
    h1 = np.tanh(0.5)
    np.testing.assert_allclose(hs[:, 0, 0], [h1, np.tanh(0.5 * h1)], rtol=1e-15)
    # linspace inputs, values recorded from this implementation after it matched torch
    T, N, D, H = 2, 2, 3, 2
    x = np.linspace(-0.4, 0.6, T * N * D).reshape(T, N, D)
    W_ih = np.linspace(-0.2, 0.3, H * D).reshape(H, D)
    W_hh = np.linspace(-0.4, 0.1, H * H).reshape(H, H)
    b = np.linspace(-0.1, 0.1, H)
    hs, _ = rc.rnn_forward(x, np.zeros((N, H)), W_ih, W_hh, b, b)
    a00 = x[0, 0] @ W_ih.T + 2 * b
    np.testing.assert_allclose(hs[0, 0], np.tanh(a00), rtol=1e-14)
    np.testing.assert_allclose(hs[1, 0], np.tanh(x[1, 0] @ W_ih.T + 2 * b + np.tanh(a00) @ W_hh.T), rtol=1e-14)


BAD = [
    ("x", np.zeros((2, 3)), "`x` must be 3-D with shape (T, N, D), got shape (2, 3)"),
    ("x", np.zeros((2, 3, 5)), "`x` must have shape (T, N, D) = (2, 3, 4), got (2, 3, 5)"),
    ("h0", np.zeros((2, 5)), "`h0` must have shape (N, H) = (3, 5), got (2, 5)"),
    ("W_hh", np.zeros((5, 4)), "`W_hh` must have shape (G*H, H) = (4, 4), got (5, 4)"),
    ("W_ih", np.zeros((4, 5)), "`W_ih` must have shape (G*H, D) = (5, ?), got (4, 5)"),
    ("b_ih", np.zeros(4), "`b_ih` must have shape (G*H,) = (5,), got (4,)"),
    ("b_hh", np.zeros((5, 1)), "`b_hh` must have shape (G*H,) = (5,), got (5, 1)"),
]


@pytest.mark.parametrize("name,value,message", BAD)
def test_rnn_forward_bad_input_names_argument_and_shapes(rng, name, value, message):
    args = {"x": np.zeros((2, 3, 4)), "h0": np.zeros((3, 5)), **_params(rng, 4, 5)}
    args[name] = value
    with pytest.raises(ValueError) as err:
        rc.rnn_forward(**args)
    assert message in str(err.value)
    assert str(err.value).startswith("rnn_forward:")


def test_step_bad_input_and_foreign_cache(rng):
    p = _params(rng, 4, 5)
    with pytest.raises(ValueError, match=r"`h_prev` must have shape \(N, H\) = \(3, 5\), got \(3, 4\)"):
        rc.rnn_step_forward(np.zeros((3, 4)), np.zeros((3, 4)), **p)
    with pytest.raises(ValueError, match="`nonlinearity` must be 'tanh' or 'relu', got 'sigmoid'"):
        rc.rnn_step_forward(np.zeros((3, 4)), np.zeros((3, 5)), **p, nonlinearity="sigmoid")
    _, seq_cache = rc.rnn_forward(np.zeros((2, 3, 4)), np.zeros((3, 5)), **p)
    with pytest.raises(ValueError, match="`cache` must be the cache returned by rnn_step_forward, got RNNCache"):
        rc.rnn_step_backward(np.zeros((3, 5)), seq_cache)
    _, step_cache = rc.rnn_step_forward(np.zeros((3, 4)), np.zeros((3, 5)), **p)
    with pytest.raises(ValueError, match="`cache` must be the cache returned by rnn_forward, got RNNStepCache"):
        rc.rnn_backward(np.zeros((2, 3, 5)), step_cache)
    with pytest.raises(ValueError, match=r"`dhs` must have shape \(T, N, H\) = \(2, 3, 5\), got \(3, 5\)"):
        rc.rnn_backward(np.zeros((3, 5)), seq_cache)
    with pytest.raises(ValueError, match="`x` must be a numeric array"):
        rc.rnn_forward([["a"]], np.zeros((3, 5)), **p)
