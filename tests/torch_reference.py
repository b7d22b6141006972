"""The reference side of every parity test: torch modules holding rnncore's weights (torch imported lazily), and the
numerical gradient check."""

TORCH_NAMES = [("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"), ("bias_hh", "b_hh")]


def torch_with(Module, p, dtype=None, **kwargs):
    """`Module(D, H, **kwargs)` (an nn.RNN, LSTM or GRU layer or cell) in `dtype` (float64 if None) holding `p`."""
    import torch

    H, D = p["W_hh"].shape[1], p["W_ih"].shape[1]
    module = Module(D, H, **kwargs).to(torch.float64 if dtype is None else dtype)
    suffix = "" if Module.__name__.endswith("Cell") else "_l0"
    with torch.no_grad():
        for name, key in TORCH_NAMES:
            getattr(module, name + suffix).copy_(torch.from_numpy(p[key]))
    return module


def grads_of(module):
    """The gradients of a layer's or cell's four parameters, in rnncore's order W_ih, W_hh, b_ih, b_hh."""
    suffix = "" if type(module).__name__.endswith("Cell") else "_l0"
    return [getattr(module, name + suffix).grad.numpy() for name, _ in TORCH_NAMES]


def assert_matches_numerical(forward, args, analytic, dout, tol=1e-7):
    """Each analytic gradient in `analytic` ({argument: gradient}) equals the numerical gradient of the array
    forward(**args), read through the upstream gradient `dout`, with respect to that argument (CS231n's check)."""
    import rnncore as rc

    for name, grad in analytic.items():
        num = rc.eval_numerical_gradient_array(lambda v, name=name: forward(**{**args, name: v}), args[name], dout)
        error = rc.rel_error(num, grad)
        assert error < tol, f"d/d{name}: relative error {error:.1e} against the numerical gradient (tolerance {tol:g})"
