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
