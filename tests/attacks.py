"""Adversarial submissions, built from any assignment's source notebook and blank release (new assignments too).

Each attack returns a notebook and the graded functions whose points it still deserves: attacks on the blank
release deserve nothing; attacks on the honest solution that sabotage one function deserve every other one.
Used by tests/test_adversarial.py.
"""

import ast
import copy
import json
import textwrap

from nbformat.v4 import new_code_cell


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answer_cells(nb):
    """The answer cells (nbgrader solution cells) of a notebook, in order."""
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def graded(source):
    """Graded functions of a source notebook: answer ids that have test cells."""
    tests = {_gid(c) for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    return [_gid(c) for c in answer_cells(source) if f"test_{_gid(c)}_hidden" in tests or f"test_{_gid(c)}_visible"
            in tests]


def _def(cell):
    tree = ast.parse(cell.source)
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == _gid(cell))


def with_body(cell, body):
    """A copy of the answer `cell` whose function keeps its def line and docstring but runs `body` instead."""
    node = _def(cell)
    lines = cell.source.splitlines()
    header = lines[: node.body[0].end_lineno] if isinstance(node.body[0], ast.Expr) else lines[: node.lineno]
    new = copy.deepcopy(cell)
    new.source = "\n".join(header) + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    return new


def forward_call(cell, target):
    """`target(a, b, c=c)`: a call passing the answer function's own parameters on to `target`."""
    args = _def(cell).args
    pos = [a.arg for a in args.posonlyargs + args.args]
    kw = [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    return f"{target}({', '.join(pos + kw)})"


def _replace_answers(nb, make_body):
    for i, cell in enumerate(nb.cells):
        if cell in answer_cells(nb):
            nb.cells[i] = with_body(cell, make_body(cell))
    return nb


def _insert_after_setup(nb, code):
    at = next((i + 1 for i, c in enumerate(nb.cells) if _gid(c) == "setup"), 1)
    nb.cells.insert(at, new_code_cell(code))
    return nb


MONKEYPATCH = """
import numpy as np
import numpy.testing
from rnncore import grading

class _Anything(tuple):
    def __new__(cls, *a):
        return super().__new__(cls, [np.zeros(1)] * 8)
    def __eq__(self, other):
        return True
np.testing.assert_allclose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.array_equal = lambda *a, **k: True
for _name in ("check_close", "check_output", "check_shape", "check_finite", "check_unchanged"):
    setattr(grading, _name, lambda *a, **k: None)
grading.as_array = lambda f, w, v, **k: np.zeros(1)
grading.unpack = lambda f, result, names: tuple(np.zeros(1) for _ in names)
def _run(name, fn, *a, **k):
    try:
        return fn(*a, **k)
    except BaseException:
        return _Anything()
grading.run_student = _run
"""

TRANSFORMER = """
def _skip_tests(lines):
    text = "".join(lines)
    return ["pass\\n"] if ("grading." in text or "checks" in text) else lines
get_ipython().input_transformers_post.append(_skip_tests)
"""

READ_SOLUTIONS = """
import glob as _glob, json as _json, os as _os
_roots = [_os.getcwd()] + [_os.path.abspath(_os.path.join(_os.getcwd(), *[".."] * k)) for k in range(1, 4)]
_roots += {extra!r}
_found = [p for r in _roots for depth in range(3) for p in _glob.glob(_os.path.join(r, *["*"] * depth, "*.ipynb"))]
for _path in _found[:500]:
    try:
        _cells = _json.load(open(_path))["cells"]
    except Exception:
        continue
    for _c in _cells:
        _src = "".join(_c["source"]) if isinstance(_c["source"], list) else _c["source"]
        if "BEGIN SOLUTION" in _src and "def {name}(" in _src and "_found" not in _src:  # not this very code
            _ns = dict(globals())
            exec(_src, _ns)
            return _ns["{name}"]({args})
raise NotImplementedError("no solution found on disk")
"""

GRADEBOOK_VANDAL = """
import glob, os, sqlite3
for root in [os.getcwd(), *[os.path.abspath(os.path.join(os.getcwd(), *[".."] * k)) for k in range(1, 4)], *{extra!r}]:
    for path in [p for depth in range(3) for p in glob.glob(os.path.join(root, *["*"] * depth, "*.db"))][:50]:
        try:
            con = sqlite3.connect(path)
            con.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
            con.commit()
            con.close()
            print("vandalised", path)
        except Exception as exc:
            print("could not vandalise", path, exc)
"""


def build(name, source, release, extra_paths=()):
    """(notebook, set of functions it deserves) for attack `name` on one assignment."""
    src, rel = copy.deepcopy(source), copy.deepcopy(release)
    funcs = graded(source)
    first = funcs[0]
    everything = set(funcs)
    if name == "monkeypatch":  # (a)
        return _insert_after_setup(rel, MONKEYPATCH), set()
    if name == "transformer":  # (b)
        return _insert_after_setup(rel, TRANSFORMER), set()
    if name == "reference":  # (c)
        return _replace_answers(rel, lambda c: "import rnncore\nreturn " + forward_call(c, f"rnncore.{_gid(c)}")), set()
    if name == "unlock":  # (c) again, switching rnncore's lock off first
        body = ("import rnncore, rnncore._lock as _L\n_L._state['depth'] = -10 ** 9\n"
                "return {call}")
        return _replace_answers(rel, lambda c: body.format(call=forward_call(c, f"rnncore.{_gid(c)}"))), set()
    if name == "loop_forever":  # (d) a top-level infinite loop
        return _insert_after_setup(rel, "while True:\n    pass"), set()
    if name == "loop_catching_interrupt":  # (d) inside a function, swallowing the interrupt
        body = ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n"
                "        pass")
        return _sabotage(src, first, body), everything - {first}
    if name == "memory":  # (e)
        body = "import numpy as np\nhog = [np.ones(2 ** 25) for _ in range(4000)]\nreturn hog"
        return _sabotage(src, first, body), everything - {first}
    if name == "exit_cell":  # (f) the kernel dies after every answer ran
        src.cells.append(new_code_cell("import os\nos._exit(0)"))
        return src, everything
    if name == "sys_exit_in_function":  # (f)
        return _sabotage(src, first, "import sys\nsys.exit(0)"), everything - {first}
    if name == "kill_parent":  # (f) kill the process that runs the kernel
        src.cells.append(new_code_cell("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"))
        return src, everything
    if name == "tests_deleted":  # (g)
        rel.cells = [c for c in rel.cells if not c.metadata.get("nbgrader", {}).get("grade")]
        return rel, set()
    if name == "tests_edited":  # (g) sources and metadata changed
        for c in rel.cells:
            meta = c.metadata.get("nbgrader", {})
            if meta.get("grade"):
                c.source = "print('all good')"
                meta.update(points=100, locked=False)
        return rel, set()
    if name == "tests_duplicated":  # (g)
        cells = []
        for c in rel.cells:
            cells.append(c)
            if c.metadata.get("nbgrader", {}).get("grade"):
                cells.append(copy.deepcopy(c))
        rel.cells = cells
        return rel, set()
    if name == "answer_forged_before":  # (g) a correct copy of each answer, same metadata, before the blank one
        cells = []
        for c in rel.cells:
            if c in answer_cells(rel):
                cells.append(copy.deepcopy(next(s for s in answer_cells(source) if _gid(s) == _gid(c))))
            cells.append(c)
        rel.cells = cells
        return rel, set()
    if name == "solution_in_added_cell":  # code outside the answer cells is not graded by the verifier
        cells = []
        for c in rel.cells:
            cells.append(c)
            if c in answer_cells(rel):
                good = next(s for s in answer_cells(source) if _gid(s) == _gid(c))
                cells.append(new_code_cell(good.source))
        rel.cells = cells
        return rel, set()
    if name == "fake_success":  # (h)
        rel = _replace_answers(rel, lambda c: f"print('{_gid(c)}: visible checks passed')\nreturn None")
        rel.cells.append(new_code_cell("print('All tests passed! 100%')"))
        return rel, set()
    if name == "read_solutions":  # (i)
        return _replace_answers(rel, lambda c: READ_SOLUTIONS.format(
            extra=[str(p) for p in extra_paths], name=_gid(c), args=forward_call(c, "")[1:-1])), set()
    if name == "gradebook_vandal":  # touches every gradebook it can reach
        return _insert_after_setup(rel, GRADEBOOK_VANDAL.format(extra=[str(p) for p in extra_paths])), set()
    raise KeyError(name)


def _sabotage(src, function, body):
    for i, cell in enumerate(src.cells):
        if cell in answer_cells(src) and _gid(cell) == function:
            src.cells[i] = with_body(cell, body)
    return src


ALL = ["monkeypatch", "transformer", "reference", "unlock", "loop_forever", "loop_catching_interrupt", "memory",
       "exit_cell", "sys_exit_in_function", "kill_parent", "tests_deleted", "tests_edited", "tests_duplicated",
       "answer_forged_before", "solution_in_added_cell", "fake_success", "read_solutions", "gradebook_vandal"]
# A representative set for every other assignment: the attacks that depend on the assignment's own code (its
# checks, its test cells, its graded functions and their signatures).
REPRESENTATIVE = ["monkeypatch", "transformer", "unlock"]


def write(nb, path):
    """Write a notebook as plain JSON (no validation: attacks break the metadata on purpose)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
