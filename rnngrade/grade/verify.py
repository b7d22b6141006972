"""The verified score: run a submission's answers in a sandbox and compare with rnncore in this (trusted) process.

Points are awarded by the same rule as the notebook's two test cells. Each graded function has *visible* cases (the
exact calls its visible test cell makes, recorded from the source notebook by visible.py) and the verifier's own
*hidden* cases (cases.py). The function earns its visible cell's points when every visible case matches rnncore, and
its hidden cell's points when every hidden case does, within atol 1e-8, rtol 1e-6 (unless its `cases` entry says
otherwise). When the visible calls cannot be replayed (inputs that are not plain data), the visible cell's points
need every case to match (`visible_replayed` is then False).
Every returned array and number is compared; caches (NamedTuples in rnncore) are
skipped. Returned types are checked as the in-kernel tests check them: an array must be exactly an
np.ndarray, an int an int or numpy integer (exactly an int where the notebook says so), a float any real number
(not a bool), a list of token ids any sequence of ints.

Example
-------
>>> from rnngrade import notebook
>>> from rnngrade.grade import verify
>>> source = notebook.read_source("solutions/ch02_forward/ch02_forward.ipynb")
>>> result = verify.verify(source, "submitted/alice/ch02_forward/ch02_forward.ipynb")
>>> result.verified, result.max_score
"""

import ast
import time
from dataclasses import dataclass, field

import numpy as np

from .. import notebook
from ..assign import cases
from ..integrity import scan as integrity
from . import _wire, sandbox, stubs, visible


@dataclass
class FunctionVerdict:
    """The verified outcome of one graded function."""

    function: str
    points: float
    verified: float
    status: str  # "ok", "wrong", "error", "missing", "failed", "unverified"
    message: str = ""
    cells: dict = field(default_factory=dict)  # test cell grade_id -> {points, verified, status, message}
    visible_replayed: bool = False  # the visible cell's own calls were replayed (else all cases stand for them)


@dataclass
class Verification:
    """The verified grade of one submission."""

    assignment: str
    functions: list = field(default_factory=list)  # FunctionVerdict, in notebook order
    flags: list = field(default_factory=list)  # integrity flags (see integrity.scan)
    cell_errors: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    isolation: str = "none"
    seconds: float = 0.0
    error: str = ""  # the submission could not be verified at all
    unreadable: bool = False  # no notebook, or not one that can be read: nothing to grade, by machine or by hand

    @property
    def verified(self):
        """The verified score."""
        return float(sum(f.verified for f in self.functions))

    @property
    def max_score(self):
        """The most the graded functions are worth."""
        return float(sum(f.points for f in self.functions))

    def by_function(self):
        """{function: FunctionVerdict}."""
        return {f.function: f for f in self.functions}


# ------------------------------------------------------------------------------ cases on the wire
def wire_case(case, blobs):
    """A Case as the JSON tree both processes run (arrays appended to `blobs` as .npy bytes)."""

    def enc(value):
        return _wire.encode(value, blobs)

    return {"label": case.label,
            "inputs": [[k, enc(v)] for k, v in case.inputs.items()],
            "steps": [{"call": s.call, "args": enc(list(s.args)), "kwargs": {k: enc(v) for k, v in s.kwargs.items()},
                       "save": s.save, "compare": bool(s.compare)} for s in case.steps]}


_PLANS = {}  # function -> (spec, [wire cases], blobs, [[(step, reference value), ...] per case], [Case])
_VISIBLE_PLANS = {}  # (source sha256, function) -> ([wire cases], blobs, expected, [Case]) or None


def _wire_and_expect(spec, made):
    """The cases `made` on the wire, their blobs, and the reference's outputs of each case's compared steps."""
    blobs, wired, expected = [], [], []
    for case in made:
        w = wire_case(case, blobs)
        for step, ws in zip(case.steps, w["steps"]):
            ws["_compare"] = step.compare  # the names to compare under (the child only needs the bool)
        wired.append(w)
        if spec.check is not None:  # judged by the spec's own check: no reference run
            expected.append([(i, None) for i, st in enumerate(case.steps) if st.compare])
            continue
        outs = []

        def lookup(name, spec=spec):
            return cases.reference(name, spec)

        with np.errstate(all="ignore"):
            _wire.run_case(w, blobs, lookup, lambda index, value, outs=outs: outs.append((index, value)))
        expected.append(outs)
    return wired, blobs, expected


def _checked(names, seen):
    """The `compare` of a replayed visible call: the outputs the cell checked ("shape:" when only their shape)."""
    names = tuple(names or ())
    if not seen or not names or not any(n in seen for n in names):
        return True
    return tuple(None if n not in seen else n if seen[n] == "value" else f"shape:{n}" for n in names)


def visible_plan(source, function):
    """The verifier's visible cases of `function` (the calls its visible test cell makes), or None when they cannot be
    replayed: no visible cell, a call with inputs that are not plain data, a function judged by its own `check`."""
    key = (source.sha256 or str(source.path), function)
    if key not in _VISIBLE_PLANS:
        plan = None
        try:
            spec = cases.spec_for(function)
            calls = visible.record(source).get(function) if source.tests.get(function, {}).get("visible") else None
            if spec.check is None and calls and all(visible.replayable(c[0]) for c in calls):
                names = spec.outputs or cases.output_names(function)
                made = [cases.Case(f"visible check {k + 1}", [cases.Step(function, args=tuple(a), kwargs=dict(kw),
                                                                          compare=_checked(names, seen))])
                        for k, ((a, kw), seen) in enumerate(calls)]
                plan = (*_wire_and_expect(spec, made), made)
        except Exception:  # the reference refused a recorded call (or anything else): judged by all cases instead
            plan = None
        _VISIBLE_PLANS[key] = plan
    return _VISIBLE_PLANS[key]


def plan_for(function):
    """The spec, wired cases, their blobs and the reference outputs of `function` (computed once per process)."""
    if function not in _PLANS:
        spec = cases.spec_for(function)
        made = spec.cases()
        _PLANS[function] = (spec, *_wire_and_expect(spec, made), made)
    return _PLANS[function]


def materialise(node, blobs, depth=0):
    """The plain value a sandbox described (arrays, numbers, str, None, lists, tuples, dicts); never unpickles."""
    if not isinstance(node, dict) or depth > _wire.MAX_DEPTH:
        return _Unsupported("malformed")
    t = node.get("t")
    if t in ("ndarray", "float", "int", "bool"):
        value = _load(blobs, node)
        if t == "ndarray":
            return value
        return {"float": float, "int": int, "bool": bool}[t](value)
    if t == "str":
        return node.get("v", "")
    if t == "none":
        return None
    if t in ("list", "tuple"):
        items = [materialise(i, blobs, depth + 1) for i in node.get("items", [])]
        return items if t == "list" else tuple(items)
    if t == "dict":
        return {k: materialise(v, blobs, depth + 1) for k, v in node.get("items", [])}
    return _Unsupported(node.get("tn", "?"))


class _Unsupported:
    """Stands for a value the sandbox could not describe as data."""

    def __init__(self, tn):
        self.tn = tn

    def __repr__(self):
        return f"<{self.tn}>"


# ------------------------------------------------------------------------------ comparison
def _is_cache(value):
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _load(blobs, node):
    try:
        return _wire.npy_load(blobs[int(node["k"])])
    except Exception as exc:  # a malformed blob: the child's problem, never ours
        raise _Bad(f"sent an unreadable array ({type(exc).__name__})") from None


class _Bad(Exception):
    pass


def compare_value(ref, node, blobs, what, atol, rtol, exact_int=False):
    """Problems (list of str, empty if none) between a reference value and a described student value."""
    if not isinstance(node, dict):
        return [f"`{what}`: malformed description"]
    t, tn = node.get("t"), node.get("tn", "?")
    short = str(tn).replace("builtins.", "")
    try:
        if _is_cache(ref) or not _is_data(ref):
            return []
        if isinstance(ref, np.ndarray):
            if t != "ndarray":
                return [f"`{what}` must be a numpy array (np.ndarray), got {short}"]
            got = _load(blobs, node)
            if got.shape != ref.shape:
                return [f"`{what}` has shape {got.shape}; expected {ref.shape}"]
            if ref.dtype.kind in "US" or got.dtype.kind in "US":
                return [] if np.array_equal(got, ref) else [f"`{what}` is wrong"]
            return _close(got, ref, what, atol, rtol)
        if isinstance(ref, (bool, np.bool_)):
            if t != "bool":
                return [f"`{what}` must be a bool, got {short}"]
            return [] if bool(_load(blobs, node)) == bool(ref) else [f"`{what}` is wrong"]
        if isinstance(ref, (int, np.integer)):
            if t != "int" or (exact_int and type(ref) is int and tn != "builtins.int"):
                return [f"`{what}` must be an int, got {short}"]
            return [] if int(_load(blobs, node)) == int(ref) else [f"`{what}` is wrong"]
        if isinstance(ref, (float, np.floating)):
            if t in ("float", "int") or (t == "ndarray"):
                got = _load(blobs, node)
                if t == "ndarray" and got.shape != ():
                    return [f"`{what}` must be a number, got an array of shape {got.shape}"]
                return _close(np.asarray(got), np.asarray(ref), what, atol, rtol)
            return [f"`{what}` must be a number, got {short}"]
        if isinstance(ref, str):
            if t != "str":
                return [f"`{what}` must be a str, got {short}"]
            return [] if node.get("v") == ref and not node.get("cut") else [f"`{what}` is wrong"]
        if ref is None:
            return [] if t == "none" else [f"`{what}` must be None, got {short}"]
        if isinstance(ref, list) and ref and all(type(v) is int for v in ref):
            return _int_sequence(ref, node, blobs, what, short)
        if isinstance(ref, (tuple, list)):
            if t != ("list" if isinstance(ref, list) else "tuple"):
                return [f"`{what}` must be a {type(ref).__name__}, got {short}"]
            items = node.get("items", [])
            if len(items) != len(ref):
                return [f"`{what}` has {len(items)} items; expected {len(ref)}"]
            out = []
            for i, (r, n) in enumerate(zip(ref, items)):
                out += compare_value(r, n, blobs, f"{what}[{i}]", atol, rtol, exact_int)
            return out
        if isinstance(ref, dict):
            if t != "dict":
                return [f"`{what}` must be a dict, got {short}"]
            got = {k: v for k, v in node.get("items", [])}
            if set(got) != set(ref):
                return [f"`{what}` has keys {sorted(map(str, got))}; expected {sorted(map(str, ref))}"]
            out = []
            for k in ref:
                out += compare_value(ref[k], got[k], blobs, f"{what}[{k!r}]", atol, rtol, exact_int)
            return out
    except _Bad as exc:
        return [f"`{what}` {exc}"]
    return []


def _int_sequence(ref, node, blobs, what, short):
    """A list of ints (token ids, say): a list or tuple of ints or numpy ints, or a 1-D integer array, equal to ref."""
    t = node.get("t")
    if t == "ndarray":
        got = _load(blobs, node)
        if got.ndim != 1 or got.dtype.kind not in "iu":
            return [f"`{what}` must be a list of ints, got an array of dtype {got.dtype} and shape {got.shape}"]
        values = [int(v) for v in got]
    elif t in ("list", "tuple"):
        items = node.get("items", [])
        if not all(isinstance(i, dict) and i.get("t") == "int" for i in items):
            return [f"`{what}` must be a list of ints"]
        values = [int(_load(blobs, i)) for i in items]
    else:
        return [f"`{what}` must be a list of ints, got {short}"]
    if len(values) != len(ref):
        return [f"`{what}` has {len(values)} items; expected {len(ref)}"]
    return [] if values == ref else [f"`{what}` is wrong"]


def _is_data(value):
    return isinstance(value, (np.ndarray, np.generic, bool, int, float, str, tuple, list, dict)) or value is None


def _close(got, ref, what, atol, rtol):
    if got.dtype.kind not in "biuf":
        return [f"`{what}` must hold numbers, got dtype {got.dtype}"]
    g, e = got.astype(np.float64), ref.astype(np.float64)
    if not np.all(np.isfinite(g) | ~np.isfinite(e)):
        return [f"`{what}` contains NaN or inf"]
    wrong = ~np.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
    if wrong.any():
        diff = np.max(np.abs(np.where(wrong, g - e, 0)))
        return [f"`{what}` differs in {int(wrong.sum())} of {wrong.size} entries (largest difference {diff:.3g})"]
    return []


def compare_step(spec, step, ref, node, blobs):
    """Problems of one compared step: element by element when the reference returns a tuple."""
    call = step["call"]
    compare = spec_compare(spec, step)
    names = compare if isinstance(compare, tuple) else ()
    if not names:
        names = spec.outputs if call == spec.function and spec.outputs else cases.output_names(call or "")
    if isinstance(ref, tuple) and not _is_cache(ref) and (not names or len(names) == len(ref)):
        if not isinstance(node, dict) or node.get("t") != "tuple":
            what = f"`{call}`" if call else "the value"
            got = str(node.get("tn") if isinstance(node, dict) else "?").replace("builtins.", "")
            return [f"{what} must return a tuple of {len(ref)} values, got {got}"]
        items = node.get("items", [])
        if len(items) != len(ref):
            return [f"`{call}` must return a tuple of {len(ref)} values; it returned {len(items)}"]
        out = []
        for i, (r, n) in enumerate(zip(ref, items)):
            name = names[i] if i < len(names) else f"output {i}"
            if name is None:
                continue
            out += _compare_named(r, n, blobs, name, spec)
        return out
    if isinstance(compare, tuple) and len(compare) == 1 and compare[0] is None:
        return []
    name = names[0] if len(names) == 1 and names[0] else (call or "the value")
    return _compare_named(ref, node, blobs, name, spec)


def _compare_named(ref, node, blobs, name, spec):
    """compare_value under an output name; "shape:<name>" compares only type and shape (a visible shape check)."""
    if name.startswith("shape:"):
        return compare_value(ref, node, blobs, name[6:], np.finfo(np.float64).max, 0.0, spec.exact_int)
    return compare_value(ref, node, blobs, name, spec.atol, spec.rtol, spec.exact_int)


def spec_compare(spec, step):
    """The `compare` of a wired step: True or a tuple of output names (kept beside the wire's bool)."""
    return step.get("_compare", True)


# ------------------------------------------------------------------------------ the whole submission
def _cells(source, answers, solution_for=()):
    out = []
    for i, cell in enumerate(source.cells):
        if cell.kind == "trusted":
            out.append({"i": i, "id": cell.grade_id, "kind": "trusted", "code": notebook.to_python(cell.source)})
        elif cell.grade_id in answers:
            code = notebook.to_python(answers[cell.grade_id])
            out.append({"i": i, "id": cell.grade_id, "kind": "answer", "code": code})
    for j, name in enumerate(solution_for):
        out.append({"i": len(source.cells) + j, "id": f"{name} (solution)", "kind": "solution",
                    "code": notebook.to_python(source.solutions[name])})
    return out


def verify(source, submission, limits=None, hide=(), only=None):
    """Verify one submission of `source`'s assignment.

    Parameters
    ----------
    source : notebook.SourceNotebook
    submission : path of the submitted notebook (or its dict)
    limits : sandbox.Limits (default: sandbox.Limits())
    hide : extra paths to hide from the sandbox (course folders, gradebooks)
    only : verify just these graded functions (default: all of them)

    Returns
    -------
    Verification
    """
    started = time.monotonic()
    limits = limits or sandbox.Limits()
    result = Verification(source.assignment)
    try:
        nb = notebook.read_submission(submission)
        found = notebook.answers(nb, source)
    except notebook.SubmissionError as exc:
        result.error, result.unreadable = exc.reason, True  # what is wrong with the file, without its path
        result.functions = [_split(FunctionVerdict(f, source.points[f], 0.0, "missing", "unreadable notebook"),
                                   source.tests.get(f)) for f in source.functions]
        return result
    result.flags = integrity.scan_submission(nb, found, source)
    graded = tuple(sorted(set(source.functions) | set(source.solutions)))
    stub_src = stubs.stub_sources(graded)
    groups, plans = {}, {}
    functions = [f for f in source.functions if only is None or f in only]
    for function in functions:
        try:
            spec, wired, blobs, expected, _ = plan_for(function)
        except Exception as exc:  # no cases, or the reference refused them: this function cannot be verified
            plans[function] = exc if isinstance(exc, cases.NoCases) else cases.NoCases(
                f"the cases of `{function}` failed in the reference: {type(exc).__name__}: {exc}"[:300])
            continue
        plans[function] = plan_for(function)
        # A step that only prepares inputs (a backward's forward, say) runs the instructor's solution when that
        # function is graded here too, as the in-kernel tests do: a wrong forward must not cost the backward.
        helpers = {st["call"] for w in wired for st in w["steps"]
                   if not st["compare"] and st["call"] not in (None, function) and not st["call"].startswith(".")}
        solution_for = tuple(sorted(set(spec.solution_for) | (helpers & set(source.functions))))
        groups.setdefault(solution_for, []).append(function)
    outcomes = {}
    for solution_for, members in groups.items():
        blobs, fn_plans = [], []
        for function in members:
            spec, wired, fblobs, _, _ = plans[function]
            offset = len(blobs)
            blobs += fblobs
            shifted = [_shift(w, offset) for w in wired]
            vplan = visible_plan(source, function)
            if vplan is not None:
                offset = len(blobs)
                blobs += vplan[1]
                shifted += [_shift(w, offset) for w in vplan[0]]
            fn_plans.append({"name": function, "cases": shifted})
        run = sandbox.run(_cells(source, found, solution_for), fn_plans, blobs, stub_src, limits, hide=hide,
                          preload=_imports(source))
        outcomes.update(run.functions)
        result.cell_errors.update(run.cell_errors)
        result.notes += run.notes
        result.isolation = run.isolation
    for function in functions:
        points = source.points[function]
        plan = plans[function]
        if isinstance(plan, Exception):
            result.functions.append(_split(FunctionVerdict(function, points, 0.0, "unverified", str(plan)),
                                           source.tests.get(function)))
            continue
        result.functions.append(_judge(function, points, plan, outcomes.get(function), found, result.cell_errors,
                                       source.tests.get(function), visible_plan(source, function)))
    result.seconds = time.monotonic() - started
    return result


def _imports(source):
    """Top-level modules the notebook's trusted cells import (loaded before the sandbox's audit hook: torch, say).

    `grading.import_torch(...)` (how a notebook imports torch only in the part that uses it) counts as `import torch`.
    """
    names = set()
    for cell in source.cells:
        if cell.kind != "trusted":
            continue
        try:
            tree = notebook.parse_python(notebook.to_python(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        for node in ast.walk(tree):
            called = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(called, "attr", getattr(called, "id", None)) == "import_torch":
                names.add("torch")
    return sorted(n for n in names if n.split(".")[0] != "rnncore")


def _shift(tree, offset):
    """Renumber the array references of a wired case by `offset` (cases of several functions share one list)."""
    if isinstance(tree, list):
        return [_shift(v, offset) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"$a"}:
            return {"$a": tree["$a"] + offset}
        return {k: (_shift(v, offset) if k != "_compare" else v) for k, v in tree.items()}
    return tree


def _split(verdict, tests, visible_outcome=None, replayed=False):
    """Fill `verdict.cells` (one entry per test cell) and its total.

    tests : {"visible": points, "hidden": points} of the function's test cells (None: one cell, the whole function)
    visible_outcome : (status, message) of the visible cases, or None when they were not judged separately
    """
    tests = tests or {"visible": 0.0, "hidden": verdict.points}
    hidden = (verdict.status, verdict.message)
    shown = visible_outcome if visible_outcome is not None else hidden
    verdict.cells, total = {}, 0.0
    for kind, (status, message) in (("visible", shown), ("hidden", hidden)):
        pts = float(tests.get(kind, 0.0))
        got = pts if status == "ok" else 0.0
        total += got
        verdict.cells[f"test_{verdict.function}_{kind}"] = {"points": pts, "verified": got, "status": status,
                                                           "message": message}
    verdict.verified = total
    verdict.visible_replayed = bool(replayed)
    if verdict.status == "ok" and shown[0] != "ok":
        verdict.status, verdict.message = shown[0], f"visible: {shown[1]}"
    return verdict


def _judge(function, points, plan, outcome, found, cell_errors, tests=None, vplan=None):
    n = len(plan[1])
    if outcome is not None and not outcome.failure and vplan is not None and len(outcome.cases) == n + len(vplan[0]):
        from copy import copy

        hidden_out, visible_out = copy(outcome), copy(outcome)
        hidden_out.cases, visible_out.cases = outcome.cases[:n], outcome.cases[n:]
        verdict = _judge_cases(function, points, plan, hidden_out, found, cell_errors)
        spec = plan[0]
        shown = _judge_cases(function, points, (spec, vplan[0], vplan[1], vplan[2], vplan[3]), visible_out, found,
                             cell_errors)
        return _split(verdict, tests, (shown.status, shown.message), replayed=True)
    if outcome is not None and not outcome.failure and vplan is not None:
        outcome = copy_outcome(outcome, n)
    return _split(_judge_cases(function, points, plan, outcome, found, cell_errors), tests)


def copy_outcome(outcome, n):
    """`outcome` with only its first `n` cases (the hidden ones) when the visible ones came back incomplete."""
    from copy import copy

    out = copy(outcome)
    out.cases = outcome.cases[:n]
    return out


def _judge_cases(function, points, plan, outcome, found, cell_errors):
    spec, wired, _, expected, made = plan
    if function not in found:
        return FunctionVerdict(function, points, 0.0, "missing", "no answer cell with this grade_id")
    if outcome is None:
        return FunctionVerdict(function, points, 0.0, "failed", "the sandbox returned nothing")
    if outcome.failure:
        hint = ""
        if function in cell_errors:
            hint = f" (its cell failed: {cell_errors[function]})"
        return FunctionVerdict(function, points, 0.0, "failed", outcome.failure + hint)
    if len(outcome.cases) != len(wired):
        return FunctionVerdict(function, points, 0.0, "failed", "the sandbox returned the wrong number of cases")
    for w, got, exp, case in zip(wired, outcome.cases, expected, made):
        if not isinstance(got, dict):
            return FunctionVerdict(function, points, 0.0, "failed", "malformed result")
        if "error" in got:
            message = str(got["error"])
            if message.startswith("NameError"):
                message += " (only code inside the answer cells is graded)"
            return FunctionVerdict(function, points, 0.0, "error", f"{w['label']}: {message}")
        outs = {o.get("step"): o.get("tree") for o in got.get("outputs", []) if isinstance(o, dict)}
        if spec.check is not None:
            if any(index not in outs for index, _ in exp):
                return FunctionVerdict(function, points, 0.0, "failed", f"{w['label']}: no output")
            try:
                problems = spec.check(case, [materialise(outs[index], outcome.blobs) for index, _ in exp])
            except Exception as exc:  # a value of the wrong kind: the student's, not ours
                problems = [f"unusable result ({type(exc).__name__}: {exc})"[:200]]
            if problems:
                return FunctionVerdict(function, points, 0.0, "wrong", f"{w['label']}: {problems[0]}")
            continue
        for index, ref in exp:
            if index not in outs:
                return FunctionVerdict(function, points, 0.0, "failed", f"{w['label']}: no output")
            problems = compare_step(spec, w["steps"][index], ref, outs[index], outcome.blobs)
            if problems:
                return FunctionVerdict(function, points, 0.0, "wrong", f"{w['label']}: {problems[0]}")
    return FunctionVerdict(function, points, points, "ok", "")
