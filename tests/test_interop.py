"""from_torch / to_torch and the numpy `Recurrent` against torch.nn.RNN/LSTM/GRU (float64) in every configuration."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import rnncore as rc

MODES = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
T, N, D, H = 4, 3, 5, 4


def _module(rng, name, extra, dtype=torch.float64, **config):
    """A torch module whose parameters are drawn from `rng` (not from torch's global generator)."""
    m = getattr(torch.nn, name)(D, H, **extra, **config).to(dtype)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, size=tuple(p.shape))))
    return m


def _max_err(a, b):
    assert a.shape == tuple(b.shape)
    return float(np.max(np.abs(a - b.detach().numpy())))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("name,extra", MODES)
def test_from_torch_forward_backward_match_torch(rng, name, extra, num_layers, bidirectional, batch_first, bias):
    m = _module(rng, name, extra, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                bias=bias)
    model = rc.from_torch(m)
    lstm, S, F = name == "LSTM", num_layers * (2 if bidirectional else 1), (2 if bidirectional else 1) * H
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    states = [rng.standard_normal((S, N, H)) for _ in range(2 if lstm else 1)]
    d_out = rng.standard_normal((N, T, F) if batch_first else (T, N, F))
    d_states = [rng.standard_normal((S, N, H)) for _ in states]

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    out_t, hx_n_t = m(xt, tuple(st) if lstm else st[0])
    finals_t = list(hx_n_t) if lstm else [hx_n_t]
    loss = (out_t * torch.from_numpy(d_out)).sum()
    loss = loss + sum((f * torch.from_numpy(g)).sum() for f, g in zip(finals_t, d_states))
    loss.backward()

    out, hx_n = model.forward(x, tuple(states) if lstm else states[0])
    dx, d_hx0, grads = model.backward(d_out, tuple(d_states) if lstm else d_states[0])
    finals = list(hx_n) if lstm else [hx_n]
    d_initial = list(d_hx0) if lstm else [d_hx0]
    assert isinstance(hx_n, tuple) == isinstance(d_hx0, tuple) == lstm
    assert _max_err(out, out_t) <= 1e-10
    assert max(_max_err(a, b) for a, b in zip(finals, finals_t)) <= 1e-10
    assert _max_err(dx, xt.grad) <= 1e-10
    assert max(_max_err(a, b.grad) for a, b in zip(d_initial, st)) <= 1e-10
    assert list(grads) == [n for n, _ in m.named_parameters()]
    for n, p in m.named_parameters():
        assert _max_err(grads[n], p.grad) <= 1e-10, n


@pytest.mark.parametrize("name,extra", MODES)
def test_from_torch_without_hx_and_unbatched_input_match_torch(rng, name, extra):
    m = _module(rng, name, extra, num_layers=2, bidirectional=True, batch_first=True)
    model = rc.from_torch(m)
    lstm = name == "LSTM"
    # hx=None means zeros; only the output feeds the loss, so d_hx=None
    x = rng.standard_normal((N, T, D))
    d_out = rng.standard_normal((N, T, 2 * H))
    xt = torch.tensor(x, requires_grad=True)
    out_t, _ = m(xt)
    (out_t * torch.from_numpy(d_out)).sum().backward()
    out, _ = model(x)
    dx, _, grads = model.backward(d_out)
    assert _max_err(out, out_t) <= 1e-10 and _max_err(dx, xt.grad) <= 1e-10
    assert max(_max_err(grads[n], p.grad) for n, p in m.named_parameters()) <= 1e-10
    # an unbatched (T, D) input, with (S, H) states: torch ignores batch_first for it
    m.zero_grad()
    x1 = rng.standard_normal((T, D))
    states = [rng.standard_normal((4, H)) for _ in range(2 if lstm else 1)]
    d_out1 = rng.standard_normal((T, 2 * H))
    d_h_n = rng.standard_normal((4, H))
    xt1 = torch.tensor(x1, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    out_t1, hx_n_t1 = m(xt1, tuple(st) if lstm else st[0])
    h_n_t1 = hx_n_t1[0] if lstm else hx_n_t1
    ((out_t1 * torch.from_numpy(d_out1)).sum() + (h_n_t1 * torch.from_numpy(d_h_n)).sum()).backward()
    out1, hx_n1 = model(x1, tuple(states) if lstm else states[0])
    dx1, d_hx0, grads1 = model.backward(d_out1, (d_h_n, None) if lstm else d_h_n)
    h_n1, dh0 = (hx_n1[0], d_hx0[0]) if lstm else (hx_n1, d_hx0)
    assert _max_err(out1, out_t1) <= 1e-10 and _max_err(h_n1, h_n_t1) <= 1e-10
    assert _max_err(dx1, xt1.grad) <= 1e-10 and _max_err(dh0, st[0].grad) <= 1e-10
    if lstm:
        assert _max_err(d_hx0[1], st[1].grad) <= 1e-10
    assert max(_max_err(grads1[n], p.grad) for n, p in m.named_parameters()) <= 1e-10


@pytest.mark.parametrize("name,extra", MODES)
def test_to_torch_round_trip(rng, name, extra):
    m = _module(rng, name, extra, num_layers=2, bidirectional=True, batch_first=True, bias=False, dropout=0.25)
    model = rc.from_torch(m)
    assert (model.mode, model.input_size, model.hidden_size, model.num_layers, model.bidirectional,
            model.batch_first, model.bias, model.nonlinearity, model.dropout) == (
        name.lower(), D, H, 2, True, True, False, extra.get("nonlinearity", "tanh"), 0.25)
    back = rc.to_torch(model)
    assert type(back) is type(m) and back.training is False
    for attr in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                 "bidirectional"):
        assert getattr(back, attr) == getattr(m, attr), attr
    theirs, ours = dict(m.named_parameters()), dict(back.named_parameters())
    assert list(theirs) == list(ours)
    for n in theirs:
        assert ours[n].dtype == torch.float64 and torch.equal(ours[n], theirs[n]), n
    x = torch.from_numpy(rng.standard_normal((N, T, D)))
    m.eval()
    out_a, _ = m(x)
    out_b, _ = back(x)
    assert torch.equal(out_a, out_b)
    # and a model made in numpy goes to torch and back unchanged
    fresh = rc.Recurrent(name.lower(), D, H, 3, nonlinearity=extra.get("nonlinearity", "tanh"), rng=rng)
    again = rc.from_torch(rc.to_torch(fresh))
    assert list(again.params) == list(fresh.params)
    assert all(np.array_equal(again.params[k], fresh.params[k]) for k in fresh.params)


def test_float32_modules_stay_float32_and_dtype_can_be_chosen(rng):
    m = _module(rng, "GRU", {}, dtype=torch.float32, num_layers=2)
    model = rc.from_torch(m)
    assert all(p.dtype == np.float32 for p in model.params.values())
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    out, h_n = model(x)
    assert out.dtype == h_n.dtype == np.float32
    out_t, _ = m(torch.from_numpy(x))
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=1e-6)
    assert next(rc.to_torch(model).parameters()).dtype == torch.float32
    assert next(rc.to_torch(model, dtype=torch.float64).parameters()).dtype == torch.float64


def test_dropout_only_when_training(rng):
    m = _module(rng, "LSTM", {}, num_layers=3, dropout=0.5)
    m.train()
    model = rc.from_torch(m)
    assert model.training is False  # eval semantics by default, whatever mode the torch module was in
    x = rng.standard_normal((T, N, D))
    m.eval()
    out_t, _ = m(torch.from_numpy(x))
    out_eval, _ = model(x)
    assert _max_err(out_eval, out_t) <= 1e-10
    a, _ = model.train(np.random.default_rng(1))(x)
    assert rc.to_torch(model).training is True
    b, _ = model.train(np.random.default_rng(1))(x)
    c, _ = model.train(np.random.default_rng(2))(x)
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(a - out_eval)) > 1e-3 and np.max(np.abs(a - c)) > 1e-3
    dx, _, grads = model.backward(np.ones_like(c))
    assert dx.shape == x.shape and set(grads) == set(model.params)
    out_again, _ = model.eval()(x)
    np.testing.assert_array_equal(out_again, out_eval)


def test_import_rnncore_does_not_import_torch():
    code = "import sys, rnncore, rnncore.torch_interop; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- bad input


def test_from_torch_and_to_torch_reject_what_they_cannot_convert(rng):
    for module, kind in [(torch.nn.Linear(3, 4), "Linear"), (torch.nn.LSTMCell(3, 4), "LSTMCell"),
                         (torch.nn.RNNCell(3, 4), "RNNCell")]:
        with pytest.raises(ValueError, match=f"from_torch: `module` must be a torch.nn.RNN, torch.nn.LSTM or "
                                             f"torch.nn.GRU, got {kind}"):
            rc.from_torch(module)
    with pytest.raises(ValueError, match=r"from_torch: an LSTM with proj_size > 0 is not supported \(rnncore's LSTM "
                                         r"has no projection\), got proj_size=2"):
        rc.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ValueError, match=r"from_torch: parameters must be float32 or float64, got torch.bfloat16 "
                                         r"for 'weight_ih_l0'"):
        rc.from_torch(torch.nn.GRU(3, 4).to(torch.bfloat16))
    with pytest.raises(ValueError, match="to_torch: `model` must be an rnncore Recurrent"):
        rc.to_torch(torch.nn.GRU(3, 4))
    with pytest.raises(ValueError, match="to_torch: `dtype` must be torch.float32, torch.float64 or None"):
        rc.to_torch(rc.from_torch(torch.nn.GRU(3, 4)), dtype=torch.float16)


def test_recurrent_bad_input_names_argument_and_shapes(rng):
    lstm = rc.Recurrent("lstm", D, H, num_layers=2, bidirectional=True, batch_first=True, rng=rng)
    gru = rc.Recurrent("gru", D, H, rng=rng)
    cases = [
        (lambda: lstm(np.zeros((2, 3, 4, 5))), "Recurrent.forward: `x` must be 2-D (T, D) or 3-D (N, T, D), "
                                               "got shape (2, 3, 4, 5)"),
        (lambda: lstm(np.zeros((3, T, 6))), "Recurrent.forward: `x` must have shape (N, T, D) = (?, ?, 5), "
                                            "got (3, 4, 6)"),
        (lambda: gru(np.zeros((T, 6))), "Recurrent.forward: `x` must have shape (T, D) = (?, 5), got (4, 6)"),
        (lambda: lstm(np.zeros((3, T, D)), np.zeros((4, 3, H))),
         "Recurrent.forward: `hx` must be a pair (h0, c0) for an LSTM, got ndarray"),
        (lambda: lstm(np.zeros((3, T, D)), (np.zeros((4, 3, H)), np.zeros((2, 3, H)))),
         "Recurrent.forward: `c0` must have shape (num_layers * num_directions, N, H) = (4, 3, 4), got (2, 3, 4)"),
        (lambda: gru(np.zeros((T, 3, D)), np.zeros((1, 2, H))),
         "Recurrent.forward: `hx` must have shape (num_layers * num_directions, N, H) = (1, 3, 4), got (1, 2, 4)"),
        (lambda: gru(np.zeros((T, D)), np.zeros((1, 1, H))),
         "Recurrent.forward: `hx` must have shape (num_layers * num_directions, H) = (1, 4), got (1, 1, 4)"),
        (lambda: rc.Recurrent("gru", D, H, rng=rng).backward(np.zeros((T, 3, H))),
         "Recurrent.backward: call `forward` first"),
        (lambda: rc.Recurrent("GRU", D, H, rng=rng), "Recurrent: `mode` must be one of ['gru', 'lstm', 'rnn'], "
                                                    "got 'GRU'"),
        (lambda: rc.Recurrent("rnn", D, 0, rng=rng), "Recurrent: `hidden_size` must be a positive int, got 0"),
        (lambda: rc.Recurrent("rnn", D, H, dropout=-0.1, rng=rng), "Recurrent: `dropout` must be a number in [0, 1]"),
        (lambda: rc.Recurrent("rnn", D, H, num_layers=2, params=rc.init_stacked(rng, D, H)),
         "Recurrent: `params` describe (num_layers, bidirectional, bias, input_size, hidden_size) = "
         "(1, False, True, 5, 4), but the configuration is (2, False, True, 5, 4)"),
        (lambda: rc.Recurrent("rnn", D, H), "Recurrent: `rng` must be a numpy.random.Generator when `params` is "
                                            "None (it draws them), got NoneType"),
        (lambda: lstm.train(3), "Recurrent.train: `rng` must be a numpy.random.Generator, got int"),
        (lambda: rc.Recurrent("lstm", D, H, nonlinearity="relu", rng=rng),
         "Recurrent: `nonlinearity` applies only to mode='rnn', got 'relu' with mode='lstm'"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert message in str(err.value)
    out, _ = lstm(np.zeros((3, T, D)))
    for d_out, d_hx, message in [
        (np.zeros((T, 3, 2 * H)), None,
         "Recurrent.backward: `d_output` must have shape (N, T, num_directions * H) = (3, 4, 8), got (4, 3, 8)"),
        (out, np.zeros((4, 3, H)), "Recurrent.backward: `d_hx` must be a pair (dh_n, dc_n) for an LSTM, got ndarray"),
        (out, (np.zeros((4, 3, 2)), None),
         "Recurrent.backward: `dh_n` must have shape (num_layers * num_directions, N, H) = (4, 3, 4), got (4, 3, 2)"),
    ]:
        with pytest.raises(ValueError) as err:
            lstm.backward(d_out, d_hx)
        assert message in str(err.value)
    gru(np.zeros((T, 3, D)))
    with pytest.raises(ValueError, match=r"Recurrent.backward: `d_output` must have shape \(T, N, num_directions "
                                         r"\* H\) = \(4, 3, 4\), got \(4, 3, 8\)"):
        gru.backward(np.zeros((T, 3, 2 * H)))


def test_parallel_scan_torch_matches_the_loop_and_its_gradient_matches_autograd_of_the_loop(rng):
    """The torch doubling scan of chapter 8: the states of linear_recurrence (h0 = 0), and autograd through it equals
    autograd through the plain loop, in float64, for lengths 1, 2, a power of two and not."""
    for T in (1, 2, 8, 13):
        a_np, b_np = rng.uniform(-1, 1, size=(T, 2, 3)), rng.normal(size=(T, 2, 3))
        a, b = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
        hs = rc.parallel_scan_torch(a, b)
        np.testing.assert_allclose(hs.detach().numpy(), rc.linear_recurrence(a_np, b_np), rtol=1e-12, atol=1e-12)
        w = torch.tensor(rng.normal(size=(T, 2, 3)))
        da, db = torch.autograd.grad((hs * w).sum(), (a, b), allow_unused=True, materialize_grads=True)
        a2, b2 = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
        h, loop = torch.zeros(2, 3, dtype=torch.float64), []
        for t in range(T):
            h = a2[t] * h + b2[t]
            loop.append(h)
        da2, db2 = torch.autograd.grad((torch.stack(loop) * w).sum(), (a2, b2))
        np.testing.assert_allclose(da.numpy(), da2.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(db.numpy(), db2.numpy(), rtol=1e-12, atol=1e-12)


def test_parallel_scan_torch_names_a_bad_argument():
    with pytest.raises(ValueError, match="`b` must have the same shape"):
        rc.parallel_scan_torch(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="`a` must be a torch.Tensor"):
        rc.parallel_scan_torch(np.zeros((3, 2)), torch.zeros(3, 2))


def test_parallel_scan_torch_is_locked_while_a_student_function_is_graded():
    """A torch doubling scan answers the graded parallel_scan: it is locked like the references."""
    from rnncore._lock import ReferenceLockedError, locked

    a = torch.zeros(3, 2)
    with locked("parallel_scan"):
        for f in (rc.parallel_scan_torch, rc.torch_interop.parallel_scan_torch):
            with pytest.raises(ReferenceLockedError):
                f(a, a)
    assert rc.parallel_scan_torch(a, a).shape == (3, 2)  # and unlocked again afterwards


def test_fit_gru_forecaster_learns_is_seeded_and_checks_its_arguments():
    from rnncore.torch_interop import fit_gru_forecaster, gru_forecaster

    rng = np.random.default_rng(7)
    X = rng.normal(size=(8, 40, 1))
    Y = np.stack([X[-1, :, 0], X[-2, :, 0]], axis=1)  # the last two values: a GRU can learn that
    mse = lambda pred, Yw: float(np.mean((pred - Yw) ** 2))  # noqa: E731
    net, (curve,) = fit_gru_forecaster(X, Y, seed=3, steps=200, lr=0.02, watch=[(X, Y)], score=mse)
    assert len(curve) == 20 and curve[-1] < 0.5 * curve[0]
    _, (again,) = fit_gru_forecaster(X, Y, seed=3, steps=200, lr=0.02, watch=[(X, Y)], score=mse)
    assert again == curve  # the seed fixes everything
    assert tuple(gru_forecaster(3, H=5)(torch.zeros(4, 2, 1)).shape) == (2, 3)
    with pytest.raises(ValueError, match="`steps` must be an int >= 1, got 0"):
        fit_gru_forecaster(X, Y, 0, 0)
    with pytest.raises(ValueError, match="`score` must be given"):
        fit_gru_forecaster(X, Y, 0, 10, watch=[(X, Y)])
    with pytest.raises(ValueError, match=r"`X` must be \(W, N, 1\)"):
        fit_gru_forecaster(X[0], Y, 0, 10)
    with pytest.raises(ValueError, match="`K` must be an int >= 1, got 0"):
        gru_forecaster(0)


def test_mingru_model_is_mingru_forward_in_torch_with_a_readout_and_its_gradients_match_the_loop(rng):
    """Chapter 8's torch minGRU: in float64 its last state is rnncore.mingru_forward's (h0 = 0) with the same weights,
    the prediction is the readout of it, and autograd through the scan equals autograd through the plain loop."""
    from rnncore.torch_interop import mingru_model

    T, N, D, H = 9, 3, 2, 4
    net = mingru_model(D, H).double()
    x_np = rng.normal(size=(T, N, D))
    W_z, b_z = net.lin_z.weight.detach().numpy(), net.lin_z.bias.detach().numpy()
    W_h, b_h = net.lin_h.weight.detach().numpy(), net.lin_h.bias.detach().numpy()
    hs = rc.mingru_forward(x_np, np.zeros((N, H)), W_z, b_z, W_h, b_h, parallel=False)
    want = hs[-1] @ net.readout.weight.detach().numpy()[0] + net.readout.bias.item()
    x = torch.tensor(x_np)
    pred = net(x)
    assert tuple(pred.shape) == (N,)
    np.testing.assert_allclose(pred.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(pred.sum(), list(net.parameters()))
    z, h = torch.sigmoid(net.lin_z(x)), torch.zeros(N, H, dtype=torch.float64)
    for t in range(T):  # the same model, step by step
        h = (1 - z[t]) * h + z[t] * net.lin_h(x[t])
    loop = torch.autograd.grad(net.readout(h)[:, 0].sum(), list(net.parameters()))
    for (name, _), g, g2 in zip(net.named_parameters(), grads, loop):
        np.testing.assert_allclose(g.numpy(), g2.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_mingru_model_checks_its_sizes_and_is_locked_while_a_student_function_is_graded():
    from rnncore._lock import ReferenceLockedError, locked
    from rnncore.torch_interop import mingru_model

    with pytest.raises(ValueError, match="mingru_model: `H` must be an int >= 1, got 0"):
        mingru_model(2, 0)
    net = mingru_model(2, 3)
    with locked("mingru_forward"):
        with pytest.raises(ReferenceLockedError):
            mingru_model(2, 3)
        with pytest.raises(ReferenceLockedError):  # its scan is the graded parallel_scan's reference in torch
            net(torch.zeros(4, 1, 2))
