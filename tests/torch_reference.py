"""torch modules holding rnncore's weights: the reference side of every parity test (torch imported lazily)."""

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
