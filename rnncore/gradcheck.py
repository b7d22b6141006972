"""Numerical gradients by central differences, and the relative error used to compare them."""

import numpy as np


def rel_error(x, y):
    """The largest elementwise relative error between two arrays, safe where both are near zero.

    Math: max_i |x_i - y_i| / max(1e-8, |x_i| + |y_i|)

    In float64 a correct backward pass gives about 1e-7 or less; 1e-5 is suspicious
    and 1e-2 or more means a bug.

    Book: chapter 3, section "Gradient checking in practice".
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: `x` and `y` must have the same shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, h=1e-5):
    """The gradient of a scalar function `f` at `x` by central differences (x is changed, then restored).

    Math: df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

    Parameters
    ----------
    f : callable taking no arguments and returning a float; it reads `x` in place
    x : ndarray, any shape, float64
    h : step size

    Returns
    -------
    grad : ndarray, same shape as `x`

    Book: chapter 3, section "Gradient checking in practice", the central difference.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The gradient of sum(f(x) * df) with respect to `x`: a vector-Jacobian product by central differences.

    Math: d/dx_i sum(f(x) * df) ~ sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h)

    Parameters
    ----------
    f : callable taking `x` and returning an array shaped like `df`
    x : ndarray, any shape, float64 (changed, then restored)
    df : ndarray, the upstream gradient of f's output
    h : step size

    Returns
    -------
    grad : ndarray, same shape as `x`

    Book: chapter 3, section "Gradient checking in practice".
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        pos = np.array(f(x), copy=True)
        x[i] = old - h
        neg = np.array(f(x), copy=True)
        x[i] = old
        grad[i] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def check_gradients(params, grads, loss_fn, h=1e-5):
    """Compare every analytic gradient in `grads` with a numerical one: one loop over the params dict.

    Parameters
    ----------
    params : dict of name -> ndarray (float64), changed in place and restored
    grads : dict with the same keys, the analytic gradients
    loss_fn : callable taking no arguments, returning the scalar loss for the current `params`
    h : step size

    Returns
    -------
    errors : dict of name -> rel_error between the analytic and numerical gradient

    Book: chapter 3, section "Gradient checking in practice".
    """
    missing = set(params) ^ set(grads)
    if missing:
        raise ValueError(f"check_gradients: `params` and `grads` must have the same keys; differing: {sorted(missing)}")
    return {name: rel_error(grads[name], eval_numerical_gradient(loss_fn, params[name], h)) for name in params}
