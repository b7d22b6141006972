"""Input checks shared by every rnncore function: clear errors that name the argument and both shapes."""

import numpy as np


def as_float_array(name, value, func):
    """Return `value` as a floating-point ndarray, or raise a ValueError naming `name`."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{func}: `{name}` must be an array, got {type(value).__name__} ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{func}: `{name}` must be a numeric array, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def check_shape(name, arr, expected, func, letters=None):
    """Raise a ValueError unless `arr.shape` equals `expected` (a tuple of ints or None for 'any')."""
    expected = tuple(expected)
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        dims = ", ".join("?" if e is None else str(e) for e in expected)
        want = f"({dims},)" if len(expected) == 1 else f"({dims})"
        if letters:
            want = f"{letters} = {want}"
        raise ValueError(f"{func}: `{name}` must have shape {want}, got {arr.shape}")


def check_ndim(name, arr, ndim, letters, func):
    """Raise a ValueError unless `arr` has `ndim` dimensions, describing them with `letters` such as '(T, N, D)'."""
    if arr.ndim != ndim:
        raise ValueError(f"{func}: `{name}` must be {ndim}-D with shape {letters}, got shape {arr.shape}")


def common_dtype(*arrays):
    """The floating dtype that numpy would give a product of `arrays` (float32 stays float32)."""
    return np.result_type(*arrays)


def check_cache(cache, cls, func, producer):
    """Raise a ValueError unless `cache` is the cache that `producer` returns."""
    if not isinstance(cache, cls):
        raise ValueError(
            f"{func}: `cache` must be the cache returned by {producer}, got {type(cache).__name__}"
        )


def check_step_inputs(func, D, H, x_t, **states):
    """Check one step's inputs: `x_t` (N, D) and every state (N, H); return them as float arrays, x_t first."""
    x_t = as_float_array("x_t", x_t, func)
    states = {name: as_float_array(name, value, func) for name, value in states.items()}
    check_ndim("x_t", x_t, 2, "(N, D)", func)
    N = x_t.shape[0]
    check_shape("x_t", x_t, (N, D), func, "(N, D)")
    for name, value in states.items():
        check_shape(name, value, (N, H), func, "(N, H)")
    return (x_t, *states.values())


def check_sequence_inputs(func, D, H, x, **states):
    """Check a sequence's inputs: `x` (T, N, D) with T >= 1 and every initial state (N, H); return them, x first."""
    x = as_float_array("x", x, func)
    states = {name: as_float_array(name, value, func) for name, value in states.items()}
    check_ndim("x", x, 3, "(T, N, D)", func)
    T, N = x.shape[:2]
    check_shape("x", x, (T, N, D), func, "(T, N, D)")
    for name, value in states.items():
        check_shape(name, value, (N, H), func, "(N, H)")
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    return (x, *states.values())
