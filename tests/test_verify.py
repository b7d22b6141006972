"""The verifier (rnngrade.grade): cases for every graded function, full marks for every solution, nothing
for the blank release, every known wrong implementation caught, a sandbox that contains what it runs, and an
integrity scan that flags what it should.
"""

import ast
import concurrent.futures
import copy
import importlib.util
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from course import ROOT, assignments, cell_by_id

from rnngrade import notebook
from rnngrade.assign import cases
from rnngrade.grade import _wire, isolate, sandbox, stubs, verify
from rnngrade.integrity import scan as integrity

FAST = sandbox.Limits(step_timeout=4, cpu_seconds=10, memory_mb=1024, submission_timeout=60)


def _source(name):
    return notebook.read_source(ROOT / "solutions" / name / f"{name}.ipynb")


def _nb(name):
    return nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), as_version=4)


def _wrong():
    out = []
    for path in sorted((Path(__file__).parent / "wrong_implementations").glob("*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out += [(path.stem, student, cell, edits, function) for student, cell, edits, function, *_ in module.WRONG]
    return out


WRONG = _wrong()


@pytest.fixture(scope="module")
def verified():
    """Verify every solution, every blank release and every wrong implementation (in parallel sandboxes)."""
    jobs = {}
    for name in assignments():
        jobs[(name, "honest")] = json.loads(nbformat.writes(_nb(name)))
        jobs[(name, "blank")] = ROOT / "exercises" / name / f"{name}.ipynb"
    for name, student, cell_id, edits, _ in WRONG:
        nb = copy.deepcopy(_nb(name))
        cell = cell_by_id(nb, cell_id)
        for old, new in edits:
            cell.source = cell.source.replace(old, new)
        jobs[(name, student)] = json.loads(nbformat.writes(nb))
    targets = {(name, student): function for name, student, _, _, function in WRONG}

    def only(key):  # a slow function (training a model) is verified only for the mistakes that concern it
        if key not in targets:
            return None
        return [f for f in _source(key[0]).functions if not cases.spec_for(f).slow or f == targets[key]]

    # Correctness of the cases, not isolation (tested below and in test_adversarial.py): no namespaces, faster.
    limits = sandbox.Limits(isolation="none")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {key: pool.submit(verify.verify, _source(key[0]), sub, limits, only=only(key))
                   for key, sub in jobs.items()}
        return {key: fut.result() for key, fut in futures.items()}


# ----------------------------------------------------------------------------------------- the source notebooks
@pytest.mark.parametrize("name", assignments())
def test_every_test_cell_maps_to_a_graded_function(name):
    src = _source(name)
    assert not src.unmapped_tests, f"test cells not named test_<function>_(visible|hidden): {src.unmapped_tests}"
    assert set(src.functions) == set(src.solutions), "an answer cell has no test cells"
    assert all(p > 0 for p in src.points.values())


@pytest.mark.parametrize("name", assignments())
def test_every_graded_function_has_cases_the_reference_accepts(name):
    for function in _source(name).functions:
        spec, wired, _, expected, _ = verify.plan_for(function)
        labels = [w["label"] for w in wired]
        assert len(wired) >= (2 if spec.slow else 4), f"{function}: only {len(wired)} cases"
        assert len(set(labels)) == len(labels), f"{function}: two cases share a label: {labels}"
        assert all(expected), f"{function}: a case compares nothing"


def test_cases_are_the_same_every_time():
    for function in ["rnn_forward", "softmax_cross_entropy", "rnn_tbptt", "lstm_step_backward"]:
        a, b = cases.spec_for(function).cases(), cases.spec_for(function).cases()
        blobs_a, blobs_b = [], []
        assert [verify.wire_case(c, blobs_a) for c in a] == [verify.wire_case(c, blobs_b) for c in b]
        assert blobs_a == blobs_b


def test_generic_cases_need_an_entry_for_unknown_parameters():
    with pytest.raises(cases.NoCases, match="cannot fill the parameter `hx`"):
        cases.spec_for("stacked_forward")
    with pytest.raises(cases.NoCases, match="rnncore has no function `no_such_function`"):
        cases.spec_for("no_such_function")


@pytest.mark.parametrize("name", assignments())
def test_the_stand_in_rnncore_holds_no_graded_code(name):
    src = _source(name)
    sources = stubs.stub_sources(tuple(sorted(set(src.functions) | set(src.solutions))))
    defined = set()
    for code in sources.values():
        for node in ast.parse(code).body:
            for inner in (node.body if isinstance(node, ast.Try) else [node]):
                if isinstance(inner, ast.FunctionDef):
                    defined.add(inner.name)
    assert not defined & set(src.functions), f"the sandbox's rnncore still defines {defined & set(src.functions)}"
    assert {"sigmoid", "rel_error", "check_close"} <= defined


# ----------------------------------------------------------------------------------------- grades
@pytest.mark.parametrize("name", assignments())
def test_solution_verifies_full_marks(verified, name):
    result = verified[(name, "honest")]
    bad = [(f.function, f.status, f.message) for f in result.functions if f.status != "ok"]
    assert not bad and result.verified == result.max_score == _source(name).max_score, bad


@pytest.mark.parametrize("name", assignments())
def test_blank_release_verifies_zero(verified, name):
    result = verified[(name, "blank")]
    assert result.verified == 0, [(f.function, f.verified) for f in result.functions]
    assert all("NotImplementedError" in f.message for f in result.functions)


@pytest.mark.parametrize("name,student,cell,edits,function", WRONG, ids=[w[1] for w in WRONG])
def test_wrong_implementation_loses_exactly_its_functions_verified_points(verified, name, student, cell, edits,
                                                                          function):
    for f in verified[(name, student)].functions:
        if f.function == function:
            assert f.verified == 0, f"{student} keeps the verified points of {function}"
        else:
            assert f.verified == f.points, f"{student} loses {f.function}: {f.status} {f.message}"


# ----------------------------------------------------------------------------------------- comparisons
def _describe(value):
    blobs = []
    return _wire.describe(value, blobs), blobs


@pytest.mark.parametrize("ref,got,problem", [
    (np.ones((2, 3)), np.ones((2, 3)), None),
    (np.ones((2, 3)), np.ones((3, 2)), "has shape (3, 2); expected (2, 3)"),
    (np.ones((2, 3)), np.ones((2, 3)).tolist(), "must be a numpy array (np.ndarray), got list"),
    (np.ones(3), np.ma.masked_array(np.ones(3)), "must be a numpy array (np.ndarray), got numpy.ma.MaskedArray"),
    (np.ones(3), np.array([1.0, np.nan, 1.0]), "contains NaN or inf"),
    (np.ones(3), np.array([1.0, 1.0 + 1e-5, 1.0]), "differs in 1 of 3 entries"),
    (5, 5, None),
    (5, np.int64(5), None),
    (5, 5.0, "must be an int, got float"),
    (0.5, np.float32(0.5), None),
    (0.5, np.array(0.5), None),
    (0.5, True, "must be a number, got bool"),
    ("bounded", "bounded", None),
    ("bounded", "vanishing", "is wrong"),
    ({"a": np.ones(2)}, {"a": np.ones(2), "b": np.ones(2)}, "has keys ['a', 'b']; expected ['a']"),
    ([np.ones(2)], [np.ones(2)], None),
    ([np.ones(2)], (np.ones(2),), "must be a list, got tuple"),
    ([3, 1], np.array([3, 1]), None),
    ([3, 1], [3, True], "must be a list of ints"),
])
def test_compare_value_checks_type_shape_and_value(ref, got, problem):
    node, blobs = _describe(got)
    problems = verify.compare_value(ref, node, blobs, "out", 1e-8, 1e-6)
    if problem is None:
        assert problems == []
    else:
        assert problems and problem in problems[0], problems


def test_an_int_must_be_a_python_int_where_the_notebook_says_so():
    node, blobs = _describe(np.int64(5))
    assert verify.compare_value(5, node, blobs, "count", 0, 0, exact_int=True) == [
        "`count` must be an int, got numpy.int64"]
    assert cases.spec_for("param_count").exact_int and not cases.spec_for("sample_with_temperature").exact_int


def test_a_returned_tuple_must_have_the_reference_length():
    spec = cases.spec_for("rnn_step_forward")
    ref = (np.ones((1, 2)), ("a cache",))
    node, blobs = _describe((np.ones((1, 2)),))
    step = {"call": "rnn_step_forward", "_compare": True}
    assert verify.compare_step(spec, step, ref, node, blobs) == [
        "`rnn_step_forward` must return a tuple of 2 values; it returned 1"]


def test_nothing_from_a_sandbox_is_ever_unpickled():
    node, blobs = _describe(np.array([object()], dtype=object))
    assert node["t"] == "other" and blobs == []
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        _wire.npy_load(buf.getvalue())


# ----------------------------------------------------------------------------------------- the sandbox
def _attempt(body_by_function, extra_cells=()):
    nb = _nb("ch02_forward")
    for function, body in body_by_function.items():
        cell = cell_by_id(nb, function)
        head, _, _ = cell.source.partition("### BEGIN SOLUTION")
        cell.source = head + "### BEGIN SOLUTION\n" + "\n".join("    " + line for line in body.splitlines()) + "\n"
    for at, code in extra_cells:
        nb.cells.insert(at, nbformat.v4.new_code_cell(code))
    return json.loads(nbformat.writes(nb))


def test_a_hanging_cell_or_function_costs_only_itself():
    src = _source("ch02_forward")
    sub = _attempt({"rnn_forward": "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass"})
    cell = cell_by_id(sub_nb := nbformat.from_dict(sub), "affine_forward")
    cell.source += "\nwhile True:\n    pass\n"
    result = verify.verify(src, json.loads(nbformat.writes(sub_nb)), FAST)
    got = {f.function: (f.verified, f.status) for f in result.functions}
    assert got["rnn_forward"] == (0, "failed") and got["affine_forward"][0] == 0, got
    others = [f.verified for f in result.functions if f.function not in ("rnn_forward", "affine_forward")]
    assert others == [3, 3, 2, 3], others  # rnn_step_forward, softmax_cross_entropy, param_count, jordan_forward
    assert any("timed out" in n for n in result.notes), result.notes


def test_exits_and_memory_hogs_cost_only_themselves():
    src = _source("ch02_forward")
    sub = _attempt({"rnn_step_forward": "import os\nos._exit(3)",
                    "param_count": "import numpy as np\nx = [np.ones(2 ** 25) for _ in range(100)]\nreturn 0"},
                   extra_cells=[(3, "import sys\nsys.exit(1)")])
    result = verify.verify(src, sub, FAST)
    got = {f.function: f.verified for f in result.functions}
    assert got == {"rnn_step_forward": 0, "rnn_forward": 3, "affine_forward": 2, "softmax_cross_entropy": 3,
                   "param_count": 0, "jordan_forward": 3}, [(f.function, f.message) for f in result.functions]


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_the_sandbox_refuses_files_network_processes_and_the_reference(isolation):
    src = _source("ch02_forward")
    notebook_path = ROOT / "solutions" / "ch02_forward" / "ch02_forward.ipynb"
    sub = _attempt({
        "rnn_step_forward": f"return open({str(notebook_path)!r}).read()",
        "rnn_forward": "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)",
        "affine_forward": "import os\nos.system('true')\nreturn h @ W.T + b, None",
        "softmax_cross_entropy": "import rnncore\nreturn rnncore.softmax_cross_entropy(logits, y, mask)",
        "param_count": "import numpy\nnumpy._core._internal.ctypes.CDLL(None).getpid()",
    })
    result = verify.verify(src, sub, sandbox.Limits(step_timeout=10, isolation=isolation))
    messages = {f.function: f.message for f in result.functions}
    attacked = [f for f in result.functions if f.function != "jordan_forward"]  # the one function left honest
    assert sum(f.verified for f in attacked) == 0, messages
    assert "PermissionError" in messages["rnn_step_forward"] or "FileNotFoundError" in messages["rnn_step_forward"]
    assert "not allowed" in messages["rnn_forward"] or "unreachable" in messages["rnn_forward"]
    assert "os.system is not allowed" in messages["affine_forward"]
    assert "ReferenceLockedError" in messages["softmax_cross_entropy"]
    assert "ctypes" in messages["param_count"]


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_the_sandbox_cannot_read_or_import_the_graded_tasks_references(isolation, monkeypatch):
    """rnngrade (the tasks' references) stays out of reach even where it sits on a path the sandbox may read."""
    original = sandbox.child_sys_path
    # as if rnngrade were installed into the site-packages that hold numpy (a non-editable install)
    monkeypatch.setattr(sandbox, "child_sys_path", lambda: [*original(), str(ROOT)])
    tasks_file = ROOT / "rnngrade" / "assign" / "tasks" / "ch02_forward.py"
    sub = _attempt({
        "jordan_forward": f"return open({str(tasks_file)!r}).read()",
        "rnn_step_forward": "from rnngrade.assign.tasks import ch02_forward\nreturn ch02_forward.__file__",
    })
    result = verify.verify(_source("ch02_forward"), sub, sandbox.Limits(step_timeout=10, isolation=isolation),
                           only=["jordan_forward", "rnn_step_forward"])
    messages = {f.function: f.message for f in result.functions}
    assert {f.function: f.verified for f in result.functions} == {"jordan_forward": 0, "rnn_step_forward": 0}
    assert "PermissionError" in messages["jordan_forward"] or "FileNotFoundError" in messages["jordan_forward"], (
        messages)
    assert "PermissionError" in messages["rnn_step_forward"] or "ModuleNotFoundError" in messages["rnn_step_forward"], (
        messages)


def test_an_answer_that_floods_the_parent_is_cut_off():
    src = _source("ch02_forward")
    sub = _attempt({"affine_forward": "import numpy as np\nreturn np.ones((2000, 2000)), None"})
    result = verify.verify(src, sub, sandbox.Limits(step_timeout=10, output_mb=16))
    got = {f.function: f.verified for f in result.functions}
    assert got["affine_forward"] == 0 and sum(got.values()) == 14, [(f.function, f.message) for f in result.functions]


def test_garbage_written_to_the_result_channel_costs_only_its_writer():
    src = _source("ch02_forward")
    junk = ("import os\nfor fd in range(3, 40):\n    try:\n        os.write(fd, b'{\"e\": \"result\", \"n\": -5}\\n')\n"
            "    except OSError:\n        pass\nreturn np.tanh(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh), None")
    result = verify.verify(src, _attempt({"rnn_step_forward": junk}), FAST)
    got = {f.function: f.verified for f in result.functions}
    assert got["rnn_step_forward"] == 0 and sum(got.values()) == 13, [(f.function, f.message) for f in result.functions]


def test_an_isolated_sandbox_sees_no_course_folder_and_cannot_write_outside_its_tmpfs(tmp_path):
    if isolate.probe()["mode"] != "namespaces":
        pytest.skip(f"no namespaces here: {isolate.probe()['why']}")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    code = f"""
import os
seen = os.path.exists({str(secret / 'answers.txt')!r})
try:
    open({str(tmp_path / 'planted.txt')!r}, 'w')
    wrote = True
except OSError:
    wrote = False
open('scratch.txt', 'w').write('ok')
"""
    run = sandbox.run([{"i": 0, "id": "probe", "kind": "trusted", "code": code},
                       {"i": 1, "id": "report", "kind": "trusted",
                        "code": "assert not seen and not wrote, (seen, wrote)"}], [], [], stubs.stub_sources(),
                      sandbox.Limits(isolation="namespaces"), hide=[secret])
    assert run.isolation == "namespaces" and run.cell_errors == {}, run.cell_errors
    assert not (tmp_path / "planted.txt").exists()


def test_limits_name_the_bad_argument():
    with pytest.raises(ValueError, match="`step_timeout` must be a positive number, got 0"):
        sandbox.Limits(step_timeout=0)
    with pytest.raises(ValueError, match="`isolation` must be 'auto', 'namespaces' or 'none', got 'docker'"):
        sandbox.Limits(isolation="docker")


# ----------------------------------------------------------------------------------------- the integrity scan
@pytest.mark.parametrize("code,expected", [
    ("get_ipython().input_transformers_post.append(f)", {"get_ipython", "ipython-hook"}),
    ("get_ipython().events.register('pre_run_cell', f)", {"get_ipython", "ipython-hook"}),
    ("ip = get_ipython()\nip.ast_transformers.append(t)", {"get_ipython", "ipython-hook"}),
    ("import sys\nsys.modules['numpy'].isclose = f", {"introspection", "monkeypatch"}),
    ("import importlib\nimportlib.reload(np)", {"introspection"}),
    ("import builtins\nbuiltins.print = f", {"introspection", "monkeypatch"}),
    ("m = __import__('os')", {"introspection"}),
    ("np.testing.assert_allclose = lambda *a, **k: None", {"monkeypatch"}),
    ("setattr(np, 'allclose', f)", {"monkeypatch", "introspection"}),
    ("import torch\ntorch.allclose = f", {"import", "monkeypatch"}),
    ("from rnncore import grading\ngrading.check_close = f", {"rnncore", "monkeypatch"}),
    ("text = open('ch02_forward.ipynb').read()", {"file"}),
    ("import pathlib\npathlib.Path('.').glob('*')", {"file"}),
    ("import subprocess\nsubprocess.run(['ls'])", {"process-network"}),
    ("import os\nos._exit(0)", {"file", "exit"}),
    ("import sys\nsys.exit()", {"introspection", "exit"}),
    ("%xmode Verbose", {"magic", "get_ipython", "ipython-hook"}),
    ("while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass", {"swallows-interrupt"}),
    ("y = x.__class__.__subclasses__()", {"introspection"}),
    ("def f(x):\n    return np.tanh(x)", set()),
])
def test_integrity_scan_flags(code, expected):
    assert {f["code"] for f in integrity.scan_code(code, "cell")} == expected


@pytest.mark.parametrize("name", assignments())
def test_solutions_raise_no_integrity_flag(name):
    src = _source(name)
    flags = integrity.scan(src.solutions, src)
    assert flags == [], [integrity.render(f) for f in flags]


def test_added_cells_are_scanned_too():
    src = _source("ch02_forward")
    sub = _attempt({}, extra_cells=[(2, "get_ipython().input_transformers_post.append(lambda l: l)")])
    flags = integrity.scan_submission(sub, notebook.answers(sub, src), src)
    assert any(f["cell"] == "added cell 1" and f["code"] == "ipython-hook" for f in flags), flags


def test_the_step_clock_counts_the_sandboxs_cpu_time_and_stops_a_step_that_only_waits():
    """The budget is CPU time (a loaded machine does not cut an honest answer short); a sleeping step is stopped
    once it has waited the budget; any step after 4 x the budget of wall-clock time."""
    import subprocess
    import sys
    import time

    code = "import time\nt = time.process_time()\nwhile time.process_time() - t < 30:\n    pass"  # computes
    busy = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        time.sleep(0.3)  # the idle one has started and gone to sleep
        clock_busy, clock_idle = sandbox._StepClock(busy.pid), sandbox._StepClock(idle.pid)
        clock_busy.start(time.monotonic())
        clock_idle.start(time.monotonic())
        assert clock_idle.over(10, clock_idle.step + 5) == ""  # 5 s of wall clock, within a budget of 10
        assert clock_idle.over(2, clock_idle.step + 5) == "waiting"  # idle for longer than its budget of 2
        deadline = time.monotonic() + 60
        while sandbox._group_cpu_seconds(busy.pid) - clock_busy.cpu0 < 0.45 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert clock_busy.over(0.4, clock_busy.step + 0.1) == "of CPU time"  # computed 0.45 s in 0.1 s "of wall"
        assert clock_busy.over(100, clock_busy.step + 0.1) == ""
        clock_busy.cpu0 = clock_busy.cpu - 2000  # as if it had computed most of the time: only the wall clock stops it
        assert clock_busy.over(5000, clock_busy.step + 25000) == "of wall-clock time"
    finally:
        for proc in (busy, idle):
            proc.kill()
            proc.wait()
