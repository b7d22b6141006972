"""The data format between the verifier (trusted parent) and a sandbox (child): JSON plus raw .npy blobs, no pickle.

Self-contained on purpose (imports only the standard library and numpy): its text is shipped into the sandbox and
executed there, and the parent imports it as a module, so both sides decode inputs identically.

Inputs (parent -> child) are JSON trees whose leaves are JSON scalars or tagged objects: {"$a": i} an array
(blob i), {"$np": dtype, "v": x} a numpy scalar, {"$f": "nan"} a non-finite float, {"$t": [...]} a tuple,
{"$d": [[key, value], ...]} a dict, {"$ref": [name, *path]} a value saved by an earlier step of the case,
{"$fn": source, ...} a trusted callable compiled from source, {"$rng": seed} a fresh numpy Generator.

Outputs (child -> parent) are described by `describe`: a JSON tree of {"t": kind, "tn": exact type name, ...} with
arrays and numbers stored as .npy blobs, so the parent never unpickles or evaluates anything the child sent.
"""

import io
import math

import numpy as np

MAX_DEPTH = 8
MAX_ITEMS = 10000
MAX_STR = 10000


def npy_bytes(arr):
    """An array as .npy bytes (never pickled: object arrays are refused)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_load(data):
    """Read .npy bytes without ever unpickling."""
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


# ----------------------------------------------------------------------------------------------- inputs
def encode(value, blobs):
    """Encode an input value as a JSON tree, appending array bytes to `blobs`."""
    from_np = getattr(value, "__wire__", None)
    if from_np is not None:  # Ref, Fn, Rng of rnngrade.assign.cases
        return from_np(lambda v: encode(v, blobs))
    if isinstance(value, np.ndarray):
        blobs.append(npy_bytes(value))
        return {"$a": len(blobs) - 1}
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, str):
            return item
        if isinstance(item, (bytes, complex)) or value.dtype.kind not in "biuf":
            raise TypeError(f"encode: cannot send a {type(value).__name__} to the sandbox")
        return {"$np": value.dtype.str, "v": item if np.isfinite(value) else str(item)}
    if isinstance(value, float) and not math.isfinite(value):
        return {"$f": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"$t": [encode(v, blobs) for v in value]}
    if isinstance(value, list):
        return [encode(v, blobs) for v in value]
    if isinstance(value, dict):
        return {"$d": [[k, encode(v, blobs)] for k, v in value.items()]}
    raise TypeError(f"encode: cannot send a {type(value).__name__} to the sandbox")


def make_fn(spec, decode_const):
    """Compile a trusted callable from {"$fn": source, "consts": {...}}; return (callable, its namespace)."""
    ns = {"np": np, "log": []}
    for k, v in spec.get("consts", {}).items():
        ns[k] = decode_const(v)
    source = spec["$fn"]
    if source.lstrip().startswith("def "):
        before = set(ns)
        exec(compile(source, "<case function>", "exec"), ns)  # noqa: S102 (trusted source from cases.py)
        name = next(k for k in ns if k not in before and callable(ns[k]))
        fn = ns[name]
    else:
        fn = eval(compile(source, "<case function>", "eval"), ns)  # noqa: S307 (trusted source from cases.py)
    return fn, ns


def decode(tree, blobs, scope):
    """Rebuild an input value (fresh arrays every time) from its JSON tree."""
    if isinstance(tree, list):
        return [decode(v, blobs, scope) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "$a" in tree:
        return np.array(npy_load(blobs[tree["$a"]]), copy=True)
    if "$np" in tree:
        return np.dtype(tree["$np"]).type(tree["v"])
    if "$f" in tree:
        return float(tree["$f"])
    if "$t" in tree:
        return tuple(decode(v, blobs, scope) for v in tree["$t"])
    if "$d" in tree:
        return {k: decode(v, blobs, scope) for k, v in tree["$d"]}
    if "$rng" in tree:
        return np.random.default_rng(tree["$rng"])
    if "$ref" in tree:
        name, *path = tree["$ref"]
        value = scope[name]
        for key in path:
            value = value[key]
        return value
    if "$fn" in tree:
        fn, ns = make_fn(tree, lambda v: decode(v, blobs, scope))
        if tree.get("name"):
            scope[tree["name"]] = ns
        return fn
    raise ValueError(f"decode: unknown tag in {sorted(tree)}")


def run_case(case, blobs, lookup, emit):
    """Run one case's steps, calling `lookup(name)` for functions; `emit(index, value)` for compared steps."""
    scope = {}
    for name, tree in case.get("inputs", []):
        scope[name] = decode(tree, blobs, scope)
    for index, step in enumerate(case["steps"]):
        args = decode(step.get("args", []), blobs, scope)
        kwargs = {k: decode(v, blobs, scope) for k, v in step.get("kwargs", {}).items()}
        call = step.get("call")
        if call is None:
            value = args[0]
        elif call.startswith("."):
            value = getattr(args[0], call[1:])(*args[1:], **kwargs)
        else:
            value = lookup(call)(*args, **kwargs)
        if step.get("save"):
            scope[step["save"]] = value
        if step.get("compare"):
            emit(index, value)


# ----------------------------------------------------------------------------------------------- outputs
def type_name(value):
    """The exact type of a value, e.g. 'builtins.float' or 'numpy.ndarray' (type(), which cannot be faked)."""
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def describe(value, blobs, depth=0):
    """Describe a returned value as a JSON tree, storing numbers and arrays as .npy blobs."""
    tn = type_name(value)
    if depth > MAX_DEPTH:
        return {"t": "other", "tn": tn, "why": "nested too deeply"}
    t = type(value)
    if t is np.ndarray:
        if value.dtype.hasobject or value.dtype.kind not in "biufcUS":
            return {"t": "other", "tn": tn, "why": f"dtype {value.dtype}"}
        blobs.append(npy_bytes(np.array(value, copy=True)))
        return {"t": "ndarray", "tn": tn, "k": len(blobs) - 1}
    if t in (bool, int, float) or (isinstance(value, np.generic) and t.__module__ == "numpy"
                                   and value.dtype.kind in "biuf"):
        kind = {bool: "bool", int: "int", float: "float"}.get(t) or {"b": "bool", "i": "int", "u": "int",
                                                                      "f": "float"}[value.dtype.kind]
        if t is int and not -(2 ** 63) <= value < 2 ** 63:
            return {"t": "other", "tn": tn, "why": "integer too large"}
        blobs.append(npy_bytes(np.array(value)))
        return {"t": kind, "tn": tn, "k": len(blobs) - 1}
    if t is str:
        return {"t": "str", "tn": tn, "v": value[:MAX_STR], "cut": len(value) > MAX_STR}
    if value is None:
        return {"t": "none", "tn": tn}
    if isinstance(value, (tuple, list)) and t.__module__ != "numpy":
        items = list(tuple.__iter__(value)) if isinstance(value, tuple) else list(list.__iter__(value))
        if len(items) > MAX_ITEMS:
            return {"t": "other", "tn": tn, "why": "too many items"}
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"t": kind, "tn": tn, "items": [describe(v, blobs, depth + 1) for v in items]}
    if isinstance(value, dict):
        items = list(dict.items(value))
        if len(items) > MAX_ITEMS or not all(type(k) in (str, int) for k, _ in items):
            return {"t": "other", "tn": tn, "why": "keys must be str or int"}
        return {"t": "dict", "tn": tn, "items": [[k, describe(v, blobs, depth + 1)] for k, v in items]}
    return {"t": "other", "tn": tn}
