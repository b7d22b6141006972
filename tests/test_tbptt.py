"""Truncated BPTT: the chunks, the carried state, the truncated gradient (torch and numerical), training, bad input."""

import numpy as np
import pytest
import torch

import rnncore as rc


def _problem(rng, T, N, D, H, V, dtype=np.float64):
    params = {**rc.init_recurrent(rng, D, H, dtype=dtype), **rc.init_affine(rng, H, V, dtype=dtype)}
    params["W_hh"] = params["W_hh"] * 2.5  # larger recurrent weights: the gradient reaches far back
    x = rng.standard_normal((T, N, D)).astype(dtype)
    y = rng.integers(0, V, size=(T, N))
    h0 = rng.standard_normal((N, H)).astype(dtype)
    return x, y, h0, params


def _recorder():
    """An `update` that changes nothing and keeps a copy of every chunk's gradients."""
    seen = []

    def update(params, grads):
        assert sorted(grads) == sorted(params)
        seen.append({name: np.array(g, copy=True) for name, g in grads.items()})

    return seen, update


def _torch_tbptt(x, y, h0, params, k, lr=0.0):
    """The same computation with torch.nn.RNN + nn.Linear + cross_entropy, detaching the state between chunks."""
    T, N, D = x.shape
    H, V = params["W_hh"].shape[0], params["W"].shape[0]
    rnn = torch.nn.RNN(D, H).double()
    out = torch.nn.Linear(H, V).double()
    with torch.no_grad():
        for module, name, key in [(rnn, "weight_ih_l0", "W_ih"), (rnn, "weight_hh_l0", "W_hh"),
                                  (rnn, "bias_ih_l0", "b_ih"), (rnn, "bias_hh_l0", "b_hh"),
                                  (out, "weight", "W"), (out, "bias", "b")]:
            getattr(module, name).copy_(torch.from_numpy(params[key]))
    tensors = {"W_ih": rnn.weight_ih_l0, "W_hh": rnn.weight_hh_l0, "b_ih": rnn.bias_ih_l0,
               "b_hh": rnn.bias_hh_l0, "W": out.weight, "b": out.bias}
    h = torch.from_numpy(h0)[None]
    losses, grads = [], []
    for start in range(0, T, k):
        stop = min(start + k, T)
        for p in tensors.values():
            p.grad = None
        hs, h_n = rnn(torch.from_numpy(x[start:stop]), h)
        logits = out(hs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y[start:stop]).reshape(-1))
        loss.backward()
        losses.append(loss.item())
        grads.append({name: p.grad.numpy().copy() for name, p in tensors.items()})
        with torch.no_grad():
            for p in tensors.values():
                p -= lr * p.grad
        h = h_n.detach()  # the truncation: the next chunk's backward stops here
    final = {name: p.detach().numpy().copy() for name, p in tensors.items()}
    return np.array(losses), h[0].numpy(), grads, final


@pytest.mark.parametrize("T,k", [(1, 1), (7, 1), (7, 3), (9, 3), (10, 4), (5, 5), (5, 9), (12, 12)])
def test_chunk_bounds_cover_the_sequence_exactly(T, k):
    bounds = rc.chunk_bounds(T, k)
    steps = [t for start, stop in bounds for t in range(start, stop)]
    assert steps == list(range(T))
    lengths = [stop - start for start, stop in bounds]
    assert all(n == k for n in lengths[:-1]) and 1 <= lengths[-1] <= k
    assert len(bounds) == -(-T // k)
    assert all(type(v) is int for pair in bounds for v in pair)


def test_chunk_bounds_golden():
    assert rc.chunk_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert rc.chunk_bounds(4, 10) == [(0, 4)]
    assert rc.chunk_bounds(np.int64(4), np.int32(2)) == [(0, 2), (2, 4)]


@pytest.mark.parametrize("k", [6, 7, 50])
def test_one_chunk_is_full_bptt_and_matches_torch(rng, k):
    T, N, D, H, V = 6, 3, 4, 5, 3
    x, y, h0, params = _problem(rng, T, N, D, H, V)
    seen, update = _recorder()
    losses, h_last = rc.rnn_tbptt(x, y, h0, params, k, update)
    assert losses.shape == (1,) and len(seen) == 1

    # full BPTT with rnncore's layers, by hand
    hs, cache = rc.rnn_forward(x, h0, params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"])
    logits, out_cache = rc.affine_forward(hs, params["W"], params["b"])
    loss, dlogits = rc.softmax_cross_entropy(logits, y)
    dhs, dW, db = rc.affine_backward(dlogits, out_cache)
    _, _, dW_ih, dW_hh, db_ih, db_hh = rc.rnn_backward(dhs, cache)
    full = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "W": dW, "b": db}
    assert losses[0] == pytest.approx(loss, abs=1e-14)
    np.testing.assert_allclose(h_last, hs[-1], rtol=0, atol=1e-14)
    for name in full:
        np.testing.assert_allclose(seen[0][name], full[name], rtol=0, atol=1e-14, err_msg=name)

    t_losses, t_h, t_grads, _ = _torch_tbptt(x, y, h0, params, k)
    np.testing.assert_allclose(losses, t_losses, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_last, t_h, rtol=0, atol=1e-12)
    for name in full:
        np.testing.assert_allclose(seen[0][name], t_grads[0][name], rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("T,N,k", [(10, 2, 3), (9, 1, 3), (7, 3, 1), (8, 2, 5)])
def test_truncated_gradients_match_torch_with_detach(rng, T, N, k):
    x, y, h0, params = _problem(rng, T, N, 3, 4, 5)
    seen, update = _recorder()
    losses, h_last = rc.rnn_tbptt(x, y, h0, params, k, update)
    t_losses, t_h, t_grads, _ = _torch_tbptt(x, y, h0, params, k)
    assert len(seen) == len(t_grads) == len(rc.chunk_bounds(T, k))
    np.testing.assert_allclose(losses, t_losses, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_last, t_h, rtol=0, atol=1e-12)
    for j, (ours, theirs) in enumerate(zip(seen, t_grads)):
        for name in ours:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=0, atol=1e-10, err_msg=f"chunk {j} {name}")


def test_carried_state_is_the_full_forward_state_at_every_boundary(rng):
    T, N, k = 11, 2, 4
    x, y, h0, params = _problem(rng, T, N, 3, 4, 5)
    hs, _ = rc.rnn_forward(x, h0, params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"])
    logits, _ = rc.affine_forward(hs, params["W"], params["b"])
    losses, h_last = rc.rnn_tbptt(x, y, h0, params, k)
    np.testing.assert_allclose(h_last, hs[-1], rtol=0, atol=1e-14)
    for j, (start, stop) in enumerate(rc.chunk_bounds(T, k)):
        # the state handed to the chunk that starts at `stop` is the full forward's h at step stop
        _, h_boundary = rc.rnn_tbptt(x[:stop], y[:stop], h0, params, k)
        np.testing.assert_allclose(h_boundary, hs[stop - 1], rtol=0, atol=1e-14)
        loss_chunk, _ = rc.softmax_cross_entropy(logits[start:stop], y[start:stop])
        assert losses[j] == pytest.approx(loss_chunk, abs=1e-14)


def test_chunk_gradient_is_the_numerical_gradient_with_the_incoming_state_held_fixed(rng):
    T, N, k = 8, 2, 3
    x, y, h0, params = _problem(rng, T, N, 3, 4, 3)
    seen, update = _recorder()
    rc.rnn_tbptt(x, y, h0, params, k, update)
    hs, _ = rc.rnn_forward(x, h0, params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"])
    for j, (start, stop) in enumerate(rc.chunk_bounds(T, k)):
        h_in = h0 if start == 0 else hs[start - 1]  # a constant: the numerical gradient does not move it
        probe = {name: p.copy() for name, p in params.items()}

        def chunk_loss(probe=probe, h_in=h_in, start=start, stop=stop):
            hc, _ = rc.rnn_forward(x[start:stop], h_in, probe["W_ih"], probe["W_hh"], probe["b_ih"], probe["b_hh"])
            logits, _ = rc.affine_forward(hc, probe["W"], probe["b"])
            return rc.softmax_cross_entropy(logits, y[start:stop])[0]

        errors = rc.check_gradients(probe, seen[j], chunk_loss)
        assert max(errors.values()) < 1e-7, (j, errors)


def test_gradient_of_a_later_chunk_differs_from_untruncated_bptt(rng):
    """The truncation is real: backpropagating the last chunk's loss through the whole past gives another gradient."""
    T, N, k = 8, 2, 4
    x, y, h0, params = _problem(rng, T, N, 3, 4, 3)
    seen, update = _recorder()
    rc.rnn_tbptt(x, y, h0, params, k, update)
    hs, cache = rc.rnn_forward(x, h0, params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"])
    logits, out_cache = rc.affine_forward(hs, params["W"], params["b"])
    _, dlogits = rc.softmax_cross_entropy(logits[k:], y[k:])  # the second chunk's loss only
    dhs, _, _ = rc.affine_backward(np.concatenate([np.zeros_like(logits[:k]), dlogits]), out_cache)
    untruncated_dW_hh = rc.rnn_backward(dhs, cache)[3]  # backpropagated through all T steps
    assert np.abs(untruncated_dW_hh - seen[1]["W_hh"]).max() > 1e-4


def test_update_after_every_chunk_trains_like_torch_sgd(rng):
    T, N, k, lr = 12, 2, 4, 0.5
    x, y, h0, params = _problem(rng, T, N, 3, 4, 3)
    start_params = {name: p.copy() for name, p in params.items()}
    losses, h_last = rc.rnn_tbptt(x, y, h0, params, k, rc.SGD(lr).step)
    t_losses, t_h, _, t_final = _torch_tbptt(x, y, h0, start_params, k, lr=lr)
    np.testing.assert_allclose(losses, t_losses, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_last, t_h, rtol=0, atol=1e-12)
    for name in params:
        np.testing.assert_allclose(params[name], t_final[name], rtol=0, atol=1e-12, err_msg=name)
        assert not np.allclose(params[name], start_params[name])


def test_training_on_repeated_passes_lowers_the_loss(rng):
    # predict the input of the previous step (a dependency of 1 step, well inside k = 5)
    T, N, V, H = 40, 4, 3, 8
    tokens = rng.integers(0, V, size=(T, N))
    x = np.eye(V)[tokens]
    y = np.roll(tokens, 1, axis=0)
    y[0] = 0
    params = {**rc.init_recurrent(rng, V, H), **rc.init_affine(rng, H, V)}
    opt = rc.Adam(0.05)
    first, _ = rc.rnn_tbptt(x, y, np.zeros((N, H)), params, 5, opt.step)
    for _ in range(30):
        last, _ = rc.rnn_tbptt(x, y, np.zeros((N, H)), params, 5, opt.step)
    assert last.mean() < 0.3 * first.mean()


def test_dtype_follows_the_inputs(rng):
    x, y, h0, params = _problem(rng, 5, 2, 3, 4, 3, dtype=np.float32)
    seen, update = _recorder()
    losses, h_last = rc.rnn_tbptt(x, y, h0, params, 2, update)
    assert h_last.dtype == np.float32
    assert all(g.dtype == np.float32 for grads in seen for g in grads.values())
    assert losses.dtype == np.float64 and losses.shape == (3,)


@pytest.mark.parametrize("T,k,message", [
    (0, 2, "chunk_bounds: `T` must be an integer >= 1, got 0"),
    (5, 0, "chunk_bounds: `k` must be an integer >= 1, got 0"),
    (5, -1, "chunk_bounds: `k` must be an integer >= 1, got -1"),
    (5, 2.0, "chunk_bounds: `k` must be an integer >= 1, got 2.0"),
    (5, True, "chunk_bounds: `k` must be an integer >= 1, got True"),
    ("5", 2, "chunk_bounds: `T` must be an integer >= 1, got '5'"),
])
def test_chunk_bounds_bad_input(T, k, message):
    with pytest.raises(ValueError) as err:
        rc.chunk_bounds(T, k)
    assert str(err.value) == message


BAD = [
    ("x", np.zeros((4, 2)), "rnn_tbptt: `x` must be 3-D with shape (T, N, D), got shape (4, 2)"),
    ("x", np.zeros((4, 2, 5)), "rnn_tbptt: `x` must have shape (T, N, D) = (4, 2, 3), got (4, 2, 5)"),
    ("x", np.zeros((0, 2, 3)), "rnn_tbptt: `x` must have at least one time step, got shape (0, 2, 3)"),
    ("h0", np.zeros((3, 4)), "rnn_tbptt: `h0` must have shape (N, H) = (2, 4), got (3, 4)"),
    ("y", np.zeros((4, 3), dtype=int), "rnn_tbptt: `y` must have shape (T, N) = (4, 2), got (4, 3)"),
    ("y", np.zeros((4, 2)), "rnn_tbptt: `y` must hold integer class indices, got dtype float64"),
    ("y", np.full((4, 2), 5), "rnn_tbptt: `y` must lie in [0, V) = [0, 5), got values in [5, 5]"),
    ("k", 0, "rnn_tbptt: `k` must be an integer >= 1, got 0"),
    ("k", 2.5, "rnn_tbptt: `k` must be an integer >= 1, got 2.5"),
    ("update", "sgd", "rnn_tbptt: `update` must be None or a function update(params, grads), got str"),
    ("W_hh", np.zeros((4, 3)), "rnn_tbptt: `W_hh` must have shape (G*H, H) = (3, 3), got (4, 3)"),
    ("W", np.zeros((5, 3)), "rnn_tbptt: `params['W']` must have shape (V, H) = (5, 4), got (5, 3)"),
    ("b", np.zeros(4), "rnn_tbptt: `params['b']` must have shape (V,) = (5,), got (4,)"),
]


@pytest.mark.parametrize("name,value,message", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_rnn_tbptt_bad_input_names_argument_and_shapes(rng, name, value, message):
    x, y, h0, params = _problem(rng, 4, 2, 3, 4, 5)
    args = {"x": x, "y": y, "h0": h0, "params": params, "k": 2, "update": None}
    if name in params:
        params[name] = value
    else:
        args[name] = value
    with pytest.raises(ValueError) as err:
        rc.rnn_tbptt(**args)
    assert str(err.value) == message


def test_rnn_tbptt_bad_params_dict(rng):
    x, y, h0, params = _problem(rng, 4, 2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"rnn_tbptt: `params` must be a dict of name -> array, got list"):
        rc.rnn_tbptt(x, y, h0, list(params.values()), 2)
    del params["b_hh"]
    params["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"missing or unexpected: \['b_hh', 'extra'\]"):
        rc.rnn_tbptt(x, y, h0, params, 2)
