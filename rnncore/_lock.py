"""The reference lock: rnncore's graded functions refuse to run while a student's function is graded.

The graders compute rnncore's answer first, then call the student's function inside `locked()`; an
answer that simply calls (or wraps) the reference then fails instead of earning the points.
"""

import contextlib
import functools

_state = {"depth": 0, "graded": None}


class ReferenceLockedError(RuntimeError):
    """Raised when a graded rnncore function is called while a student's function is being graded."""


def is_locked():
    """True while a student's function is being graded."""
    return _state["depth"] > 0


def graded():
    """The name of the function being graded (None if none is, or if it was not named)."""
    return _state["graded"]


@contextlib.contextmanager
def released():
    """Within this block the lock is off (for the functions `grading.given` hands a later notebook); restored after."""
    depth, _state["depth"] = _state["depth"], 0
    try:
        yield
    finally:
        _state["depth"] = depth


@contextlib.contextmanager
def locked(graded=None):
    """Within this block every protected rnncore function raises ReferenceLockedError."""
    _state["depth"] += 1
    previous, _state["graded"] = _state["graded"], graded
    try:
        yield
    finally:
        _state["depth"] -= 1
        _state["graded"] = previous


def protect(func):
    """Wrap a reference function so that it raises while `locked()` is active (signature and docstring kept)."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        if _state["depth"] > 0:
            what = f" `{_state['graded']}`" if _state["graded"] else ""
            raise ReferenceLockedError(
                f"rnncore.{func.__name__} is part of the reference solution and cannot be used while your "
                f"function{what} is being graded: write it with numpy"
            )
        return func(*args, **kwargs)

    del guarded.__wrapped__  # not a way back to the unguarded function
    guarded._rnncore_protected = True
    return guarded


def protect_module(module, names):
    """Replace `names` in `module` by guarded versions, so internal and external callers both see the lock."""
    for name in names:
        setattr(module, name, protect(getattr(module, name)))
