"""Checks for the graded notebooks: run a student's function safely, coerce what it returns, and say what is wrong.

The visible tests students run and the hidden tests nbgrader adds both use these, so every failure reads
like a teaching assistant's remark ("`hs` has shape (3, 5); expected (T, N, H) = (4, 3, 5)") and never
like a bare AssertionError. Messages from hidden tests never print the expected values.
"""

import ast
import copy
import dis
import json
import numbers
import os
import sys
import types
import warnings

import numpy as np

from . import _lock, mistakes

_SETUP_MARK = "_rnncore_setup_done"


class NotReadyError(RuntimeError):
    """Raised by `ready` when a check cell is run before the cells it needs (the set-up cell, the student's)."""


def setup_done(namespace):
    """Mark the notebook's namespace (its `globals()`) as set up; the last line of every set-up cell calls this."""
    namespace[_SETUP_MARK] = True


def ready(namespace, *names):
    """Fail with a clear message unless the set-up cell has run and every name in `names` is defined.

    Every check cell starts with `from rnncore.grading import ready; ready(globals(), "rnn_forward")`, a line that
    works even before the set-up cell has run, so that running cells out of order says what to run first instead of
    raising a bare NameError.

    Parameters
    ----------
    namespace : dict, the notebook's `globals()`
    *names : str, the functions (or other names) the check cell uses that the student defines in earlier cells

    Raises
    ------
    NotReadyError : if the set-up cell has not run, or a name is missing
    """
    if not namespace.get(_SETUP_MARK):
        raise NotReadyError(
            "Run the set-up cell at the top of the notebook first (the one that imports numpy and `grading`), "
            "then run this cell again; or use Kernel -> Restart & Run All"
        )
    missing = [name for name in names if name not in namespace]
    if missing:
        which = ", ".join(f"`{name}`" for name in missing)
        verb = "is" if len(missing) == 1 else "are"
        raise NotReadyError(
            f"{which} {verb} not defined yet: run the cell where you wrote {'it' if len(missing) == 1 else 'them'} "
            "(above this one) first, then run this cell again"
        )


def import_torch(part):
    """Import and return torch for the part of a notebook that needs it, or fail with an explanatory message.

    Parameters
    ----------
    part : str, where the notebook uses torch, e.g. "part 6"

    Raises
    ------
    NotReadyError : if torch is not installed (the other parts of the notebook need numpy only)
    """
    try:
        import torch
    except ImportError:
        raise NotReadyError(
            f"{part[:1].upper()}{part[1:]} needs PyTorch, which is not installed in this kernel: pip install torch "
            "(the CPU build is enough), then restart the kernel. The other parts of the notebook need numpy only."
        ) from None
    return torch


_CACHED = ("rnn_step_forward", "rnn_forward", "lstm_step_forward", "gru_step_forward")


def reference_cache(func_name, *args, **kwargs):
    """The cache rnncore's forward function `func_name` returns on these inputs, for a check of a backward pass.

    The check hands it to the student's backward function, so that part is graded on its own, with no forward code
    in the notebook (locked like the reference: it cannot run while a student's function is graded).

    Parameters
    ----------
    func_name : one of "rnn_step_forward", "rnn_forward", "lstm_step_forward", "gru_step_forward"
    *args, **kwargs : the forward function's inputs
    """
    import rnncore

    if func_name not in _CACHED:
        raise ValueError(f"`{func_name}` is not a forward function whose cache the checks use: {', '.join(_CACHED)}")
    return getattr(rnncore, func_name)(*args, **kwargs)[-1]


# The forward pass of chapter 2, which later notebooks are given (their answers are graded in chapter 2's notebook).
_GIVEN = ("rnn_step_forward", "rnn_forward", "affine_forward", "affine_backward", "softmax_cross_entropy")
_CHAPTER_2 = {"rnn_step_forward", "rnn_forward", "affine_forward", "softmax_cross_entropy", "param_count"}


def given(*names):
    """rnncore's versions of chapter 2's functions, for a later notebook that builds on them (a tuple, in order).

    They work while a later chapter's function is graded (an answer may call them), never while one of chapter 2's
    own graded functions is.

    Parameters
    ----------
    *names : str, each one of "rnn_step_forward", "rnn_forward", "affine_forward", "affine_backward",
             "softmax_cross_entropy"
    """
    import rnncore

    out = []
    for name in names:
        if name not in _GIVEN:
            raise ValueError(f"`{name}` is not one of the functions a notebook is given: {', '.join(_GIVEN)}")
        out.append(_given(name, getattr(rnncore, name)))
    return tuple(out)


def _given(name, reference):
    def call(*args, **kwargs):
        if _lock.is_locked() and _lock.graded() in _CHAPTER_2:
            raise _lock.ReferenceLockedError(
                f"the given `{name}` cannot be used while your `{_lock.graded()}` is being graded: write it with numpy"
            )
        with _lock.released():
            return reference(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = reference.__doc__
    return call


def run_student(func_name, student_fn, *args, **kwargs):
    """Call the student's function on copies of the inputs, with rnncore's reference functions locked.

    Parameters
    ----------
    func_name : str, the name of the graded function (for messages)
    student_fn : the student's function
    *args, **kwargs : its inputs (deep-copied, so an answer that changes them in place cannot spoil the check)

    Returns
    -------
    whatever the student's function returns
    """
    if not callable(student_fn):
        raise AssertionError(f"`{func_name}` must be a function, got {type(student_fn).__name__}")
    warn_outside_names(func_name, student_fn)
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning on stderr would cost an honest student the cell
        with np.errstate(all="ignore"), _lock.locked(func_name):
            try:
                return student_fn(*args, **kwargs)
            except NotImplementedError:
                raise AssertionError(f"`{func_name}` is not written yet: replace `raise NotImplementedError()` in its "
                                     "cell with your code, run that cell, then run this check again") from None


def unpack(func_name, result, names):
    """Check that a function returned a tuple of len(names) values, and return it as a tuple."""
    if not isinstance(result, tuple) or len(result) != len(names):
        what = f"a tuple of {len(result)} values" if isinstance(result, tuple) else type(result).__name__
        raise AssertionError(
            f"`{func_name}` must return a tuple of {len(names)} values ({', '.join(names)}); it returned {what}"
        )
    return result


def as_array(func_name, what, value, allow_scalar=False):
    """Coerce a returned value to a fresh float64 ndarray, refusing anything that only pretends to be one."""
    numeric_scalar = (float, int, np.floating, np.integer)
    if type(value) is np.ndarray:
        pass
    elif allow_scalar and isinstance(value, numeric_scalar) and not isinstance(value, bool):
        pass
    else:
        kind = "a number" if allow_scalar else "a numpy array (np.ndarray)"
        raise AssertionError(f"`{func_name}`: `{what}` must be {kind}, got {type(value).__name__}")
    if not (np.issubdtype(np.asarray(value).dtype, np.number)):
        raise AssertionError(f"`{func_name}`: `{what}` must hold numbers, got dtype {np.asarray(value).dtype}")
    return np.array(value, dtype=np.float64, copy=True)


def check_shape(func_name, what, arr, expected, letters):
    """Fail with a message naming the output, the expected shape (with its letters) and the actual one."""
    expected = tuple(int(e) for e in expected)
    if arr.shape != expected:
        raise AssertionError(f"`{func_name}`: `{what}` has shape {arr.shape}; expected {letters} = {expected}")


def check_finite(func_name, what, arr):
    """Fail if the output holds NaN or inf."""
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise AssertionError(
            f"`{func_name}`: `{what}` contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            "look for an overflowing exp or a log of 0"
        )


def _compare(func_name, what, got, expected, atol, rtol):
    """`got` and `expected` as float64 arrays (failing on NaN or inf in `got`), and the mask of wrong entries."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    check_finite(func_name, what, got)
    return got, expected, ~np.isclose(got, expected, atol=atol, rtol=rtol)


def _wrong_message(func_name, what, got, expected, wrong, *, time_axis, reveal, case, extra=""):
    """How many entries are wrong, by how much, from which time step, then `extra`; with `reveal`, both arrays."""
    where = f" on the case {case}" if case else ""
    msg = (
        f"`{func_name}`: `{what}` is wrong{where}: {int(wrong.sum())} of {wrong.size} entries differ "
        f"(largest difference {np.max(np.abs(got - expected)):.3g})"
    )
    if time_axis is not None and got.ndim > time_axis:
        steps = np.flatnonzero(wrong.any(axis=tuple(a for a in range(got.ndim) if a != time_axis)))
        index = ", ".join(["t" if a == time_axis else ":" for a in range(got.ndim)]).replace("t", str(int(steps[0])))
        msg += f"; it first goes wrong at `{what}[{index}]`, time step {int(steps[0])} counting from 0"
    msg += extra
    if reveal:
        msg += f"\n  expected: {np.array2string(expected, precision=6)}"
        msg += f"\n  got:      {np.array2string(got, precision=6)}"
    return msg


def check_close(func_name, what, got, expected, *, atol=1e-8, rtol=1e-6, time_axis=None, reveal=False, case=""):
    """Fail unless `got` equals `expected` within tolerance, saying where it first departs.

    Parameters
    ----------
    func_name, what : names used in the message
    got, expected : float64 arrays of the same shape (check shapes first)
    time_axis : the axis that is time, if any: the message then names the first wrong time step
    reveal : print both arrays (visible, hand-checkable cases only; never in hidden tests)
    case : a short description of the inputs, e.g. "T=1, N=1"
    """
    got, expected, wrong = _compare(func_name, what, got, expected, atol, rtol)
    if wrong.any():
        raise AssertionError(_wrong_message(func_name, what, got, expected, wrong, time_axis=time_axis,
                                            reveal=reveal, case=case))


def _gate_report(got, expected, wrong, gate_axis, gates, what):
    """Say which gate blocks along `gate_axis` hold the wrong entries (e.g. rows 2H:3H = gate g)."""
    G = len(gates)
    size = got.shape[gate_axis]
    if size % G:
        return ""
    H = size // G
    bad = [gates[k] for k in range(G) if np.take(wrong, range(k * H, (k + 1) * H), axis=gate_axis).any()]
    if not bad or len(bad) == G:
        return "; every gate block is off" if bad else ""
    spans = ", ".join(f"`{g}` ({'rows' if gate_axis == 0 else 'entries'} {gates.index(g)}H:{gates.index(g) + 1}H)"
                      for g in bad)
    return f"; only the block{'s' if len(bad) > 1 else ''} of gate{'s' if len(bad) > 1 else ''} {spans} of `{what}` " \
        f"{'are' if len(bad) > 1 else 'is'} wrong (blocks in order {', '.join(gates)})"


def check_output(func_name, what, got, expected, inputs, *, index=0, time_axis=None, gate_axis=None, gates=None,
                 atol=1e-8, rtol=1e-6, reveal=False, case="", also=None):
    """Like `check_close`, but when the output is wrong, name the known mistake it matches, if any.

    Parameters
    ----------
    got, expected : float arrays (or numbers), compared within tolerance; or, when `got` is neither, values compared
                    exactly (a str, a list of tokens, a dict such as a vocabulary)
    inputs : dict, the keyword arguments the student's function was called with (to replay known mistakes)
    index : which element of the function's returned tuple `got` is (None if it returns a single value); a tuple is a
            path into the output, e.g. (0, "W") for the gradient "W" of a returned (dict, norm) pair
    gate_axis, gates : for LSTM/GRU arrays, the axis that stacks gate blocks and their names ("ifgo", "rzn")
    also : optional dict {index: the student's value} of other outputs the check has found right: a known mistake is
           named only if it gives those too (e.g. {0: out} when checking `h_n` after `out`)
    other parameters : as in `check_close`
    """
    if not isinstance(got, (np.ndarray, numbers.Number)):
        _check_exact(func_name, what, got, expected, inputs, index=index, reveal=reveal, case=case, also=also)
        return
    got, expected, wrong = _compare(func_name, what, got, expected, atol, rtol)
    if not wrong.any():
        return
    _name_the_mistake(func_name, what, got, expected, inputs, index, atol, rtol, case, also)
    extra = _gate_report(got, expected, wrong, gate_axis, gates, what) if gates else ""
    raise AssertionError(_wrong_message(func_name, what, got, expected, wrong, time_axis=time_axis, reveal=reveal,
                                        case=case, extra=extra))


def name_known_mistake(func_name, what, got, expected, inputs, *, index=0, case="", also=None, atol=1e-8, rtol=1e-6):
    """Fail with the message of the known mistake(s) that `got` matches, as `check_output` does; return if none does.

    For a check that has a message of its own for a wrong answer: call this first, then raise that message.
    Parameters as in `check_output`.
    """
    if isinstance(got, (np.ndarray, numbers.Number)):
        got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    else:
        got, expected = mistakes.plain_value(got), mistakes.plain_value(expected)
    _name_the_mistake(func_name, what, got, expected, inputs, index, atol, rtol, case, also)


def _name_the_mistake(func_name, what, got, expected, inputs, index, atol, rtol, case, also=None):
    """Fail with the messages of the known mistakes that `got` equals (and the right answer does not); else return."""
    found = mistakes.diagnose(func_name, got, inputs, index, also, right=expected, atol=atol, rtol=rtol)
    if found:
        where = f" on the case {case}" if case else ""
        why = "\n  or: ".join(m.message for m in found)
        raise AssertionError(f"`{func_name}`: `{what}` is wrong{where}: {why}")


def _check_exact(func_name, what, got, expected, inputs, *, index, reveal, case, also=None):
    """`check_output` for a value compared exactly: a str, a list of tokens, a dict (any floats in it nearly)."""
    got, expected = mistakes.plain_value(got), mistakes.plain_value(expected)
    if mistakes.plain_equal(got, expected):
        return
    _name_the_mistake(func_name, what, got, expected, inputs, index, 0, 0, case, also)
    where = f" on the case {case}" if case else ""
    msg = f"`{func_name}`: `{what}` is wrong{where}"
    if isinstance(got, list) and isinstance(expected, list) and len(got) != len(expected):
        msg += f": {len(got)} item{'' if len(got) == 1 else 's'} instead of {len(expected)}"
    if reveal:
        msg += f"\n  expected: {expected!r}\n  got:      {got!r}"
    raise AssertionError(msg)


def check_unchanged(func_name, name, before, after):
    """Fail if a function changed one of its inputs in place."""
    if not np.array_equal(before, after):
        raise AssertionError(
            f"`{func_name}` changed its input `{name}` in place: the caller's array is no longer what it passed"
        )


# -- The helper-code rule ------------------------------------------------------------------------------------------
#
# Only the answer cells are graded: the verifier runs a submission's answer cells after the notebook's locked cells,
# and nothing else. A name a graded function uses must therefore be defined in an answer cell (best: the function's
# own) or in a locked cell of the notebook. The visible checks warn before submission when it is not so.

HELPER_RULE = ("Only the answer cells are graded: put any helper function, constant or import your answer needs "
               "inside that function's answer cell (the cell with `# YOUR CODE HERE`). A name defined in a cell of "
               "your own is not seen when your notebook is graded, and the function that uses it scores 0.")
_WARNED = set()
_NOTEBOOKS = {}  # path -> (mtime, {"answer": set of names, "locked": set of names, "ids": set of grade_ids})


def global_names(fn):
    """The global names a function reads (LOAD_GLOBAL / LOAD_NAME in its code and every nested function's code)."""
    code = getattr(fn, "__code__", None)
    names, stack = set(), [code] if code is not None else []
    while stack:
        c = stack.pop()
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
                names.add(ins.argval)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def bound_names(source):
    """The names a cell's code binds at its top level (def, class, import, assignment, for, with); set() if it does not
    parse (a cell with %magics, say)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(sub.name)
    return names


def _cell_source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _notebook_names(path):
    """{"answer": names bound by answer cells, "locked": names bound by locked cells, "ids": answer grade_ids}."""
    mtime = os.path.getmtime(path)
    if path in _NOTEBOOKS and _NOTEBOOKS[path][0] == mtime:
        return _NOTEBOOKS[path][1]
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    out = {"answer": set(), "locked": set(), "ids": set()}
    for cell in nb.get("cells", []):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") != "code" or not isinstance(meta, dict):
            continue
        if meta.get("solution"):
            out["answer"] |= bound_names(_cell_source(cell))
            out["ids"].add(meta.get("grade_id"))
        elif meta.get("locked") and not meta.get("grade"):
            out["locked"] |= bound_names(_cell_source(cell))
    _NOTEBOOKS[path] = (mtime, out)
    return out


def _find_notebook(func_name, folder="."):
    """The notebook in `folder` (the kernel's working directory) with an answer cell for `func_name` (the newest)."""
    found = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(".ipynb") and e.is_file()]
    except OSError:
        return None
    for entry in entries:
        try:
            if func_name in _notebook_names(entry.path)["ids"]:
                found.append((entry.stat().st_mtime, entry.path))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return max(found)[1] if found else None


def _own_cell(fn):
    """The names bound by the cell that last defined `fn` in this IPython session (set() outside IPython)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    history = getattr(shell, "user_ns", {}).get("In", []) if shell is not None else []
    for src in reversed(history or []):
        names = bound_names(src) if f"def {fn.__name__}" in src else set()
        if fn.__name__ in names:
            return names
    return set()


def outside_names(func_name, fn, allowed=None, own=None):
    """The global names `fn` uses that no answer cell and no locked cell defines, sorted (what the verifier lacks).

    Parameters
    ----------
    func_name : str, the graded function (its answer cell's grade_id)
    fn : the student's function
    allowed : set of names the notebook's answer and locked cells bind (default: read from the notebook file in the
              working directory; when there is none, nothing is reported)
    own : set of names bound by the cell that defined `fn` (default: from IPython's history; it may be newer than the
          saved notebook)
    """
    if not isinstance(fn, types.FunctionType):
        return []
    if allowed is None:
        path = _find_notebook(func_name)
        if path is None:
            return []
        names = _notebook_names(path)
        allowed = names["answer"] | names["locked"]
    own = _own_cell(fn) if own is None else own
    scope = fn.__globals__
    builtins = scope.get("__builtins__", {})
    builtins = builtins if isinstance(builtins, dict) else vars(builtins)
    out = set()
    for name in global_names(fn):
        if name in allowed or name in own or name == fn.__name__ or name.startswith("__"):
            continue
        if name in scope and not (name in builtins and scope[name] is builtins[name]):
            out.add(name)
    return sorted(out)


def warn_outside_names(func_name, fn):
    """Print a warning (once per function and names) when `fn` uses names defined outside the answer cells."""
    try:
        names = outside_names(func_name, fn)
    except Exception:  # noqa: BLE001 - a warning must never cost a check
        return
    key = (func_name, tuple(names))
    if not names or key in _WARNED:
        return
    _WARNED.add(key)
    which = ", ".join(f"`{n}`" for n in names)
    print(f"WARNING: `{func_name}` uses {which}, defined outside the answer cells. {HELPER_RULE}")
