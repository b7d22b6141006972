"""Optimisers over a dict of parameters, updated in place: SGD with momentum and Adam, as torch.optim computes them."""

import numbers

import numpy as np

from ._checks import check_shape
from .clip import _check_array_dict


def _check_number(value, name, func, low, high=None):
    """Return `value` as a float, or raise a ValueError unless low <= value (< high if given)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and value >= low
    if ok and high is not None:
        ok = value < high
    if not ok:
        bounds = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{func}: `{name}` must be a number {bounds}, got {value!r}")
    return float(value)


def _check_step(params, grads, func):
    """Check that `params` holds float ndarrays with the keys and shapes of `grads`; return the checked grads."""
    grads = _check_array_dict(grads, "grads", func)
    if not isinstance(params, dict):
        raise ValueError(f"{func}: `params` must be a dict of name -> array, got {type(params).__name__}")
    differing = set(params) ^ set(grads)
    if differing:
        raise ValueError(f"{func}: `params` and `grads` must have the same keys; differing: {sorted(differing)}")
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            kind = f"ndarray of dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
            raise ValueError(f"{func}: `params[{name!r}]` must be a floating-point ndarray (it is updated in place), "
                             f"got {kind}")
        check_shape(f"grads[{name!r}]", grads[name], p.shape, func)
    return grads


class SGD:
    """Stochastic gradient descent with optional momentum, exactly as `torch.optim.SGD` (no dampening, no nesterov).

    Math: buf <- momentum * buf + g  (buf starts at 0, so its first value is g);  p <- p - lr * buf
          (with momentum = 0 this is p <- p - lr * g)

    Parameters
    ----------
    lr : number >= 0, the learning rate
    momentum : number >= 0

    `step(params, grads)` updates every params[name] (ndarray, any shape) in place using grads[name]
    (same shape); both dicts must have the same keys. The momentum buffers are kept per name.

    Book: chapter 4, section "Optimisers: momentum and Adam", the momentum update.
    """

    def __init__(self, lr, momentum=0.0):
        self.lr = _check_number(lr, "lr", "SGD", 0)
        self.momentum = _check_number(momentum, "momentum", "SGD", 0)
        self.buf = {}  # name -> momentum buffer, same shape as the parameter

    def step(self, params, grads):
        """Update `params` in place with one SGD step from `grads` (dicts of name -> ndarray, same keys)."""
        grads = _check_step(params, grads, "SGD.step")
        for name, g in grads.items():
            if self.momentum:
                g = self.buf[name] = self.momentum * self.buf.get(name, 0.0) + g  # running sum of past gradients
            params[name] -= self.lr * g


class Adam:
    """Adam with bias correction, exactly as `torch.optim.Adam` (no weight decay, no amsgrad).

    Math: m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
          p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Parameters
    ----------
    lr : number >= 0, the learning rate
    betas : (beta1, beta2), each in [0, 1), decay rates of the two running averages
    eps : number >= 0, added to the denominator

    `step(params, grads)` updates every params[name] (ndarray, any shape) in place using grads[name]
    (same shape); both dicts must have the same keys. The moments m, v and the step count t are kept
    per name, as torch keeps them per parameter.

    Book: chapter 4, section "Optimisers: momentum and Adam", the Adam update.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr = _check_number(lr, "lr", "Adam", 0)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: `betas` must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number(betas[0], "betas[0]", "Adam", 0, 1),
                      _check_number(betas[1], "betas[1]", "Adam", 0, 1))
        self.eps = _check_number(eps, "eps", "Adam", 0)
        self.t = {}  # name -> number of steps taken
        self.m = {}  # name -> running mean of g
        self.v = {}  # name -> running mean of g^2

    def step(self, params, grads):
        """Update `params` in place with one Adam step from `grads` (dicts of name -> ndarray, same keys)."""
        grads = _check_step(params, grads, "Adam.step")
        beta1, beta2 = self.betas
        for name, g in grads.items():
            t = self.t[name] = self.t.get(name, 0) + 1
            m = self.m[name] = beta1 * self.m.get(name, 0.0) + (1 - beta1) * g
            v = self.v[name] = beta2 * self.v.get(name, 0.0) + (1 - beta2) * g * g
            step_size = self.lr / (1 - beta1**t)  # bias corrections undo the zero start of m and v
            denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + self.eps
            params[name] -= step_size * (m / denom)
