"""Gradient clipping against torch.nn.utils, and SGD / Adam against torch.optim over several steps (float64)."""

import numpy as np
import pytest
import torch

import rnncore as rc


def _grads(rng, dtype=np.float64, scale=1.0):
    shapes = {"W_ih": (8, 3), "W_hh": (8, 2), "b_ih": (8,), "W": (4, 2)}
    return {name: (scale * rng.standard_normal(shape)).astype(dtype) for name, shape in shapes.items()}


def _torch_params_with_grads(grads):
    """Leaf tensors whose .grad holds a copy of each gradient, as torch's clipping functions expect."""
    params = []
    for g in grads.values():
        p = torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        p.grad = torch.from_numpy(g.copy())
        params.append(p)
    return params


def _copies(d):
    return {k: v.copy() for k, v in d.items()}


@pytest.mark.parametrize("limit", [0.5, 1.0, 5])
def test_clip_by_value_matches_torch_and_is_pure(rng, limit):
    grads = _grads(rng, scale=3.0)
    before = _copies(grads)
    clipped = rc.clip_by_value(grads, limit)
    params = _torch_params_with_grads(grads)
    torch.nn.utils.clip_grad_value_(params, limit)
    assert list(clipped) == list(grads)
    for (name, c), p in zip(clipped.items(), params):
        np.testing.assert_array_equal(c, p.grad.numpy(), err_msg=name)
        assert np.max(np.abs(c)) <= limit
        np.testing.assert_array_equal(grads[name], before[name])  # the input is not modified
        assert c is not grads[name]
    assert np.any(np.abs(before["W_ih"]) > limit)  # the test really clips something


@pytest.mark.parametrize("max_norm,clips", [(0.5, True), (3.0, True), (1e3, False)])
def test_clip_by_global_norm_matches_torch_and_is_pure(rng, max_norm, clips):
    grads = _grads(rng)
    before = _copies(grads)
    clipped, total_norm = rc.clip_by_global_norm(grads, max_norm)
    params = _torch_params_with_grads(grads)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert isinstance(total_norm, float)
    np.testing.assert_allclose(total_norm, torch_norm.item(), rtol=1e-15)
    for (name, c), p in zip(clipped.items(), params):
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-15, atol=0, err_msg=name)
        np.testing.assert_array_equal(grads[name], before[name])
        assert c is not grads[name]
    assert (total_norm > max_norm) == clips
    new_norm = np.sqrt(sum(np.sum(c**2) for c in clipped.values()))
    if clips:  # rescaled to max_norm, up to torch's eps
        np.testing.assert_allclose(new_norm, max_norm * total_norm / (total_norm + 1e-6), rtol=1e-12)
    else:  # below the threshold nothing changes
        for name in grads:
            np.testing.assert_array_equal(clipped[name], grads[name])


def test_clip_by_global_norm_exactly_at_the_threshold_and_eps(rng):
    grads = _grads(rng)
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    # at max_norm = norm the factor is norm / (norm + 1e-6) < 1, as in torch; with eps = 0 it is exactly 1
    clipped, _ = rc.clip_by_global_norm(grads, norm)
    params = _torch_params_with_grads(grads)
    torch.nn.utils.clip_grad_norm_(params, norm)
    for c, p in zip(clipped.values(), params):
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-15, atol=0)
    clipped, _ = rc.clip_by_global_norm(grads, norm, eps=0)
    for name in grads:
        np.testing.assert_allclose(clipped[name], grads[name], rtol=1e-15)
    half, _ = rc.clip_by_global_norm(grads, norm / 2, eps=0)
    for name in grads:
        np.testing.assert_allclose(half[name], grads[name] / 2, rtol=1e-14)


def test_clip_float32_keeps_dtype_and_matches_torch(rng):
    grads = _grads(rng, dtype=np.float32, scale=2.0)
    clipped, total_norm = rc.clip_by_global_norm(grads, 1.0)
    params = _torch_params_with_grads(grads)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    np.testing.assert_allclose(total_norm, torch_norm.item(), rtol=1e-6)
    for c, p in zip(clipped.values(), params):
        assert c.dtype == np.float32
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=0, atol=1e-6)
    assert all(c.dtype == np.float32 for c in rc.clip_by_value(grads, np.float64(1.0)).values())


def test_clip_non_finite_and_empty_as_torch(rng):
    grads = _grads(rng)
    grads["W"][0, 0] = np.nan
    clipped, total_norm = rc.clip_by_global_norm(grads, 1.0)
    params = _torch_params_with_grads(grads)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    assert np.isnan(total_norm) and torch_norm.isnan()
    for c, p in zip(clipped.values(), params):  # torch scales by NaN too: every entry becomes NaN
        assert np.all(np.isnan(c)) and torch.all(p.grad.isnan())
    assert rc.clip_by_global_norm({}, 1.0) == ({}, 0.0)
    assert torch.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    assert rc.clip_by_value({}, 1.0) == {}


def test_clip_bad_input_messages(rng):
    g = {"W": np.ones((2, 2))}
    cases = [
        (lambda: rc.clip_by_value([np.ones(2)], 5), "clip_by_value: `grads` must be a dict of name -> array, got list"),
        (lambda: rc.clip_by_value({"W": ["a", "b"]}, 5),
         "clip_by_value: `grads['W']` must be a numeric array, got dtype <U1"),
        (lambda: rc.clip_by_value(g, 0), "clip_by_value: `limit` must be a positive number, got 0"),
        (lambda: rc.clip_by_value(g, -5), "clip_by_value: `limit` must be a positive number, got -5"),
        (lambda: rc.clip_by_value(g, True), "clip_by_value: `limit` must be a positive number, got True"),
        (lambda: rc.clip_by_value(g, "5"), "clip_by_value: `limit` must be a positive number, got '5'"),
        (lambda: rc.clip_by_global_norm(g, float("nan")),
         "clip_by_global_norm: `max_norm` must be a positive number, got nan"),
        (lambda: rc.clip_by_global_norm(g, None),
         "clip_by_global_norm: `max_norm` must be a positive number, got None"),
        (lambda: rc.clip_by_global_norm(g, 1.0, eps=-1e-6),
         "clip_by_global_norm: `eps` must be a non-negative number, got -1e-06"),
        (lambda: rc.clip_by_global_norm(np.ones(3), 1.0),
         "clip_by_global_norm: `grads` must be a dict of name -> array, got ndarray"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message


def _run_both(ours, theirs_cls, theirs_kwargs, rng, steps=5, dtype=np.float64):
    """Take `steps` steps with our optimiser and torch's on the same parameters and fresh random gradients."""
    params = _grads(rng, dtype=dtype)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params.values()]
    topt = theirs_cls(tparams, **theirs_kwargs)
    objects = {name: id(p) for name, p in params.items()}
    for _ in range(steps):
        grads = _grads(rng, dtype=dtype)
        for tp, g in zip(tparams, grads.values()):
            tp.grad = torch.from_numpy(g.copy())
        ours.step(params, grads)
        topt.step()
    assert {name: id(p) for name, p in params.items()} == objects  # updated in place, not replaced
    return params, [tp.detach().numpy() for tp in tparams]


@pytest.mark.parametrize("lr,momentum", [(0.1, 0.0), (0.05, 0.9), (1.0, 0.5)])
def test_sgd_matches_torch_over_five_steps(rng, lr, momentum):
    params, theirs = _run_both(rc.SGD(lr, momentum=momentum), torch.optim.SGD, {"lr": lr, "momentum": momentum}, rng)
    for (name, p), t in zip(params.items(), theirs):
        np.testing.assert_allclose(p, t, rtol=1e-14, atol=1e-15, err_msg=name)


ADAM_SETTINGS = [{}, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}, {"lr": 0.1, "betas": (0.0, 0.5)}]


@pytest.mark.parametrize("kwargs", ADAM_SETTINGS)
def test_adam_matches_torch_over_five_steps(rng, kwargs):
    params, theirs = _run_both(rc.Adam(**kwargs), torch.optim.Adam, kwargs, rng)
    for (name, p), t in zip(params.items(), theirs):
        np.testing.assert_allclose(p, t, rtol=1e-14, atol=1e-15, err_msg=name)


def test_sgd_first_steps_by_hand():
    p = {"w": np.array([1.0, -2.0])}
    opt = rc.SGD(0.5, momentum=0.9)
    opt.step(p, {"w": np.array([1.0, 1.0])})  # buf = g
    np.testing.assert_allclose(p["w"], [0.5, -2.5], rtol=1e-15)
    opt.step(p, {"w": np.array([1.0, -1.0])})  # buf = 0.9 * [1, 1] + [1, -1] = [1.9, -0.1]
    np.testing.assert_allclose(p["w"], [0.5 - 0.95, -2.5 + 0.05], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # after one step m_hat = g and v_hat = g^2, so the update is lr * g / (|g| + eps), about lr * sign(g)
    p = {"w": np.zeros(3)}
    rc.Adam(lr=0.1, eps=0.0).step(p, {"w": np.array([3.0, -0.2, 1e-3])})
    np.testing.assert_allclose(p["w"], [-0.1, 0.1, -0.1], rtol=1e-13)


def test_optimisers_keep_float32(rng):
    for opt, cls, kwargs in [(rc.SGD(0.1, momentum=0.9), torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                             (rc.Adam(lr=0.01), torch.optim.Adam, {"lr": 0.01})]:
        params, theirs = _run_both(opt, cls, kwargs, rng, dtype=np.float32)
        for p, t in zip(params.values(), theirs):
            assert p.dtype == np.float32
            np.testing.assert_allclose(p, t, rtol=0, atol=1e-6)


def test_optim_bad_input_messages_and_no_partial_update():
    p = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    g = {"W": np.ones((2, 2)), "b": np.ones(2)}
    sgd = rc.SGD(0.1)
    cases = [
        (lambda: rc.SGD(-0.1), "SGD: `lr` must be a number >= 0, got -0.1"),
        (lambda: rc.SGD(0.1, momentum=-0.5), "SGD: `momentum` must be a number >= 0, got -0.5"),
        (lambda: rc.SGD("0.1"), "SGD: `lr` must be a number >= 0, got '0.1'"),
        (lambda: rc.Adam(lr=-1e-3), "Adam: `lr` must be a number >= 0, got -0.001"),
        (lambda: rc.Adam(betas=(0.9, 1.0)), "Adam: `betas[1]` must be a number in [0, 1), got 1.0"),
        (lambda: rc.Adam(betas=(-0.1, 0.999)), "Adam: `betas[0]` must be a number in [0, 1), got -0.1"),
        (lambda: rc.Adam(betas=0.9), "Adam: `betas` must be a pair (beta1, beta2), got 0.9"),
        (lambda: rc.Adam(eps=-1.0), "Adam: `eps` must be a number >= 0, got -1.0"),
        (lambda: sgd.step(p, {"W": g["W"]}),
         "SGD.step: `params` and `grads` must have the same keys; differing: ['b']"),
        (lambda: sgd.step(p, {**g, "b": np.ones(3)}), "SGD.step: `grads['b']` must have shape (2,), got (3,)"),
        (lambda: sgd.step([1.0], g), "SGD.step: `params` must be a dict of name -> array, got list"),
        (lambda: sgd.step(p, (1.0,)), "SGD.step: `grads` must be a dict of name -> array, got tuple"),
        (lambda: rc.Adam().step({**p, "b": [0.0, 0.0]}, g),
         "Adam.step: `params['b']` must be a floating-point ndarray (it is updated in place), got list"),
        (lambda: rc.Adam().step({**p, "b": np.zeros(2, dtype=np.int64)}, g),
         "Adam.step: `params['b']` must be a floating-point ndarray (it is updated in place), "
         "got ndarray of dtype int64"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message
    np.testing.assert_array_equal(p["W"], np.ones((2, 2)))  # a rejected step changes nothing
    np.testing.assert_array_equal(p["b"], np.zeros(2))
