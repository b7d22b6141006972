"""The GRU against torch.nn.GRU / nn.GRUCell + autograd (float64), numerical gradients, Cho's variant, bad input."""

import numpy as np
import pytest
import torch
from torch_reference import assert_matches_numerical, grads_of, torch_with

import rnncore as rc
from rnncore.activations import sigmoid

SIZES = [(5, 3, 4, 6), (1, 1, 2, 3), (7, 1, 3, 2), (1, 4, 3, 5), (4, 2, 1, 1)]
def _params(rng, D, H, dtype=np.float64):
    return rc.init_recurrent(rng, D, H, cell="gru", dtype=dtype)


@pytest.mark.parametrize("T,N,D,H", SIZES)
def test_gru_forward_backward_match_torch(rng, T, N, D, H):
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))

    hs, cache = rc.gru_forward(x, h0, **p)
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rc.gru_backward(dhs, cache)

    m = torch_with(torch.nn.GRU, p)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, hn = m(xt, h0t)
    out.backward(torch.from_numpy(dhs))

    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(hs[-1], hn[0].detach().numpy(), rtol=0, atol=1e-12)
    ours = [dx, dh0, dW_ih, dW_hh, db_ih, db_hh]
    theirs = [xt.grad.numpy(), h0t.grad[0].numpy(), *grads_of(m)]
    for name, a, b in zip(["dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"], ours, theirs):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=name)


def test_gru_h_n_gradient_matches_torch(rng):
    # a loss on torch's h_n alone is dhs that is zero except at the last step
    T, N, D, H = 4, 2, 3, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    dh_n = rng.standard_normal((N, H))
    hs, cache = rc.gru_forward(x, h0, **p)
    dhs = np.zeros_like(hs)
    dhs[-1] = dh_n
    dx, dh0, *dparams = rc.gru_backward(dhs, cache)

    m = torch_with(torch.nn.GRU, p)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    _, hn = m(xt, h0t)
    hn.backward(torch.from_numpy(dh_n[None]))
    for a, b in zip([dx, dh0, *dparams], [xt.grad.numpy(), h0t.grad[0].numpy(), *grads_of(m)]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("N,D,H", [(3, 4, 5), (1, 2, 3), (1, 1, 1), (6, 3, 2)])
def test_gru_step_matches_torch_grucell(rng, N, D, H):
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, H))
    h_next, cache = rc.gru_step_forward(x, h, **p)
    grads = rc.gru_step_backward(dh, cache)

    cell = torch_with(torch.nn.GRUCell, p)
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True)
    out = cell(xt, ht)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(h_next, out.detach().numpy(), rtol=0, atol=1e-12)
    theirs = [xt.grad.numpy(), ht.grad.numpy(), *grads_of(cell)]
    for name, a, b in zip(["dx_t", "dh_prev", "dW_ih", "dW_hh", "db_ih", "db_hh"], grads, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=name)
    # the two bias gradients differ in the n block, where only b_hn is scaled by r
    assert not np.allclose(grads[4][2 * H :], grads[5][2 * H :])
    np.testing.assert_array_equal(grads[4][: 2 * H], grads[5][: 2 * H])


def test_gru_float32_matches_torch_and_keeps_dtype(rng):
    T, N, D, H = 6, 2, 3, 4
    p = _params(rng, D, H, dtype=np.float32)
    x = rng.standard_normal((T, N, D)).astype(np.float32)
    h0 = rng.standard_normal((N, H)).astype(np.float32)
    dhs = rng.standard_normal((T, N, H)).astype(np.float32)
    hs, cache = rc.gru_forward(x, h0, **p)
    assert hs.dtype == np.float32
    grads = rc.gru_backward(dhs, cache)
    assert all(g.dtype == np.float32 for g in grads)

    m = torch_with(torch.nn.GRU, p, dtype=torch.float32)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, _ = m(xt, h0t)
    out.backward(torch.from_numpy(dhs))
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=0, atol=1e-5)
    for a, b in zip(grads, [xt.grad.numpy(), h0t.grad[0].numpy(), *grads_of(m)]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)

    h1, step_cache = rc.gru_step_forward(x[0], h0, **p)
    assert h1.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rc.gru_step_backward(dhs[0], step_cache))
    assert rc.gru_step_forward_cho(x[0], h0, **p).dtype == np.float32


def test_gru_step_and_sequence_agree_forward_and_backward(rng):
    T, N, D, H = 4, 2, 3, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))
    hs, cache = rc.gru_forward(x, h0, **p)
    h, caches = h0, []
    for t in range(T):
        h, step_cache = rc.gru_step_forward(x[t], h, **p)
        caches.append(step_cache)
        np.testing.assert_allclose(h, hs[t], rtol=0, atol=1e-14)

    dx, dh0, *dparams = rc.gru_backward(dhs, cache)
    dh = np.zeros((N, H))
    sums = [np.zeros_like(g) for g in dparams]
    for t in range(T - 1, -1, -1):
        dx_t, dh, *dstep = rc.gru_step_backward(dhs[t] + dh, caches[t])
        np.testing.assert_allclose(dx_t, dx[t], rtol=0, atol=1e-13)
        sums = [s + g for s, g in zip(sums, dstep)]
    np.testing.assert_allclose(dh, dh0, rtol=0, atol=1e-13)
    for s, g in zip(sums, dparams):
        np.testing.assert_allclose(s, g, rtol=0, atol=1e-13)


def test_gru_backward_gradcheck(rng):
    T, N, D, H = 3, 2, 3, 4
    p = _params(rng, D, H)
    x = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    dhs = rng.standard_normal((T, N, H))
    _, cache = rc.gru_forward(x, h0, **p)
    dx, dh0, dW_ih, dW_hh, db_ih, db_hh = rc.gru_backward(dhs, cache)
    analytic = {"x": dx, "h0": dh0, "W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh}
    args = {"x": x, "h0": h0, **p}
    assert_matches_numerical(lambda **a: rc.gru_forward(**a)[0], args, analytic, dhs)


def test_gru_step_backward_gradcheck(rng):
    N, D, H = 3, 4, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, H))
    _, cache = rc.gru_step_forward(x, h, **p)
    grads = dict(zip(["x_t", "h_prev", "W_ih", "W_hh", "b_ih", "b_hh"], rc.gru_step_backward(dh, cache)))
    args = {"x_t": x, "h_prev": h, **p}
    assert_matches_numerical(lambda **a: rc.gru_step_forward(**a)[0], args, grads, dh)


def _gru_step_paper(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """Cho et al. (2014) written unit by unit as in the paper: r, z, then h~_j = tanh([W x]_j + [U (r * h)]_j)."""
    H = h_prev.shape[1]
    W_r, W_z, W = W_ih[:H], W_ih[H : 2 * H], W_ih[2 * H :]
    U_r, U_z, U = W_hh[:H], W_hh[H : 2 * H], W_hh[2 * H :]
    r = sigmoid(x_t @ W_r.T + b_ih[:H] + h_prev @ U_r.T + b_hh[:H])  # every unit's reset gate, (N, H)
    h_next = np.empty_like(h_prev)
    for j in range(H):
        z_j = sigmoid(x_t @ W_z[j] + b_ih[H + j] + h_prev @ U_z[j] + b_hh[H + j])
        h_tilde_j = np.tanh(x_t @ W[j] + b_ih[2 * H + j] + (r * h_prev) @ U[j] + b_hh[2 * H + j])
        h_next[:, j] = z_j * h_prev[:, j] + (1 - z_j) * h_tilde_j
    return h_next


def test_gru_cho_is_the_paper_form_and_differs_from_torch(rng):
    N, D, H = 3, 4, 5
    p = _params(rng, D, H)
    x = rng.standard_normal((N, D))
    h = rng.standard_normal((N, H))
    cho = rc.gru_step_forward_cho(x, h, **p)
    np.testing.assert_allclose(cho, _gru_step_paper(x, h, **p), rtol=0, atol=1e-14)
    with torch.no_grad():
        torch_h = torch_with(torch.nn.GRUCell, p)(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    ours, _ = rc.gru_step_forward(x, h, **p)
    np.testing.assert_allclose(ours, torch_h, rtol=0, atol=1e-12)
    assert np.max(np.abs(cho - torch_h)) > 1e-2  # the parity test would catch reset-before

    # the forms coincide exactly when W_hn is diagonal and b_hn = 0: r * (h W_hn^T) = (r * h) W_hn^T
    q = {k: v.copy() for k, v in p.items()}
    q["W_hh"][2 * H :] = np.diag(rng.uniform(-1, 1, H))
    q["b_hh"][2 * H :] = 0
    with torch.no_grad():
        torch_h = torch_with(torch.nn.GRUCell, q)(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    np.testing.assert_allclose(rc.gru_step_forward_cho(x, h, **q), torch_h, rtol=0, atol=1e-12)


# recorded from `gru_forward` / `gru_backward` on the linspace inputs below, after they matched torch.nn.GRU
GOLDEN_H_T = [[0.2506050601211565, 0.27444991766157684], [0.3780929040090282, 0.4486992795140232]]
GOLDEN_DB_HH = [0.035298818139724554, 0.028302892739467372, 0.05369318077426155, -0.007763860283724389,
                1.0337048172256496, 0.9883352246936566]


def test_gru_golden_values():
    # hand-checkable: all weights and biases 0, so r = z = 1/2 and n = 0; h halves each step
    D, H = 1, 1
    zeros = {"W_ih": np.zeros((3, D)), "W_hh": np.zeros((3, H)), "b_ih": np.zeros(3), "b_hh": np.zeros(3)}
    hs, _ = rc.gru_forward(np.ones((2, 1, D)), np.ones((1, H)), **zeros)
    np.testing.assert_allclose(hs[:, 0, 0], [0.5, 0.25], rtol=1e-15)
    # b_hn = 1, h0 = 0: n = tanh(r * 1) = tanh(1/2), h_1 = n / 2; Cho's form gives tanh(0 + 1) / 2 instead
    b_hh = np.array([0.0, 0.0, 1.0])
    hs, _ = rc.gru_forward(np.ones((1, 1, D)), np.zeros((1, H)), **{**zeros, "b_hh": b_hh})
    np.testing.assert_allclose(hs[0, 0, 0], 0.5 * np.tanh(0.5), rtol=1e-15)
    cho = rc.gru_step_forward_cho(np.ones((1, D)), np.zeros((1, H)), **{**zeros, "b_hh": b_hh})
    np.testing.assert_allclose(cho[0, 0], 0.5 * np.tanh(1.0), rtol=1e-15)
    # linspace inputs, against the recorded values above
    T, N, D, H = 2, 2, 3, 2
    x = np.linspace(-0.4, 0.6, T * N * D).reshape(T, N, D)
    W_ih = np.linspace(-0.5, 0.5, 3 * H * D).reshape(3 * H, D)
    W_hh = np.linspace(0.4, -0.3, 3 * H * H).reshape(3 * H, H)
    b = np.linspace(-0.1, 0.2, 3 * H)
    hs, cache = rc.gru_forward(x, np.full((N, H), 0.3), W_ih, W_hh, b, b)
    np.testing.assert_allclose(hs[-1], GOLDEN_H_T, rtol=1e-12)
    np.testing.assert_allclose(rc.gru_backward(np.ones_like(hs), cache)[5], GOLDEN_DB_HH, rtol=1e-11)


BAD = [
    ("x", np.zeros((2, 3)), "`x` must be 3-D with shape (T, N, D), got shape (2, 3)"),
    ("x", np.zeros((2, 3, 5)), "`x` must have shape (T, N, D) = (2, 3, 4), got (2, 3, 5)"),
    ("x", np.zeros((0, 3, 4)), "`x` must have at least one time step, got shape (0, 3, 4)"),
    ("h0", np.zeros((2, 5)), "`h0` must have shape (N, H) = (3, 5), got (2, 5)"),
    ("h0", np.zeros((1, 3, 5)), "`h0` must have shape (N, H) = (3, 5), got (1, 3, 5)"),
    ("W_hh", np.zeros((20, 5)), "`W_hh` must have shape (3H, H) = (15, 5), got (20, 5)"),
    ("W_hh", np.zeros(15), "`W_hh` must be 2-D with shape (3H, H), got shape (15,)"),
    ("W_ih", np.zeros((20, 4)), "`W_ih` must have shape (3H, D) = (15, ?), got (20, 4)"),
    ("b_ih", np.zeros(20), "`b_ih` must have shape (3H,) = (15,), got (20,)"),
    ("b_hh", np.zeros((15, 1)), "`b_hh` must have shape (3H,) = (15,), got (15, 1)"),
    ("b_hh", np.zeros(5), "`b_hh` must have shape (3H,) = (15,), got (5,)"),
]


@pytest.mark.parametrize("name,value,message", BAD)
def test_gru_forward_bad_input_names_argument_and_shapes(rng, name, value, message):
    args = {"x": np.zeros((2, 3, 4)), "h0": np.zeros((3, 5)), **_params(rng, 4, 5)}
    args[name] = value
    with pytest.raises(ValueError) as err:
        rc.gru_forward(**args)
    assert str(err.value) == f"gru_forward: {message}"


def test_gru_step_bad_input_and_foreign_caches(rng):
    p = _params(rng, 4, 5)
    x, h = np.zeros((3, 4)), np.zeros((3, 5))
    _, step_cache = rc.gru_step_forward(x, h, **p)
    _, seq_cache = rc.gru_forward(np.zeros((2, 3, 4)), h, **p)
    _, _, lstm_cache = rc.lstm_step_forward(x, h, h, **rc.init_recurrent(rng, 4, 5, cell="lstm"))
    _, _, lstm_seq_cache = rc.lstm_forward(np.zeros((2, 3, 4)), h, h, **rc.init_recurrent(rng, 4, 5, cell="lstm"))
    cases = [
        (lambda: rc.gru_step_forward(np.zeros((3, 4, 1)), h, **p),
         "gru_step_forward: `x_t` must be 2-D with shape (N, D), got shape (3, 4, 1)"),
        (lambda: rc.gru_step_forward(x, np.zeros((3, 4)), **p),
         "gru_step_forward: `h_prev` must have shape (N, H) = (3, 5), got (3, 4)"),
        (lambda: rc.gru_step_forward(x, h, **{**p, "W_hh": np.zeros((20, 5))}),
         "gru_step_forward: `W_hh` must have shape (3H, H) = (15, 5), got (20, 5)"),
        (lambda: rc.gru_step_forward(x, h, **{**p, "b_ih": np.zeros(20)}),
         "gru_step_forward: `b_ih` must have shape (3H,) = (15,), got (20,)"),
        (lambda: rc.gru_step_forward_cho(x, np.zeros((2, 5)), **p),
         "gru_step_forward_cho: `h_prev` must have shape (N, H) = (3, 5), got (2, 5)"),
        (lambda: rc.gru_step_forward_cho(x, h, **{**p, "W_ih": np.zeros((15, 3))}),
         "gru_step_forward_cho: `x_t` must have shape (N, D) = (3, 3), got (3, 4)"),
        (lambda: rc.gru_step_backward(h, lstm_cache),
         "gru_step_backward: `cache` must be the cache returned by gru_step_forward, got LSTMStepCache"),
        (lambda: rc.gru_step_backward(h, seq_cache),
         "gru_step_backward: `cache` must be the cache returned by gru_step_forward, got GRUCache"),
        (lambda: rc.gru_backward(np.zeros((2, 3, 5)), step_cache),
         "gru_backward: `cache` must be the cache returned by gru_forward, got GRUStepCache"),
        (lambda: rc.gru_backward(np.zeros((2, 3, 5)), lstm_seq_cache),
         "gru_backward: `cache` must be the cache returned by gru_forward, got LSTMCache"),
        (lambda: rc.gru_step_backward(np.zeros((3, 4)), step_cache),
         "gru_step_backward: `dh_next` must have shape (N, H) = (3, 5), got (3, 4)"),
        (lambda: rc.gru_backward(np.zeros((3, 3, 5)), seq_cache),
         "gru_backward: `dhs` must have shape (T, N, H) = (2, 3, 5), got (3, 3, 5)"),
        (lambda: rc.gru_backward([["x"]], seq_cache),
         "gru_backward: `dhs` must be a numeric array, got dtype <U1"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
