"""Stacked and bidirectional layers against torch.nn.RNN/LSTM/GRU (float64), dropout, gradient checks, bad input."""

import numpy as np
import pytest
import torch

import rnncore as rc

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
TORCH_CLASS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
T, N, D, H = 4, 3, 5, 4


def _torch_module(cell, nonlinearity, params, D, H, num_layers, bidirectional, bias):
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    m = getattr(torch.nn, TORCH_CLASS[cell])(D, H, num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                                              **extra).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    return m


def _states(rng, cell, S, requires_grad=False):
    """Random initial states (and upstream gradients of the final ones) as numpy and as torch leaves."""
    arrays = [rng.standard_normal((S, N, H)) for _ in range(2 if cell == "lstm" else 1)]
    tensors = [torch.tensor(a, requires_grad=requires_grad) for a in arrays]
    if cell == "lstm":
        return tuple(arrays), tuple(tensors)
    return arrays[0], tensors[0]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_stacked_forward_backward_match_torch(rng, cell, nonlinearity, num_layers, bidirectional, bias):
    nd, S = 2 if bidirectional else 1, num_layers * (2 if bidirectional else 1)
    params = rc.init_stacked(rng, D, H, cell, num_layers, bidirectional, bias)
    x = rng.standard_normal((T, N, D))
    hx, hx_t = _states(rng, cell, S, requires_grad=True)
    dout = rng.standard_normal((T, N, nd * H))
    dhx_n, _ = _states(rng, cell, S)

    out, hx_n, cache = rc.stacked_forward(x, hx, params, cell, nonlinearity)
    dx, dhx0, grads = rc.stacked_backward(dout, cache, dhx_n)

    m = _torch_module(cell, nonlinearity, params, D, H, num_layers, bidirectional, bias)
    xt = torch.tensor(x, requires_grad=True)
    out_t, hx_n_t = m(xt, hx_t)
    ours, theirs = [out], [out_t]
    if cell == "lstm":
        ours += [hx_n[0], hx_n[1]]
        theirs += [hx_n_t[0], hx_n_t[1]]
        loss = (out_t * torch.from_numpy(dout)).sum() + sum((s * torch.from_numpy(g)).sum()
                                                            for s, g in zip(hx_n_t, dhx_n))
    else:
        ours.append(hx_n)
        theirs.append(hx_n_t)
        loss = (out_t * torch.from_numpy(dout)).sum() + (hx_n_t * torch.from_numpy(dhx_n)).sum()
    loss.backward()
    for a, b in zip(ours, theirs):
        assert np.max(np.abs(a - b.detach().numpy())) <= 1e-10
    assert list(grads) == [name for name, _ in m.named_parameters()] == rc.stacked_param_names(
        num_layers, bidirectional, bias)
    checks = {"dx": (dx, xt.grad)}
    if cell == "lstm":
        checks.update(dh0=(dhx0[0], hx_t[0].grad), dc0=(dhx0[1], hx_t[1].grad))
    else:
        checks["dh0"] = (dhx0, hx_t.grad)
    checks.update({name: (grads[name], p.grad) for name, p in m.named_parameters()})
    for name, (a, b) in checks.items():
        assert a.shape == tuple(b.shape), name
        assert np.max(np.abs(a - b.numpy())) <= 1e-10, name


def test_stacked_zero_initial_state_by_default_and_dhx_n_optional(rng):
    params = rc.init_stacked(rng, D, H, "lstm", 2, True)
    x = rng.standard_normal((T, N, D))
    zeros = (np.zeros((4, N, H)), np.zeros((4, N, H)))
    out, (h_n, c_n), cache = rc.stacked_forward(x, None, params, "lstm")
    out0, (h_n0, c_n0), cache0 = rc.stacked_forward(x, zeros, params, "lstm")
    np.testing.assert_array_equal(out, out0)
    np.testing.assert_array_equal(c_n, c_n0)
    dout = rng.standard_normal(out.shape)
    a = rc.stacked_backward(dout, cache)
    b = rc.stacked_backward(dout, cache0, (np.zeros_like(h_n), None))
    np.testing.assert_array_equal(a[0], b[0])
    for name in a[2]:
        np.testing.assert_array_equal(a[2][name], b[2][name])


def test_stacked_bidirectional_is_two_one_layer_runs(rng):
    # the definition, written out: forward on x, reverse on x flipped in time and flipped back, concatenated
    params = rc.init_stacked(rng, D, H, "gru", 1, True)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((2, N, H))
    out, h_n, _ = rc.stacked_forward(x, h0, params, "gru")
    fwd, _ = rc.gru_forward(x, h0[0], *(params[k + "_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    rev, _ = rc.gru_forward(x[::-1], h0[1], *(params[k + "_l0_reverse"]
                                              for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    np.testing.assert_array_equal(out, np.concatenate([fwd, rev[::-1]], axis=-1))
    np.testing.assert_array_equal(h_n, np.stack([fwd[-1], rev[-1]]))
    np.testing.assert_array_equal(h_n[1], out[0, :, H:])  # the reverse direction ends at t = 1


def test_stacked_without_bias_is_zero_bias(rng):
    with_bias = rc.init_stacked(rng, D, H, "lstm", 2, True, bias=True)
    no_bias = {k: v for k, v in with_bias.items() if k.startswith("weight")}
    zero_bias = {k: (v if k.startswith("weight") else np.zeros_like(v)) for k, v in with_bias.items()}
    x = rng.standard_normal((T, N, D))
    out, _, cache = rc.stacked_forward(x, None, no_bias, "lstm")
    out0, _, cache0 = rc.stacked_forward(x, None, zero_bias, "lstm")
    np.testing.assert_array_equal(out, out0)
    _, _, grads = rc.stacked_backward(np.ones_like(out), cache)
    _, _, grads0 = rc.stacked_backward(np.ones_like(out), cache0)
    assert set(grads) == set(no_bias)
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads0[name])


def test_stacked_param_names_and_init_match_torch(rng):
    for cell, _ in CELLS[1:]:
        for L, bi, bias in [(1, False, True), (3, True, False), (2, True, True)]:
            m = getattr(torch.nn, TORCH_CLASS[cell])(D, H, num_layers=L, bidirectional=bi, bias=bias)
            params = rc.init_stacked(rng, D, H, cell, L, bi, bias)
            assert rc.stacked_param_names(L, bi, bias) == [n for n, _ in m.named_parameters()] == list(params)
            for name, p in m.named_parameters():
                assert params[name].shape == tuple(p.shape)
                assert np.all(np.abs(params[name]) <= 1 / np.sqrt(H))
    a = rc.init_stacked(np.random.default_rng(0), D, H, "gru", 2, dtype=np.float32)
    b = rc.init_stacked(np.random.default_rng(0), D, H, "gru", 2, dtype=np.float32)
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == np.float32 for k in a)


def test_stacked_float32_keeps_dtype(rng):
    params = rc.init_stacked(rng, D, H, "lstm", 2, True, dtype=np.float32)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    out, (h_n, c_n), cache = rc.stacked_forward(x, None, params, "lstm")
    assert out.dtype == h_n.dtype == c_n.dtype == np.float32
    dx, (dh0, dc0), grads = rc.stacked_backward(np.ones_like(out), cache)
    assert dx.dtype == dh0.dtype == dc0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_stacked_dropout_matches_torch_layers_with_the_same_masks(rng, cell, nonlinearity):
    # torch.nn.LSTM(dropout=p) draws its masks from torch's generator, so compose one-layer torch modules by hand,
    # multiplying by the masks rnncore drew: the values and every gradient must agree
    L, p = 3, 0.4
    params = rc.init_stacked(rng, D, H, cell, L, True)
    x = rng.standard_normal((T, N, D))
    hx, hx_t = _states(rng, cell, 2 * L, requires_grad=True)
    out, hx_n, cache = rc.stacked_forward(x, hx, params, cell, nonlinearity, dropout=p, rng=rng)
    dout = rng.standard_normal(out.shape)
    dx, dhx0, grads = rc.stacked_backward(dout, cache)
    assert cache.masks[-1] is None and all(m is not None for m in cache.masks[:-1])

    xt = torch.tensor(x, requires_grad=True)
    u, layers = xt, []
    for l in range(L):
        names = [n for n in rc.stacked_param_names(L, True) if f"_l{l}" in n]
        one = {n.replace(f"_l{l}", "_l0"): params[n] for n in names}
        m = _torch_module(cell, nonlinearity, one, u.shape[-1], H, 1, True, True)
        layers.append((l, m))
        state = (hx_t[0][2 * l : 2 * l + 2], hx_t[1][2 * l : 2 * l + 2]) if cell == "lstm" else hx_t[2 * l : 2 * l + 2]
        u, _ = m(u, state)
        if cache.masks[l] is not None:
            u = u * torch.from_numpy(cache.masks[l])
    (u * torch.from_numpy(dout)).sum().backward()
    assert np.max(np.abs(out - u.detach().numpy())) <= 1e-10
    assert np.max(np.abs(dx - xt.grad.numpy())) <= 1e-10
    dh0 = dhx0[0] if cell == "lstm" else dhx0
    assert np.max(np.abs(dh0 - (hx_t[0] if cell == "lstm" else hx_t).grad.numpy())) <= 1e-10
    for l, m in layers:
        for name, param in m.named_parameters():
            assert np.max(np.abs(grads[name.replace("_l0", f"_l{l}")] - param.grad.numpy())) <= 1e-10, name


def test_stacked_dropout_masks_are_inverted_bernoulli(rng):
    params = rc.init_stacked(rng, 3, 50, "rnn", 2)
    x = rng.standard_normal((40, 20, 3))
    p = 0.3
    out, _, cache = rc.stacked_forward(x, None, params, "rnn", dropout=p, rng=rng)
    mask = cache.masks[0]
    assert set(np.unique(mask)) == {0.0, 1 / (1 - p)}
    assert abs(np.mean(mask == 0) - p) < 0.01  # 40 000 draws: the standard error is 0.0023
    # reproducible from the seed; no randomness (and no rng needed) without dropout or with one layer
    a, _, _ = rc.stacked_forward(x, None, params, "rnn", dropout=p, rng=np.random.default_rng(5))
    b, _, _ = rc.stacked_forward(x, None, params, "rnn", dropout=p, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    one = {k: v for k, v in params.items() if "_l0" in k}
    c, _, _ = rc.stacked_forward(x, None, one, "rnn", dropout=p)
    np.testing.assert_array_equal(c, rc.stacked_forward(x, None, one, "rnn")[0])
    zeros, _, _ = rc.stacked_forward(x, None, params, "rnn", dropout=1.0, rng=rng)
    h_second = np.tanh(params["bias_ih_l1"] + params["bias_hh_l1"])  # layer 1 sees only zeros at step 1
    np.testing.assert_allclose(zeros[0], np.broadcast_to(h_second, zeros[0].shape), atol=1e-15)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stacked_backward_gradcheck_with_dropout(cell):
    rng = np.random.default_rng(7)
    T, N, D, H, L = 3, 2, 3, 2, 2
    params = rc.init_stacked(rng, D, H, cell, L, True)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((2 * L, N, H))
    hx = (h0, rng.standard_normal((2 * L, N, H))) if cell == "lstm" else h0
    dout = rng.standard_normal((T, N, 2 * H))
    dh_n = rng.standard_normal((2 * L, N, H))
    dhx_n = (dh_n, rng.standard_normal((2 * L, N, H))) if cell == "lstm" else dh_n

    def loss():
        out, hx_n, _ = rc.stacked_forward(x, hx, params, cell, dropout=0.5, rng=np.random.default_rng(3))
        h_part = sum(np.sum(s * g) for s, g in zip(hx_n, dhx_n)) if cell == "lstm" else np.sum(hx_n * dhx_n)
        return np.sum(out * dout) + h_part

    out, _, cache = rc.stacked_forward(x, hx, params, cell, dropout=0.5, rng=np.random.default_rng(3))
    assert np.any(cache.masks[0] == 0)
    dx, dhx0, grads = rc.stacked_backward(dout, cache, dhx_n)
    errors = rc.check_gradients(params, grads, loss)
    assert max(errors.values()) < 1e-7, errors
    assert rc.rel_error(dx, rc.eval_numerical_gradient(loss, x)) < 1e-7
    states = zip(hx, dhx0) if cell == "lstm" else [(hx, dhx0)]
    for s, ds in states:
        assert rc.rel_error(ds, rc.eval_numerical_gradient(loss, s)) < 1e-7


# ---------------------------------------------------------------- bad input


def _args(rng, cell="rnn"):
    params = rc.init_stacked(rng, 4, 5, cell, num_layers=2, bidirectional=True)
    return np.zeros((2, 3, 4)), params


BAD_FORWARD = [
    ({"x": np.zeros((2, 3))}, "`x` must be 3-D with shape (T, N, D), got shape (2, 3)"),
    ({"x": np.zeros((2, 3, 5))}, "`x` must have shape (T, N, D) = (2, 3, 4), got (2, 3, 5)"),
    ({"hx": np.zeros((2, 3, 5))},
     "`h0` must have shape (num_layers * num_directions, N, H) = (4, 3, 5), got (2, 3, 5)"),
    ({"hx": np.zeros((4, 2, 5))},
     "`h0` must have shape (num_layers * num_directions, N, H) = (4, 3, 5), got (4, 2, 5)"),
    ({"cell": "lstmm"}, "`cell` must be one of ['gru', 'lstm', 'rnn'], got 'lstmm'"),
    ({"nonlinearity": "sigmoid"}, "`nonlinearity` must be 'tanh' or 'relu', got 'sigmoid'"),
    ({"dropout": 1.5}, "`dropout` must be a number in [0, 1], got 1.5"),
    ({"dropout": 0.2}, "`rng` must be a numpy.random.Generator when dropout > 0 (it draws the masks), got NoneType"),
    ({"params": []}, "`params` must be a dict of torch's names -> arrays, got list"),
    ({"params": {"W_ih": np.zeros((5, 4))}}, "`params` must hold torch's names for at least one layer(s)"),
    ({"drop": "bias_hh_l1_reverse"}, "missing ['bias_hh_l1_reverse'], unexpected []"),
    ({"add": "weight_ih_l0_backward"}, "missing [], unexpected ['weight_ih_l0_backward']"),
    ({"set": ("weight_ih_l1", np.zeros((5, 5)))},
     "`params['weight_ih_l1']` must have shape (G*H, 2*H) = (5, 10), got (5, 5)"),
    ({"set": ("weight_hh_l1_reverse", np.zeros((5, 4)))},
     "`params['weight_hh_l1_reverse']` must have shape (G*H, H) = (5, 5), got (5, 4)"),
    ({"set": ("bias_ih_l0", np.zeros(6))}, "`params['bias_ih_l0']` must have shape (G*H,) = (5,), got (6,)"),
    ({"set": ("weight_hh_l0", np.zeros(5))},
     "`params['weight_hh_l0']` must be 2-D with shape (G*H, H), got shape (5,)"),
]


@pytest.mark.parametrize("change,message", BAD_FORWARD)
def test_stacked_forward_bad_input_names_argument_and_shapes(rng, change, message):
    x, params = _args(rng)
    args = {"x": x, "hx": None, "params": params, "cell": "rnn", "nonlinearity": "tanh", "dropout": 0.0}
    if "drop" in change:
        del params[change["drop"]]
    elif "add" in change:
        params[change["add"]] = np.zeros(1)
    elif "set" in change:
        params[change["set"][0]] = change["set"][1]
    else:
        args.update(change)
    with pytest.raises(ValueError) as err:
        rc.stacked_forward(**args)
    assert str(err.value).startswith("stacked_forward: ")
    assert message in str(err.value)


def test_stacked_lstm_and_backward_bad_input(rng):
    x, params = _args(rng, "lstm")
    with pytest.raises(ValueError, match=r"stacked_forward: `hx` must be a pair \(h0, c0\) or None for an LSTM, "
                                         "got ndarray"):
        rc.stacked_forward(x, np.zeros((4, 3, 5)), params, "lstm")
    with pytest.raises(ValueError, match=r"`c0` must have shape \(num_layers \* num_directions, N, H\) = "
                                         r"\(4, 3, 5\), got \(4, 3, 4\)"):
        rc.stacked_forward(x, (np.zeros((4, 3, 5)), np.zeros((4, 3, 4))), params, "lstm")
    with pytest.raises(ValueError, match="`nonlinearity` applies only to cell='rnn', got 'relu' with cell='lstm'"):
        rc.stacked_forward(x, None, params, "lstm", "relu")
    with pytest.raises(ValueError, match=r"`params\['weight_ih_l0'\]` must have shape \(G\*H, D\) = \(20, 4\), "
                                         r"got \(5, 4\)"):
        rc.stacked_forward(x, None, rc.init_stacked(rng, 4, 5, "rnn", 2, True), "lstm")
    out, _, cache = rc.stacked_forward(x, None, params, "lstm")
    with pytest.raises(ValueError, match=r"stacked_backward: `dout` must have shape \(T, N, num_directions \* H\) "
                                         r"= \(2, 3, 10\), got \(2, 3, 5\)"):
        rc.stacked_backward(np.zeros((2, 3, 5)), cache)
    with pytest.raises(ValueError, match=r"stacked_backward: `dhx_n` must be a pair \(dh_n, dc_n\) or None"):
        rc.stacked_backward(out, cache, np.zeros((4, 3, 5)))
    with pytest.raises(ValueError, match=r"stacked_backward: `dc_n` must have shape \(num_layers \* num_directions, "
                                         r"N, H\) = \(4, 3, 5\), got \(3, 5\)"):
        rc.stacked_backward(out, cache, (None, np.zeros((3, 5))))
    _, rnn_cache = rc.rnn_forward(x, np.zeros((3, 5)), *rc.init_recurrent(rng, 4, 5).values())
    with pytest.raises(ValueError, match="stacked_backward: `cache` must be the cache returned by stacked_forward, "
                                         "got RNNCache"):
        rc.stacked_backward(out, rnn_cache)


def test_init_stacked_bad_input(rng):
    with pytest.raises(ValueError, match="init_stacked: `rng` must be a numpy.random.Generator, got int"):
        rc.init_stacked(0, 3, 4)
    with pytest.raises(ValueError, match="init_stacked: `num_layers` must be a positive int, got 0"):
        rc.init_stacked(rng, 3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"init_stacked: `cell` must be one of \['gru', 'lstm', 'rnn'\], got 'GRU'"):
        rc.init_stacked(rng, 3, 4, "GRU")
