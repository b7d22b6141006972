"""Fixed cases for the visible checks of the tasks whose reference students do not have, and their golden values.

Some graded functions (the tasks no function of rnncore answers) have their reference only in the instructor's
tools. Their visible checks compare a student's output with numbers instead: for each fixed case, the inputs, the
reference's outputs, and the outputs of every known mistake with its message, written to goldens.json (next to this
module) by the course's `scripts/goldens.py`. Numbers, not code: they give away what a check expects on one small
case, which a visible check shows anyway, and nothing of how to compute it.

Book: the "Checks that explain your mistakes" box of each chapter's graded notebook.
"""

import json
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import grading

GOLDENS = Path(__file__).resolve().parent / "goldens.json"


class Case(NamedTuple):
    """One fixed case of a visible check: its inputs, the expected outputs and the known mistakes' outputs."""

    function: str
    label: str
    inputs: dict  # keyword arguments for the function
    expected: tuple  # the reference's outputs, in order (one element if it returns a single value)
    known: tuple  # ((message, outputs), ...) of the known mistakes that differ from the reference here


def to_json(value):
    """A JSON-able form of an input or output: arrays keep their dtype and shape, tuples stay tuples."""
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"tuple": [to_json(v) for v in value]}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): to_json(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"goldens can hold arrays, numbers, strings, None, tuples, lists and dicts; got {type(value)}")


def from_json(value):
    """The inverse of `to_json`."""
    if isinstance(value, dict):
        if "array" in value:
            return np.array(value["array"], dtype=value["dtype"]).reshape(value["shape"])
        if "tuple" in value:
            return tuple(from_json(v) for v in value["tuple"])
        return {k: from_json(v) for k, v in value["dict"].items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


@cache
def _table(path=GOLDENS):
    return json.loads(Path(path).read_text())


def case(function, label):
    """The fixed case `label` of `function`'s visible checks; raise KeyError naming what exists."""
    table = _table()
    if function not in table:
        raise KeyError(f"no golden cases for `{function}`; there are some for {', '.join(sorted(table))}")
    cases = table[function]
    if label not in cases:
        raise KeyError(f"`{function}` has no golden case {label!r}; it has {', '.join(map(repr, cases))}")
    entry = cases[label]
    known = tuple((m["message"], from_json(m["outputs"])) for m in entry["known"])
    return Case(function, label, from_json(entry["inputs"]), from_json(entry["expected"]), known)


def _close(got, want, atol, rtol):
    try:
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return got.shape == want.shape and bool(np.allclose(got, want, atol=atol, rtol=rtol, equal_nan=False))


def check(func_name, what, got, golden, *, index=0, letters="", time_axis=None, reveal=False, atol=1e-8, rtol=1e-6):
    """Fail unless output `index` of the student's function, `got`, equals the golden case's; name a known mistake.

    Parameters
    ----------
    func_name, what : names for the message (the function, the output)
    got : the student's output (already taken out of the returned tuple)
    golden : a Case from `case`
    index : which of the reference's outputs `got` is
    letters : the shape in the book's letters, e.g. "(T, N, H)", for a shape message
    time_axis, reveal : as in grading.check_close
    """
    expected = golden.expected[index]
    arr = grading.as_array(func_name, what, got, allow_scalar=np.ndim(expected) == 0)
    grading.check_shape(func_name, what, arr, np.shape(expected), letters or str(np.shape(expected)))
    if _close(arr, expected, atol, rtol):
        return
    grading.check_finite(func_name, what, arr)
    named = [message for message, outputs in golden.known if _close(arr, outputs[index], atol, rtol)]
    if named:
        raise AssertionError(f"`{func_name}`: `{what}` is wrong on the case {golden.label}: " + "; or ".join(named))
    grading.check_close(func_name, what, arr, expected, atol=atol, rtol=rtol, time_axis=time_axis, reveal=reveal,
                        case=golden.label)
