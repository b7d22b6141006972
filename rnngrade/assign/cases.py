"""The fixed, seeded inputs every graded function is verified on, and how its reference answer is computed.

A graded function gets its cases from, in order:

1. an explicit entry registered here with `@register("function_name", ...)` (a function of a seeded
   numpy Generator returning a list of `Case`), or
2. the generic generator, which reads the rnncore reference's signature and fills every parameter from
   the table `PARAMETERS` (shapes follow the house letters: x (T, N, D), h0 (N, H), W_ih (G*H, D), ...).
   A `*_backward(d..., cache)` function is chained after its `*_forward`: the notebook's own forward
   (the student's or the one the notebook gives) makes the cache, exactly as the in-kernel tests do.

A new assignment needs an entry here only when the generic generator cannot fill a parameter (tests in
tests/test_verify.py say which). A case is a list of `Step`s run in order in one scope; a step calls a
function of the notebook by name (in the sandbox) and the rnncore reference of the same name (in the parent),
and the outputs of steps marked `compare` must agree. `Ref` reads a value saved by an earlier step, `Fn` is a
trusted callable given to the student's function (compiled from source in both processes), `Rng` a fresh
seeded Generator.

Book: the instructor guide, section "What the verifier checks".
"""

import ast
import inspect
import math
import re
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

import rnncore

from ..notebook import parse_python

_PACKAGE = Path(rnncore.__file__).resolve().parent
_TASKS = Path(__file__).resolve().parent / "tasks"


class NoCases(LookupError):
    """Raised when a graded function has neither an explicit entry nor parameters the generic generator knows."""


@dataclass(frozen=True)
class Ref:
    """A value saved earlier in the same case: Ref("fwd", 1) is element 1 of the step saved as "fwd"."""

    name: str
    path: tuple = ()

    def __init__(self, name, *path):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "path", tuple(path))

    def __wire__(self, enc):
        return {"$ref": [self.name, *self.path]}


@dataclass(frozen=True)
class Fn:
    """A trusted callable given to a student's function: a lambda or one `def`, with constants in its scope.

    Its namespace also holds `np` and an empty list `log` (to record calls); with a `name`, the namespace is
    saved in the case's scope, so `Ref(name, "log")` reads what was recorded.
    """

    source: str
    name: str = ""
    consts: dict = field(default_factory=dict)

    def __wire__(self, enc):
        return {"$fn": self.source, "name": self.name, "consts": {k: enc(v) for k, v in self.consts.items()}}


@dataclass(frozen=True)
class Rng:
    """A fresh numpy Generator seeded with `seed`, made separately in the sandbox and in the parent."""

    seed: int

    def __wire__(self, enc):
        return {"$rng": int(self.seed)}


@dataclass
class Step:
    """One call: `call` is a function name (or ".method" on the first argument, or None for "the value of args[0]").

    compare : False, True (every output the reference returns, except caches), or a tuple of output names with
              None for outputs to skip
    save : name under which the result is kept for later Refs
    """

    call: str | None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    compare: bool | tuple = True
    save: str = ""


@dataclass
class Case:
    """A labelled list of steps; `inputs` are named values made first (e.g. a dict an update changes in place).

    `expect` holds data only the parent sees, for a Spec with its own `check` (never sent to the sandbox).
    """

    label: str
    steps: list
    inputs: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)


@dataclass
class Spec:
    """How one graded function is verified."""

    function: str
    make: object  # callable(rng) -> list of Case
    seed: int
    atol: float = 1e-8
    rtol: float = 1e-6
    solution_for: tuple = ()  # functions replaced by the instructor's solution while this one is verified
    reference: dict = field(default_factory=dict)  # name -> callable, overriding rnncore for these names
    outputs: tuple = ()  # names of the outputs (default: read from the reference's docstring)
    check: object = None  # callable(case, values) -> list of problems, instead of comparing with the reference
    exact_int: bool = False  # an int result must be a Python int (not a numpy integer), as the notebook demands
    slow: bool = False  # takes seconds (training a model): the test suite verifies it only when it must

    def cases(self):
        """The cases, rebuilt from the seed (identical every time)."""
        return self.make(np.random.default_rng(self.seed))


REGISTRY = {}


def register(function, *, seed, atol=1e-8, rtol=1e-6, solution_for=(), reference=None, outputs=(), check=None,
             exact_int=False, slow=False):
    """Decorator: register `make(rng) -> [Case, ...]` as the explicit cases of `function`.

    check : optional callable(case, values) -> list of problems (str), for functions whose answer is not unique
            (a trained model, say): `values` are the student's outputs of the compared steps, as plain numpy and
            Python values; the reference is then not run.
    """

    def deco(make):
        REGISTRY[function] = Spec(function, make, seed, atol, rtol, tuple(solution_for), dict(reference or {}),
                                  tuple(outputs), check, exact_int, slow)
        return make

    return deco


def spec_for(function):
    """The Spec of a graded function: its explicit entry, else the generic one; raise NoCases if neither works."""
    from . import tasks

    tasks.load()  # the instructor's tasks register their cases here when imported
    if function in REGISTRY:
        return REGISTRY[function]
    spec = Spec(function, lambda rng: generic_cases(function, rng), seed=zlib.crc32(function.encode()))
    spec.cases()  # raises NoCases now rather than at grading time
    return spec


# ------------------------------------------------------------------------------ the reference, read from source
def reference_modules():
    """The source files that hold references: rnncore's modules, then the instructor's tasks (rnngrade.assign.tasks,
    the graded functions no function of rnncore answers)."""
    return sorted(_PACKAGE.glob("*.py")) + sorted(_TASKS.glob("ch*.py"))


@cache
def _definitions():
    """{name: (module stem, ast.FunctionDef)} for every public top-level function of rnncore and of the tasks."""
    found = {}
    for path in reference_modules():
        for node in parse_python(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found.setdefault(node.name, (path.stem, node))
    return found


def signature(function):
    """[(parameter, default or inspect.Parameter.empty), ...] of rnncore's `function`, read from its source."""
    try:
        _, node = _definitions()[function]
    except KeyError:
        raise NoCases(f"signature: rnncore has no function `{function}`") from None
    args = node.args
    params = [a.arg for a in args.posonlyargs + args.args]
    defaults = [inspect.Parameter.empty] * (len(params) - len(args.defaults)) + [
        _literal(d) for d in args.defaults]
    out = list(zip(params, defaults))
    out += [(a.arg, inspect.Parameter.empty if d is None else _literal(d))
            for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return out


def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)  # e.g. np.float64: kept as text, never passed


def output_names(function):
    """Names of the values `function` returns, read from the Returns section of its rnncore docstring."""
    try:
        _, node = _definitions()[function]
    except KeyError:
        return ()
    doc = ast.get_docstring(node) or ""
    section = re.search(r"Returns\n-+\n(.*?)(?:\n\s*\n|\Z)", doc, re.S)
    names = []
    for line in (section.group(1) if section else "").splitlines():
        m = re.match(r"^(\w+(?:\s*,\s*\w+)*)\s*:", line)
        if m and not line.startswith(" "):
            names += [n.strip() for n in m.group(1).split(",")]
    return tuple(names)


def reference(function, spec=None):
    """The trusted implementation of `function`: the spec's, else rnncore's, else an instructor task's."""
    from . import tasks

    if spec is not None and function in spec.reference:
        return spec.reference[function]
    found = getattr(rnncore, function, None) or tasks.load().get(function)
    if found is None:
        raise NoCases(f"reference: neither rnncore nor rnngrade.assign.tasks has `{function}`; register a "
                      "reference in rnngrade.assign.tasks or rnngrade.assign.cases")
    return found


# ------------------------------------------------------------------------------ the generic generator
SIZES = [  # (T, N, D, H, V): T=1 and N=1 included, D != H, V != H
    (1, 1, 1, 1, 2), (1, 3, 2, 4, 3), (5, 1, 3, 2, 4), (4, 3, 4, 5, 3), (6, 2, 3, 3, 5),
]
NONLINEARITIES = ["tanh", "tanh", "relu", "tanh", "relu"]
CELLS = ["rnn", "lstm", "gru", "rnn", "lstm"]


def _gates(function):
    return 4 if function.startswith("lstm") else 3 if function.startswith("gru") else 1


def _normal(rng, shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def _grads(rng, i):
    scale = [0.1, 1.0, 3.0, 10.0, 0.5][i % 5]
    return {"W_ih": _normal(rng, (3, 2), scale), "W_hh": _normal(rng, (3, 3), scale), "b": _normal(rng, 3, scale)}


# parameter -> value(rng, sizes dict with T N D H V G nl, case index). Values depend only on the letters.
PARAMETERS = {
    "x_t": lambda r, s, i: _normal(r, (s["N"], s["D"])),
    "h_prev": lambda r, s, i: _normal(r, (s["N"], s["H"])),
    "c_prev": lambda r, s, i: _normal(r, (s["N"], s["H"])),
    "x": lambda r, s, i: _normal(r, (s["T"], s["N"], s["D"])),
    "h0": lambda r, s, i: _normal(r, (s["N"], s["H"])),
    "c0": lambda r, s, i: _normal(r, (s["N"], s["H"])),
    "W_ih": lambda r, s, i: _normal(r, (s["G"] * s["H"], s["D"]), 1 / math.sqrt(s["D"])),
    "W_hh": lambda r, s, i: _normal(r, (s["G"] * s["H"], s["H"]), 1 / math.sqrt(s["H"])),
    "b_ih": lambda r, s, i: _normal(r, s["G"] * s["H"]),
    "b_hh": lambda r, s, i: _normal(r, s["G"] * s["H"]),
    "nonlinearity": lambda r, s, i: s["nl"],
    "h": lambda r, s, i: _normal(r, (s["T"], s["N"], s["H"])),
    "W": lambda r, s, i: _normal(r, (s["V"], s["H"])),
    "b": lambda r, s, i: _normal(r, s["V"]),
    "logits": lambda r, s, i: _normal(r, (s["T"], s["N"], s["V"]), [1.0, 3.0, 1000.0, 2.0, 1.0][i % 5]),
    "y": lambda r, s, i: r.integers(0, s["V"], size=(s["T"], s["N"])),
    "mask": lambda r, s, i: np.concatenate([[True], r.random(s["T"] * s["N"] - 1) < 0.6]).reshape(s["T"], s["N"]),
    "hs": lambda r, s, i: (np.tanh if s["nl"] == "tanh" else lambda a: np.maximum(a, 0))(
        _normal(r, (s["T"], s["N"], s["H"]))),
    "a": lambda r, s, i: r.uniform(0.3, 1.1, size=(s["T"], s["N"], s["H"])),
    "W_z": lambda r, s, i: _normal(r, (s["H"], s["D"]), 1 / math.sqrt(s["D"])),
    "W_f": lambda r, s, i: _normal(r, (s["H"], s["D"]), 1 / math.sqrt(s["D"])),
    "W_i": lambda r, s, i: _normal(r, (s["H"], s["D"]), 1 / math.sqrt(s["D"])),
    "W_h": lambda r, s, i: _normal(r, (s["H"], s["D"]), 1 / math.sqrt(s["D"])),
    "b_z": lambda r, s, i: _normal(r, s["H"]),
    "b_f": lambda r, s, i: _normal(r, s["H"]),
    "b_i": lambda r, s, i: _normal(r, s["H"]),
    "b_h": lambda r, s, i: _normal(r, s["H"]),
    "parallel": lambda r, s, i: i % 2 == 0,
    "grads": lambda r, s, i: _grads(r, i),
    "limit": lambda r, s, i: [0.5, 1.0, 5.0, 0.05, 2.0][i % 5],
    "max_norm": lambda r, s, i: [1.0, 5.0, 0.5, 100.0, 2.0][i % 5],
    "D": lambda r, s, i: s["D"],
    "H": lambda r, s, i: s["H"],
    "V": lambda r, s, i: s["V"],
    "cell": lambda r, s, i: CELLS[i % len(CELLS)],
}
# Parameters whose rnncore meaning differs by function: the generic table must not guess them.
_AMBIGUOUS = {"b": {"linear_recurrence", "parallel_scan"}}
_LINEAR_B = lambda r, s, i: _normal(r, (s["T"], s["N"], s["H"]))  # noqa: E731


def _fill(function, rng, sizes, i):
    """Keyword arguments for one generic case of `function` (optional parameters sometimes left at their default)."""
    kwargs = {}
    params = dict(signature(function))
    if i % 3 == 2 and isinstance(params.get("nonlinearity"), str):
        sizes = dict(sizes, nl=params["nonlinearity"])  # the default is kept: the other inputs must agree with it
    for name, default in params.items():
        maker = PARAMETERS.get(name)
        if name == "b" and function in _AMBIGUOUS["b"]:
            maker = _LINEAR_B
        if maker is None:
            if default is inspect.Parameter.empty:
                raise NoCases(f"{function}: the generic cases cannot fill the parameter `{name}`; "
                              "register explicit cases in rnngrade/assign/cases.py")
            continue
        if default is not inspect.Parameter.empty and i % 3 == 2:
            continue  # every third case keeps the default
        kwargs[name] = maker(rng, sizes, i)
    return kwargs


def _letters(function, i):
    T, N, D, H, V = SIZES[i]
    return {"T": T, "N": N, "D": D, "H": H, "V": V, "G": _gates(function), "nl": NONLINEARITIES[i]}


# the letters each parameter's shape uses (for case labels)
_USES = {"x_t": "ND", "h_prev": "NH", "c_prev": "NH", "x": "TND", "h0": "NH", "c0": "NH", "W_ih": "HD", "W_hh": "H",
         "b_ih": "H", "b_hh": "H", "h": "TNH", "W": "VH", "b": "V", "logits": "TNV", "y": "TNV", "mask": "TN",
         "hs": "TNH", "a": "TNH", "W_z": "HD", "W_f": "HD", "W_i": "HD", "W_h": "HD", "b_z": "H", "b_f": "H",
         "b_i": "H", "b_h": "H", "D": "D", "H": "H", "V": "V"}


def _label(kwargs, sizes):
    used = "".join(_USES.get(k, "") for k in kwargs) or "TNDHV"
    shown = ", ".join(f"{k}={sizes[k]}" for k in "TNDHV" if k in used)
    extra = [f"{k}={v!r}" for k, v in kwargs.items() if isinstance(v, (str, bool, int, float)) and k not in "TNDHV"]
    return ", ".join([shown, *extra])


def generic_cases(function, rng):
    """Cases for `function` from its rnncore signature (chained after the forward for a `*_backward`)."""
    params = [p for p, _ in signature(function)]
    if function.endswith("_backward") and "cache" in params:
        return _backward_cases(function, rng)
    cases = []
    for i in range(len(SIZES)):
        sizes = _letters(function, i)
        kwargs = _fill(function, rng, sizes, i)
        cases.append(Case(_label(kwargs, sizes), [Step(function, kwargs=kwargs)]))
    return cases


def _backward_cases(function, rng):
    forward = function[: -len("_backward")] + "_forward"
    params = [p for p, _ in signature(function)]
    upstream = params[: params.index("cache")]
    cases = []
    for i in range(len(SIZES)):
        sizes = _letters(forward, i)
        kwargs = _fill(forward, rng, sizes, i)
        out = reference(forward)(**{k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                                    for k, v in kwargs.items()})
        grads = [_normal(rng, np.shape(o)) for o in out[: len(upstream)]]
        steps = [Step(forward, kwargs=kwargs, compare=False, save="fwd"),
                 Step(function, args=(*grads, Ref("fwd", len(out) - 1)))]
        cases.append(Case(_label(kwargs, sizes), steps))
    return cases


# ------------------------------------------------------------------------------ explicit entries: ch02_forward
@register("affine_forward", seed=20260413)
def _affine_forward(rng):
    cases = []
    for shape, V in [((1, 1, 1), 1), ((3, 2, 4), 5), ((2, 6), 3), ((5, 1, 3), 8), ((4,), 2)]:
        h, W, b = rng.standard_normal(shape), rng.standard_normal((V, shape[-1])), rng.standard_normal(V)
        cases.append(Case(f"h of shape {shape}, V={V}", [Step("affine_forward", args=(h, W, b))]))
    return cases


@register("softmax_cross_entropy", seed=20260414)
def _softmax_cross_entropy(rng):
    cases = []
    for T, N, V, masked, scale in [(1, 1, 2, False, 1.0), (4, 3, 5, False, 3.0), (5, 2, 7, True, 2.0),
                                   (3, 4, 3, True, 1000.0), (2, 2, 4, None, 1.0)]:
        logits = scale * rng.standard_normal((T, N, V))
        y = rng.integers(0, V, size=(T, N))
        mask = rng.random((T, N)) < 0.6 if masked else None
        if masked:
            mask[0, 0] = True
        args = (logits, y) if masked is None else (logits, y, mask)  # None: mask left at its default
        label = f"T={T}, N={N}, V={V}" + (", masked" if masked else "") + (", large logits" if scale > 100 else "")
        cases.append(Case(label, [Step("softmax_cross_entropy", args=args)]))
    return cases


@register("param_count", seed=20260415, exact_int=True)
def _param_count(rng):
    rows = [(1, 1, None, "rnn"), (10, 20, None, "lstm"), (7, 3, 11, "gru"), (64, 128, 50, "lstm"), (5, 9, 2, "rnn")]
    return [Case(f"D={D}, H={H}, V={V}, cell={cell!r}",
                 [Step("param_count", args=(D, H), kwargs={"V": V, "cell": cell})])
            for D, H, V, cell in rows] + [Case("D=3, H=4 (defaults)", [Step("param_count", args=(3, 4))])]


# ------------------------------------------------------------------------------ explicit entries: ch03_bptt
@register("eval_numerical_gradient_array", seed=20260416, atol=1e-7, rtol=1e-5)
def _eval_numerical_gradient_array(rng):
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    rows = [
        ("tanh(x A), x (2, 4)", Fn("lambda v: np.tanh(v @ A)", consts={"A": A}), rng.standard_normal((2, 4)),
         rng.standard_normal((2, 3)), {}),
        ("x sin(x), x (2, 3, 2)", Fn("lambda v: v * np.sin(v)"), rng.standard_normal((2, 3, 2)),
         rng.standard_normal((2, 3, 2)), {}),
        ("[sum(x**2) sum(x)], x (5,)", Fn("lambda v: np.array([np.sum(v ** 2) * np.sum(v)])"),
         rng.standard_normal(5), rng.standard_normal(1), {}),
        ("exp(x), x (1,), h=1e-4", Fn("lambda v: np.exp(v)"), rng.standard_normal(1), np.array([1.5]), {"h": 1e-4}),
        ("(x B)**2 reshaped, x (1, 3)", Fn("lambda v: ((v @ B) ** 2).reshape(3, 1)", consts={"B": B}),
         rng.standard_normal((1, 3)), rng.standard_normal((3, 1)), {"h": 1e-4}),
        ("[x0 * x1] (is x restored?)", Fn("lambda v: np.array([v[0] * v[1]])"), np.array([3.0, 4.0]),
         np.ones(1), {}),
        ("x reversed, a view of x (is f's output copied?)", Fn("lambda v: v[::-1]"), rng.standard_normal(4),
         rng.standard_normal(4), {}),
        ("x**3, h=0.1 (is h used?)", Fn("lambda v: v ** 3"), rng.standard_normal(3), rng.standard_normal(3),
         {"h": 0.1}),
    ]
    return [Case(label, [Step("eval_numerical_gradient_array", args=(f, x, df), kwargs=kw)])
            for label, f, x, df, kw in rows]


_SGD_LOG = """
def update(params, grads):
    log.append({k: np.array(v, dtype=np.float64, copy=True) for k, v in grads.items()})
    for k in params:
        params[k] = params[k] - lr * grads[k]
"""


@register("rnn_tbptt", seed=20260417, solution_for=("rnn_backward", "rnn_step_backward"),
          outputs=("losses", "h_last"))
def _rnn_tbptt(rng):
    cases = []
    for T, N, D, H, V, k, lr in [(1, 1, 2, 3, 2, 1, 0.0), (1, 2, 3, 2, 4, 3, 0.2), (7, 1, 3, 4, 3, 3, 0.3),
                                 (9, 3, 2, 5, 4, 2, 0.5), (6, 2, 4, 3, 5, 6, 0.2), (5, 2, 3, 4, 3, 2, None)]:
        x, y, h0 = rng.standard_normal((T, N, D)), rng.integers(0, V, size=(T, N)), rng.standard_normal((N, H))
        params = {"W_ih": rng.standard_normal((H, D)) / np.sqrt(D),
                  "W_hh": 1.5 * rng.standard_normal((H, H)) / np.sqrt(H),
                  "b_ih": rng.standard_normal(H), "b_hh": rng.standard_normal(H),
                  "W": rng.standard_normal((V, H)), "b": rng.standard_normal(V)}
        label = f"T={T}, N={N}, D={D}, H={H}, V={V}, k={k}" + ("" if lr is None else f", SGD lr={lr}")
        if lr is None:  # no update: the losses and state of one plain forward pass
            steps = [Step("rnn_tbptt", args=(x, y, h0, Ref("params"), k))]
        else:
            update = Fn(_SGD_LOG, name="update", consts={"lr": lr})
            steps = [Step("rnn_tbptt", args=(x, y, h0, Ref("params"), k, update)),
                     Step(None, args=(Ref("update", "log"),), compare=("gradients passed to update",)),
                     Step(None, args=(Ref("params"),), compare=("params after the updates",))]
        cases.append(Case(label, steps, inputs={"params": params}))
    return cases


# ------------------------------------------------------------------------------ explicit entries: ch04_gradients
def _grad_dicts(rng, rows):
    return [({name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}, scale, *rest)
            for shapes, scale, *rest in rows]


@register("clip_by_value", seed=20260418, atol=0.0, rtol=1e-12)
def _clip_by_value(rng):
    rows = [({"w": (1,)}, 3.0, 1.0), ({"W_ih": (4, 3), "W_hh": (4, 4), "b_ih": (4,)}, 4.0, 2.5),
            ({"W": (6, 2), "b": (6,)}, 0.1, 5), ({"x": (2, 3, 4)}, 10.0, 0.5), ({"a": (3,), "b": (2, 2)}, 1.0, 1e-3)]
    return [Case(f"{len(g)} gradients, limit {limit}", [Step("clip_by_value", args=(g, limit))])
            for g, _, limit in _grad_dicts(rng, rows)]


@register("clip_by_global_norm", seed=20260419, atol=0.0, rtol=1e-10)
def _clip_by_global_norm(rng):
    rows = [({"w": (1,)}, 2.0, 0.5, None), ({"W_ih": (4, 3), "W_hh": (4, 4), "b_ih": (4,), "b_hh": (4,)}, 1.0, 1.0,
                                            1e-6),
            ({"W": (5, 2), "b": (5,)}, 0.3, 100.0, 1e-6), ({"W_hh": (3, 3), "b": (3,)}, 1e-6, 2e-7, 1e-6),
            ({"a": (2, 3, 4), "b": (7,)}, 5.0, 3.0, 0.0), ({"W": (6, 6), "v": (6,)}, 1e3, 1.0, 1e-3)]
    cases = []
    for g, scale, max_norm, eps in _grad_dicts(rng, rows):
        kwargs = {} if eps is None else {"eps": eps}
        cases.append(Case(f"{len(g)} gradients, scale {scale:g}, max_norm {max_norm:g}, eps {eps}",
                          [Step("clip_by_global_norm", args=(g, max_norm), kwargs=kwargs)]))
    return cases


@register("jacobian_product_norms", seed=20260420)
def _jacobian_product_norms(rng):
    cases = []
    for T, N, D, H, nl in [(1, 1, 1, 1, "tanh"), (1, 3, 2, 4, "relu"), (5, 1, 3, 3, "tanh"), (6, 4, 2, 5, "tanh"),
                           (7, 2, 3, 4, "relu"), (12, 3, 2, 6, "tanh")]:
        W_ih, W_hh = rng.standard_normal((H, D)), 1.5 * rng.standard_normal((H, H)) / np.sqrt(H)
        b = 0.3 * rng.standard_normal(H)
        x, h = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
        hs = np.empty((T, N, H))
        for t in range(T):  # a real forward pass, so the states are consistent
            a = x[t] @ W_ih.T + h @ W_hh.T + b
            h = np.tanh(a) if nl == "tanh" else np.maximum(a, 0)
            hs[t] = h
        kwargs = {} if nl == "tanh" and T % 2 else {"nonlinearity": nl}
        cases.append(Case(f"T={T}, N={N}, H={H}, {nl}", [Step("jacobian_product_norms", args=(hs, W_hh),
                                                              kwargs=kwargs)]))
    return cases


@register("gradient_regime", seed=20260421, atol=0.0, rtol=1e-9)
def _gradient_regime(rng):
    rows = [(rng.standard_normal((H, H)) / np.sqrt(H), gamma, None, f"random H={H}, gamma={gamma}")
            for H, gamma in [(1, 1.0), (3, 1.0), (5, 0.7), (8, 0.25), (4, 1.0)]]
    q, r_ = np.linalg.qr(rng.standard_normal((6, 6)))
    Q = q * np.sign(np.diag(r_))
    upper = np.triu(rng.standard_normal((4, 4)), 1) * 2 + 0.8 * np.eye(4)  # eigenvalues 0.8, singular values larger
    rows += [(Q, 1.0, None, "orthogonal 6 x 6"), (0.97 * Q, 1.0, 1e-8, "0.97 x orthogonal"),
             ((1 + 1e-10) * Q, 1.0, None, "(1 + 1e-10) x orthogonal, default tol"),
             ((1 + 1e-10) * Q, 1.0, 0.0, "(1 + 1e-10) x orthogonal, tol = 0"),
             (4 * Q, 0.25, 1e-8, "4 x orthogonal, gamma = 1/4"),
             (upper, 1.0, 1e-8, "upper triangular, eigenvalues 0.8"),
             (upper / 5, 1.0, 1e-8, "upper triangular / 5"), (1.3 * Q, None, None, "1.3 x orthogonal, defaults")]
    cases = []
    for W, gamma, tol, label in rows:
        kwargs = {k: v for k, v in (("gamma", gamma), ("tol", tol)) if v is not None}
        cases.append(Case(label, [Step("gradient_regime", args=(W,), kwargs=kwargs)]))
    return cases


# ------------------------------------------------------------------------------ explicit entries: ch06_architectures
def _elman_params(rng, D, H):
    return {"W_ih": rng.standard_normal((H, D)), "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
            "b_ih": rng.standard_normal(H), "b_hh": rng.standard_normal(H)}


def _lengths(rng, T, N):
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T
    if N > 1:
        lengths[-1] = 1
    return lengths


@register("bidirectional_rnn_forward", seed=20260422)
def _bidirectional_rnn_forward(rng):
    cases = []
    for T, N, D, H, nl, use_lengths in [(1, 1, 1, 1, "tanh", True), (1, 3, 2, 4, "tanh", False),
                                        (5, 1, 3, 2, "tanh", True), (7, 4, 3, 5, "tanh", True),
                                        (6, 3, 2, 3, "relu", True), (4, 2, 3, 3, None, False)]:
        x = rng.standard_normal((T, N, D))
        pf, pb = _elman_params(rng, D, H), _elman_params(rng, D, H)
        h0f, h0b = rng.standard_normal((N, H)), rng.standard_normal((N, H))
        args = (x, h0f, h0b, pf, pb) + ((_lengths(rng, T, N),) if use_lengths else ())
        kwargs = {} if nl is None else {"nonlinearity": nl}
        given = "given" if use_lengths else "None"
        cases.append(Case(f"T={T}, N={N}, D={D}, H={H}, {nl or 'default'}, lengths {given}",
                          [Step("bidirectional_rnn_forward", args=args, kwargs=kwargs)]))
    return cases


@register("last_valid_state", seed=20260423)
def _last_valid_state(rng):
    cases = []
    for T, N, H in [(1, 1, 1), (1, 4, 3), (6, 1, 2), (8, 5, 4), (5, 7, 3)]:
        hs, lengths = rng.standard_normal((T, N, H)), _lengths(rng, T, N)
        cases.append(Case(f"T={T}, N={N}, H={H}", [Step("last_valid_state", args=(hs, lengths))]))
    return cases


@register("masked_mean_pool", seed=20260424)
def _masked_mean_pool(rng):
    cases = []
    for T, N, H, as_int in [(1, 1, 1, False), (1, 3, 2, True), (5, 1, 3, False), (7, 4, 2, False), (6, 5, 4, True)]:
        hs, lengths = rng.standard_normal((T, N, H)), _lengths(rng, T, N)
        mask = np.arange(T)[:, None] < lengths
        cases.append(Case(f"T={T}, N={N}, H={H}, {'0/1' if as_int else 'bool'} mask",
                          [Step("masked_mean_pool", args=(hs, mask.astype(int) if as_int else mask))]))
    return cases


_DECODER = """
def step(token, h):
    h = np.tanh(E[token] + h @ W.T)
    z = h @ O.T + b
    z = z - z.max()
    return z - np.log(np.exp(z).sum()), h
"""


def _decoder(rng, V, H, end, end_bias):
    """A random numpy decoder (embedding, tanh RNN step, log-softmax over V tokens; the start token is id V)."""
    E, W, O, b = (rng.standard_normal((V + 1, H)), rng.standard_normal((H, H)), 2 * rng.standard_normal((V, H)),
                  np.zeros(V))
    b[end] = end_bias
    return Fn(_DECODER, consts={"E": E, "W": W, "O": O, "b": b}), rng.standard_normal(H)


@register("greedy_decode", seed=20260425, outputs=("tokens", "logp"))
def _greedy_decode(rng):
    cases = []
    for V, H, end, end_bias, max_len in [(2, 1, 0, 0.0, 1), (3, 2, 1, -1.0, 6), (5, 4, 0, 0.5, 8), (6, 3, 4, -0.5, 12),
                                          (4, 5, 2, 1.5, 10), (7, 4, 0, -3.0, 5)]:
        for trial in range(2):
            step, h0 = _decoder(rng, V, H, end, end_bias)
            cases.append(Case(f"random decoder, V={V}, max_len={max_len}, trial {trial}",
                              [Step("greedy_decode", args=(step, h0, V, max_len, end))]))
    return cases


@register("beam_search", seed=20260426, outputs=("tokens", "score"))
def _beam_search(rng):
    cases = []
    for V, H, end, end_bias, width, max_len, alpha in [
            (2, 2, 0, 0.0, 1, 1, 0.0), (3, 3, 0, -0.5, 2, 5, 0.0), (3, 3, 0, -0.5, 2, 5, 1.0),
            (4, 4, 1, 0.0, 3, 6, 0.6), (5, 3, 0, -1.0, 4, 8, 1.0), (6, 4, 2, 0.5, 2, 7, None),
            (4, 5, 0, -2.0, 5, 9, 0.75), (3, 3, 0, -1.0, 27, 3, 0.5)]:
        for trial in range(2):
            step, h0 = _decoder(rng, V, H, end, end_bias)
            args = (step, h0, V, width, max_len, end) + (() if alpha is None else (alpha,))
            cases.append(Case(f"random decoder, V={V}, beam_width={width}, max_len={max_len}, alpha={alpha}, "
                              f"trial {trial}", [Step("beam_search", args=args)]))
    # Hand-made trees (the state is the prefix read so far): finished hypotheses must leave the beam and be kept.
    for perm in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        def p(q, perm=perm):
            out = [0.0] * 3
            for old, new in enumerate(perm):
                out[new] = q[old]
            return out

        A, B, eos = perm[1], perm[2], perm[0]
        rows = [[[3], p([0.45, 0.4, 0.15])], [[3, A], p([0.05, 0.5, 0.45])], [[3, A, A], p([0.2, 0.4, 0.4])],
                [[3, A, B], p([0.99, 0.005, 0.005])]]
        step = Fn(_TABLE, consts={"rows": rows, "fallback": p([1.0, 1e-9, 1e-9])})
        cases.append(Case(f"finished hypotheses leave the beam, token ids {perm}",
                          [Step("beam_search", args=(step, (), 3, 2, 4, eos, 1.0))]))
        rows = [[[3], p([0.1, 0.5, 0.4])], [[3, A], p([0.3, 0.35, 0.35])], [[3, B], p([0.05, 0.05, 0.9])]]
        step = Fn(_TABLE, consts={"rows": rows, "fallback": p([1.0, 0.0, 0.0])})
        cases.append(Case(f"greedy fails where the beam succeeds, token ids {perm}",
                          [Step("beam_search", args=(step, (), 3, 2, 5, eos, 0.0))]))
    return cases


_TABLE = """
def step(token, prefix):
    prefix = tuple(prefix) + (int(token),)
    table = {tuple(k): v for k, v in rows}
    with np.errstate(divide="ignore"):
        return np.log(np.array(table.get(prefix, fallback), dtype=float)), prefix
"""


# ------------------------------------------------------------------------------ explicit entries: ch07_applications
_TEXTS = ["z", "ba", "To be, or not to be:\nthat is the question.", "aaaa", "Ünïcödé ßtraße – ✓"]
_ALPHABET = list("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-éñß")


def _texts(rng):
    return _TEXTS + ["".join(rng.choice(_ALPHABET, size=n)) for n in (1, 9, 60)]


@register("build_vocab", seed=20260427)
def _build_vocab(rng):
    return [Case(f"text {k} ({len(t)} characters)", [Step("build_vocab", args=(t,))])
            for k, t in enumerate(_texts(rng))]


@register("encode", seed=20260428)
def _encode(rng):
    cases = []
    for k, text in enumerate(_texts(rng)):
        itos = sorted(set(text + "#"))  # a vocabulary with a character the text does not use
        order = rng.permutation(len(itos))  # indices not in sorted order: stoi must be used, not sorting
        stoi = {c: int(i) for c, i in zip(itos, order)}
        cases.append(Case(f"text {k} ({len(text)} characters), shuffled indices", [Step("encode", args=(text, stoi))]))
    cases.append(Case("empty text", [Step("encode", args=("", {"a": 0}))]))
    return cases


@register("decode", seed=20260429)
def _decode(rng):
    cases = []
    for V, T, as_list in [(1, 1, False), (3, 5, True), (7, 20, False), (30, 50, True), (5, 0, False)]:
        itos = [str(c) for c in rng.permutation(_ALPHABET)[:V]]
        ids = rng.integers(0, V, size=T)
        cases.append(Case(f"V={V}, T={T}, ids as {'list' if as_list else 'array'}",
                          [Step("decode", args=(ids.tolist() if as_list else ids, itos))]))
    return cases


@register("sample_with_temperature", seed=20260430)
def _sample_with_temperature(rng):
    cases = []
    for shape, tau, seed, scale in [((1,), 1.0, 0, 3), ((5,), 1.0, 1, 3), ((5,), 0.1, 2, 3), ((7,), 10.0, 3, 3),
                                    ((4, 6), 0.7, 4, 3), ((1, 3), 2.0, 5, 3), ((3, 5), 1e-3, 6, 3), ((6,), 1.5, 7, 3),
                                    ((5,), 1.0, 8, 1000), ((3, 4), 0.5, 9, 1000)]:
        logits = scale * rng.standard_normal(shape)
        steps = [Step("sample_with_temperature", args=(logits, tau, Rng(seed)), save="r1")]
        # two draws from one Generator: exactly one rng.random() per row each time
        rng_case = Rng(seed + 100)
        big = ", large logits" if scale > 100 else ""
        cases.append(Case(f"logits {shape}, temperature {tau}{big}", steps))
        cases.append(Case(f"logits {shape}, temperature {tau}{big}, two draws from one Generator",
                          [Step(None, args=(rng_case,), compare=False, save="g"),
                           Step("sample_with_temperature", args=(logits, tau, Ref("g"))),
                           Step("sample_with_temperature", args=(logits, tau, Ref("g")))]))
    # huge logits, several of which overflow exp unless the maximum is subtracted first (the largest not first)
    for shape, seed in [((6,), 10), ((3, 5), 11)]:
        logits = rng.uniform(0, 300, size=shape)
        logits[..., 0], logits[..., 2] = 700.0, 1000.0
        cases.append(Case(f"logits {shape} up to 1000, two of them overflowing exp",
                          [Step("sample_with_temperature", args=(logits, 0.9, Rng(seed)))]))
    return cases


@register("make_windows", seed=20260431)
def _make_windows(rng):
    cases = []
    for L, window, horizon in [(2, 1, 1), (10, 3, 2), (25, 8, 1), (12, 11, 1), (40, 5, 7)]:
        series = rng.standard_normal(L)
        cases.append(Case(f"L={L}, window={window}, horizon={horizon}", [Step("make_windows",
                                                                               args=(series, window, horizon))]))
    return cases


def _split_windows(series, split, window, horizon):
    def cut(part):
        N = len(part) - window - horizon + 1
        X = np.array([part[n: n + window] for n in range(N)]).T[..., None]
        Y = np.array([part[n + window: n + window + horizon] for n in range(N)])
        return X, Y

    return cut(series[:split]) + cut(series[split - window:])


def _check_forecasts(case, values):
    """The forecasts beat 0.75 x the better baseline (persistence, training mean) and repeat for the same seed."""
    Y_te, base = case.expect["Y_te"], case.expect["baseline"]
    first, again = values
    for got in (first, again):
        if type(got) is not np.ndarray or got.shape != Y_te.shape or got.dtype.kind not in "iuf":
            return [f"`Y_pred` must be a float array of shape {Y_te.shape}"]
        if not np.all(np.isfinite(got)):
            return ["`Y_pred` contains NaN or inf"]
    mse = float(np.mean((first - Y_te) ** 2))
    if not mse < 0.75 * base:
        return [f"the forecasts do not beat 0.75 x the better baseline (test MSE {mse:.4g}, baseline {base:.4g})"]
    if not np.array_equal(first, again):
        return ["two runs with the same seed give different forecasts"]
    return []


@register("train_forecaster", seed=20260432, check=_check_forecasts, slow=True)
def _train_forecaster(rng):
    from rnncore.realdata import load_sunspots

    years, spots = load_sunspots()
    split = int(np.searchsorted(years, 1921))
    t = np.arange(280)
    far = 3000 + 60 * np.sin(2 * np.pi * t / 17) + 6 * rng.standard_normal(280)
    cases = []
    for k, (series, sp, window, horizon, seed) in enumerate([(spots, split, 15, 2, 4), (far, 220, 20, 3, 5)]):
        X_tr, Y_tr, X_te, Y_te = _split_windows(series, sp, window, horizon)
        base = min(np.mean((X_te[-1, :, 0][:, None] - Y_te) ** 2), np.mean((Y_tr.mean() - Y_te) ** 2))
        steps = [Step("train_forecaster", args=(X_tr, Y_tr, X_te, seed), save="first")]
        # the first case trains twice with the same seed (the forecasts must repeat); the other reuses one run
        steps.append(Step("train_forecaster", args=(X_tr, Y_tr, X_te, seed)) if k == 0 else
                     Step(None, args=(Ref("first"),)))
        cases.append(Case(f"{'sunspots' if k == 0 else 'a series around 3000'}, window {window}, horizon {horizon}",
                          steps, expect={"Y_te": Y_te, "baseline": float(base)}))
    return cases
