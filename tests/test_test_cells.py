"""Every test cell of every source notebook follows the rules that keep in-kernel grading hard to game.

nbgrader runs the tests in the student's own kernel (see the instructor guide), so each test cell must:
end with a statement (a final bare expression is read as a partial-credit score), call students' functions only
through `grading.run_student` (inputs copied, warnings silenced, the reference locked), coerce what they return
(`grading.as_array`, an exact `type(...)` check, or a checking helper of the notebook's locked cells), never use
rnncore's reference (its data sets and grading helpers are fine), and in hidden tests never print or reveal
expected values; a hidden test cell is one hidden region under comment lines, and every graded function has a
visible and a hidden test cell. Every test cell starts (a hidden one: its hidden region starts) with the guard
`from rnncore.grading import ready; ready(globals(), "<function>", ...)`, which names the graded function first, so
that a cell run before the set-up cell or before the student's cell says what to run first.
"""

import ast
import re

import nbformat
import pytest
from course import ROOT, assignments

from rnngrade import notebook

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def _data(name):
    """rnncore names a test cell may use: the grading helpers, the golden values and the data sets (never a reference
    function)."""
    import rnncore.datasets

    return name in ("grading", "ready", "goldens") or name.startswith("load_") or name in vars(rnncore.datasets)


GUARD = re.compile(r'from rnncore\.grading import ready; ready\(globals\(\), "(?P<first>\w+)"(?:, "\w+")*\)\n')


def guard_problems(code, function, hidden_cell):
    """Whether the cell (its hidden region, for a hidden cell) starts with the guard that names `function` first."""
    body = HIDDEN.findall(code)[0] if hidden_cell and HIDDEN.findall(code) else code
    match = GUARD.match(body)
    if not match:
        return ["does not start with the guard `from rnncore.grading import ready; ready(globals(), ...)`"]
    if match["first"] != function:
        return [f"its guard names `{match['first']}` first, not the graded `{function}`"]
    return []


def problems(code, functions, helpers, hidden_cell):
    """The rules a test cell's `code` breaks (list of str); `functions` are the graded ones, `helpers` locked ones."""
    out = []
    tree = ast.parse(code)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and not (isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name)
                                           and last.value.func.id == "print"):
        out.append("ends with a bare expression (nbgrader would read its value as a score)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            out.append(f"calls the student's `{node.func.id}` directly, not through grading.run_student")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "rnncore" \
                and not _data(node.attr):
            out.append(f"uses rnncore.{node.attr} (the reference must never run in the student's kernel)")
        if isinstance(node, ast.Import) and any(a.name.startswith("rnncore.") for a in node.names) or isinstance(
                node, ast.ImportFrom) and (node.module or "").startswith("rnncore") and not all(
                _data(a.name) for a in node.names):
            out.append("imports from rnncore")
    if hidden_cell:
        regions = HIDDEN.findall(code)
        if len(regions) != 1:
            out.append(f"has {len(regions)} hidden regions; expected exactly 1")
        outside = HIDDEN.sub("", code)
        if any(line.strip() and not line.strip().startswith("#") for line in outside.splitlines()):
            out.append("has code outside its hidden region")
        body = "\n".join(regions)
        if re.search(r"\bprint\(|\bdisplay\(|reveal\s*=\s*True", body):
            out.append("prints or reveals values in a hidden test")
        if "run_student" in body:
            coerced = "as_array(" in body or re.search(r"\btype\(", body) or any(
                re.search(rf"\b{h}\(", body) for h in helpers)
            if not coerced:
                out.append("does not coerce what the student's function returns (as_array, type(...) or a helper)")
    return out


def _cells(name):
    nb = nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), as_version=4)
    src = notebook.read_source(ROOT / "solutions" / name / f"{name}.ipynb")
    helpers = set()
    for cell in src.cells:
        if cell.kind == "trusted":
            helpers |= {n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)}
    tests = [(c.metadata["nbgrader"]["grade_id"], c.source) for c in nb.cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    return src, helpers, tests


CELLS = [(name, gid) for name in assignments() for gid, _ in _cells(name)[2]]


@pytest.mark.parametrize("name,grade_id", CELLS, ids=[f"{n}-{g}" for n, g in CELLS])
def test_test_cell_follows_the_rules(name, grade_id):
    src, helpers, tests = _cells(name)
    code = dict(tests)[grade_id]
    found = problems(code, set(src.functions), helpers, grade_id.endswith("_hidden"))
    function = re.match(r"test_(.+)_(?:visible|hidden)$", grade_id)[1]
    found += guard_problems(code, function, grade_id.endswith("_hidden"))
    assert not found, f"{name}/{grade_id}: " + "; ".join(found)


@pytest.mark.parametrize("name", assignments())
def test_every_graded_function_has_a_visible_and_a_hidden_test_cell(name):
    src, _, tests = _cells(name)
    ids = {gid for gid, _ in tests}
    for function in src.solutions:
        assert {f"test_{function}_visible", f"test_{function}_hidden"} <= ids, function


@pytest.mark.parametrize("code,rule", [
    ("out = grading.run_student(f, g, 1)\nout", "bare expression"),
    ("got = rnn_forward(x)\nprint('ok')", "directly"),
    ("import rnncore\nexpected = rnncore.rnn_forward(x)", "rnncore.rnn_forward"),
    ("from rnncore import rnn_forward", "imports from rnncore"),
    ("# hidden\n### BEGIN HIDDEN TESTS\nprint(expected)\n### END HIDDEN TESTS", "prints or reveals"),
    ("# hidden\n### BEGIN HIDDEN TESTS\nx = grading.run_student(f, rnn_forward, 1)\n### END HIDDEN TESTS", "coerce"),
    ("x = 1\n### BEGIN HIDDEN TESTS\ny = 2\n### END HIDDEN TESTS", "outside its hidden region"),
])
def test_the_rules_catch_what_they_should(code, rule):
    assert any(rule in p for p in problems(code, {"rnn_forward"}, set(), "HIDDEN" in code)), problems(
        code, {"rnn_forward"}, set(), True)


@pytest.mark.parametrize("code,hidden,rule", [
    ("f = 'rnn_forward'\nprint('ok')", False, "does not start with the guard"),
    ("# checks\nfrom rnncore.grading import ready; ready(globals(), 'rnn_forward')\n", False, "does not start"),
    ('from rnncore.grading import ready; ready(globals(), "rnn_step_forward")\nx = 1\n', False, "names `rnn_step"),
    ("# hidden\n### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS", True, "does not start with the guard"),
])
def test_the_guard_rule_catches_a_missing_or_wrong_guard(code, hidden, rule):
    assert any(rule in p for p in guard_problems(code, "rnn_forward", hidden)), guard_problems(code, "rnn_forward",
                                                                                                 hidden)


def test_the_guard_rule_passes_a_guarded_cell():
    guard = 'from rnncore.grading import ready; ready(globals(), "rnn_forward", "rnn_step_forward")\n'
    assert guard_problems(guard + "x = 1\n", "rnn_forward", False) == []
    assert guard_problems(f"# hidden\n### BEGIN HIDDEN TESTS\n{guard}x = 1\n### END HIDDEN TESTS", "rnn_forward",
                          True) == []
    assert problems(guard + "print(1)", {"rnn_forward"}, set(), False) == []
