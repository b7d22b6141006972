"""The verifier's visible cases: the exact calls each visible test cell makes, replayed outside the student's kernel.

A graded function has two test cells: `test_<f>_visible` (usually 1 point, small fixed inputs a student can check by
hand) and `test_<f>_hidden` (usually 2 points). nbgrader gives each cell its points separately, so an honest but wrong
answer (a transposed `W_hh` that a 1x1 case cannot tell apart) earns the visible point. To award points by the same
rule, the verifier needs the visible cell's inputs. They are read here, from the *source* notebook (trusted, the
instructor's): a separate Python process runs its locked cells, the instructor's solutions and each visible test
cell, with `rnncore.grading.run_student` wrapped so that every call of the cell's own function is recorded
(arguments after the deep copy the check makes), with what the cell then checks of each output
(`check_output`, `check_close`, `goldens.check`: its values; `check_shape` alone: only its type and shape).
Each recorded call becomes one verifier case
("visible check 1", ...): the student's function runs on it in the sandbox and exactly what the cell checked is
compared with the reference in the grading process, like every other case.

A call is not replayable when its inputs are not plain data (a cache NamedTuple, a callable): the function's visible
part is then judged by all of the verifier's cases instead (see verify.py), and a difference with nbgrader's visible
cell is reported as "not confirmed", never as tampering. Recorded once per source notebook (by sha256) per process.
"""

import json
import pickle
import subprocess
import sys
import threading
from pathlib import Path

from .. import notebook

_CACHE = {}
_LOCK = threading.Lock()

_PROGRAM = r'''
import copy, io, json, pickle, sys, traceback, warnings
import numpy as np
warnings.simplefilter("ignore")
cells = json.loads(sys.stdin.read())
reply, sys.stdout = sys.stdout.buffer, sys.stderr  # what the cells print must not mix with the reply
import rnncore.grading as grading
original = grading.run_student
calls, current = {}, [None]

def recording(func_name, student_fn, *args, **kwargs):
    if func_name == current[0]:
        calls.setdefault(func_name, []).append([copy.deepcopy((args, kwargs)), {}])
    return original(func_name, student_fn, *args, **kwargs)

def checking(check, kind):
    def wrapped(func_name, what, *args, **kwargs):
        made = calls.get(func_name) if func_name == current[0] else None
        if made:
            seen = made[-1][1]
            seen[what] = "value" if kind == "value" or seen.get(what) == "value" else kind
        return check(func_name, what, *args, **kwargs)
    return wrapped

grading.run_student = recording
grading.check_shape = checking(grading.check_shape, "shape")
for _name in ("check_close", "check_output", "name_known_mistake"):
    setattr(grading, _name, checking(getattr(grading, _name), "value"))
import rnncore.goldens as goldens  # the graded tasks' visible cells compare with golden values
goldens.check = checking(goldens.check, "value")
ns = {"__name__": "__main__"}
errors = {}
for cell in cells:
    current[0] = cell["function"]
    try:
        with np.errstate(all="ignore"):
            exec(compile(cell["code"], f"<{cell['id']}>", "exec"), ns)
    except BaseException as exc:  # a visible cell that fails on the solution: report it, record nothing for it
        errors[cell["id"]] = f"{type(exc).__name__}: {exc}"[:300]
        if cell["function"]:
            calls.pop(cell["function"], None)
out = {}
for name, got in calls.items():
    try:
        out[name] = pickle.dumps(got)
    except Exception:
        out[name] = None
reply.write(pickle.dumps({"calls": out, "errors": errors}))
'''


def record(source, timeout=600):
    """{function: [[(args, kwargs), {output: "value" | "shape"}], ...] or None (not replayable)} of a source notebook's
    visible test cells: each call of the cell's function, and what the cell then checked of each output (its values,
    or only its shape; {} when it checked nothing through rnncore.grading, and then every value is compared)."""
    key = source.sha256 or str(source.path)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        _CACHE[key] = _record(source, timeout)
        return _CACHE[key]


def _record(source, timeout):
    nb = notebook.read_submission(source.path)
    cells, wanted = [], set(source.functions)
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        gid, src = meta.get("grade_id"), notebook._source(cell)
        m = notebook.TEST_ID.match(gid or "")
        if meta.get("grade") and m:
            if m["kind"] == "visible" and m["function"] in wanted:
                cells.append({"id": gid, "function": m["function"], "code": notebook.to_python(src)})
        elif meta.get("solution") or meta.get("locked"):
            cells.append({"id": gid or "?", "function": None, "code": notebook.to_python(src)})
    try:
        proc = subprocess.run([sys.executable, "-c", _PROGRAM], input=json.dumps(cells).encode(),
                              capture_output=True, timeout=timeout, cwd=str(Path(source.path).parent))
        data = pickle.loads(proc.stdout)  # noqa: S301 (our own process, running the instructor's notebook)
    except Exception:  # the visible cells cannot be replayed at all: every function falls back
        return {}
    out = {}
    for name, blob in data.get("calls", {}).items():
        out[name] = None if blob is None else pickle.loads(blob)  # noqa: S301 (as above)
    return out


def replayable(value):
    """Whether a recorded input is plain data the sandbox can receive unchanged (no cache NamedTuple, no callable)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return True
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return False
    if isinstance(value, (tuple, list)):
        return all(replayable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and replayable(v) for k, v in value.items())
    return False
