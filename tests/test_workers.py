"""The grading workers: a worker forked from the warm fork server sees exactly the isolated world an exec'd worker
sees (and cannot read the worker's memory), the fork server survives whatever one submission does and falls back
to a process of its own when it will not start, a kernel that never started is tried once more (and nothing else
is), the template gradebook has nbgrader's own schema, and a student's kernel never sees results written after
its job started.

rnn-grade forks its workers from `worker.py --serve` (no 1.3 s import per submission); without root it runs each
worker as a process of its own under `unshare --map-root-user`. The isolation probe runs through both paths.
"""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from instructor_course import ROOT, make_course

from rnngrade.grade import autograde, isolate, sandbox

A = "ch02_forward"
NAMESPACES = isolate.probe()["mode"] == "namespaces"

# A cell that reports what the student's kernel can see and do, as one JSON line.
PROBE = """
import json as _json, os as _os, socket as _socket
_seen = {"caps": {l.split(":")[0]: l.split()[1] for l in open("/proc/self/status") if l.startswith(("Cap", "NoNew"))},
         "pids": sorted(int(p) for p in _os.listdir("/proc") if p.isdigit()),
         "env": sorted(_os.environ), "submitted": sorted(_os.listdir(SUBMITTED)), "workspace": WORKSPACE_LIST}
try:
    _socket.create_connection(("192.0.2.1", 80), timeout=2)
    _seen["network"] = "open"
except OSError as _e:
    _seen["network"] = _e.strerror
try:
    open("/proc/1/environ").read()  # the grading worker's (PID 1 of the namespace)
    _seen["worker_memory"] = "readable"
except OSError as _e:
    _seen["worker_memory"] = _e.strerror
try:
    open(REPO_FILE, "a").close()
    _seen["repository"] = "writable"
except OSError as _e:
    _seen["repository"] = _e.strerror
print("SEEN" + _json.dumps(_seen))
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("workers"), [A])
    c = autograde.Course.load(root)
    workspace = root / "workspace"
    workspace.mkdir()
    autograde.ensure_assignment(c, A)
    return c, workspace, autograde.make_template(c, A, workspace)


def _submit(c, student, extra_cells=()):
    nb = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    for i, code in enumerate(extra_cells):
        nb.cells.insert(1 + i, nbformat.v4.new_code_cell(code))
    dest = c.submitted / student / A
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{A}.ipynb")


def _grade(c, workspace, template, student, server, limits=None):
    shard = autograde.make_shard(c, A, student, template, workspace)
    outcome = autograde.run_shard(c, shard, A, student, workspace, limits or sandbox.Limits(), 30, feedback=False,
                                  server=server)
    return shard, outcome, autograde.read_shard(shard, A, student)


def _full_marks(template):
    """{test cell: its points}, from the template gradebook (the manually graded answers wait for a human)."""
    con = sqlite3.connect(template)
    try:
        return dict(con.execute("SELECT base_cell.name, grade_cells.max_score FROM grade_cells "
                                "JOIN base_cell ON grade_cells.id = base_cell.id "
                                "WHERE base_cell.name LIKE 'test\\_%' ESCAPE '\\'").fetchall())
    finally:
        con.close()


def _autograded(grades):
    """{test cell: nbgrader's score} of read_shard's grades."""
    return {g: s for (_, g), s in grades["grades"].items() if g.startswith("test_")}


def _seen(shard, student):
    nb = nbformat.read(str(shard / "autograded" / student / A / f"{A}.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    return json.loads(text.split("SEEN", 1)[1].splitlines()[0])


@pytest.mark.skipif(not NAMESPACES or not autograde.WorkerServers.usable("namespaces"),
                    reason="needs namespace isolation as root (the fork server's isolated path)")
def test_a_forked_worker_sees_the_same_isolated_world_as_an_execd_one(course):
    c, workspace, template = course
    probe = (PROBE.replace("SUBMITTED", repr(str(c.submitted))).replace("REPO_FILE", repr(str(ROOT / "README.md")))
             .replace("WORKSPACE_LIST", f"sorted(_os.listdir({str(workspace)!r}))"))
    server = autograde.WorkerServer(workspace)
    seen = {}
    try:
        for student, srv in [("forked", server), ("execd", None)]:
            _submit(c, student, [probe])
            shard, outcome, grades = _grade(c, workspace, template, student, srv)
            assert outcome.success, outcome.message
            assert _autograded(grades) == _full_marks(template), student
            seen[student] = _seen(shard, student)
    finally:
        server.close()
    for student, s in seen.items():
        assert set(s["caps"].values()) == {"0000000000000000", "1"}, f"{student}: capabilities left: {s['caps']}"
        assert s["pids"] == [1, 2], f"{student}: the kernel sees processes outside its namespace: {s['pids']}"
        assert s["submitted"] == [], f"{student}: the course's submissions are visible: {s['submitted']}"
        assert s["workspace"] == ["shards"], f"{student}: the grader's workspace is visible: {s['workspace']}"
        assert s["network"] == "Network is unreachable", f"{student}: network {s['network']}"
        assert s["repository"] == "Read-only file system", f"{student}: repository {s['repository']}"
    assert seen["forked"]["env"] == seen["execd"]["env"]
    # A forked worker carries the fork server's memory: the kernel must not be able to read it.
    assert seen["forked"]["worker_memory"] == "Permission denied", seen["forked"]["worker_memory"]


def test_the_fork_server_outlives_a_submission_that_kills_it_or_hangs(course):
    c, workspace, template = course
    limits = sandbox.Limits(submission_timeout=20, isolation="none")  # without namespaces a kernel can reach it
    kill_server = ("import os, signal\n_worker = os.getppid()\n"
                   "_server = int(open(f'/proc/{_worker}/status').read().split('PPid:')[1].split()[0])\n"
                   "os.kill(_server, signal.SIGKILL)")
    _submit(c, "kills_server", [kill_server])
    _submit(c, "hangs", ["while True:\n    pass"])
    _submit(c, "honest")
    server = autograde.WorkerServer(workspace)
    try:
        _, killed, _ = _grade(c, workspace, template, "kills_server", server, limits)
        _, hung, _ = _grade(c, workspace, template, "hangs", server, sandbox.Limits(submission_timeout=8,
                                                                                     isolation="none"))
        _, honest, grades = _grade(c, workspace, template, "honest", server, limits)
    finally:
        server.close()
    assert not killed.success and "without a result" in killed.message, killed
    assert not hung.success and "timed out after 8 s" in hung.message, hung
    assert honest.success, honest.message
    assert _autograded(grades) == _full_marks(template)


def test_the_template_gradebook_has_nbgraders_schema_and_version(tmp_path):
    from nbgrader.api import Gradebook

    Gradebook(f"sqlite:///{tmp_path / 'nbgrader.db'}").close()  # nbgrader's own way (asks the alembic command)
    autograde._empty_gradebook(f"sqlite:///{tmp_path / 'ours.db'}", f"sqlite:///{tmp_path / 'nbgrader.db'}")

    def dump(name):
        con = sqlite3.connect(tmp_path / name)
        return (sorted(con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()),
                con.execute("SELECT version_num FROM alembic_version").fetchall())

    assert dump("ours.db") == dump("nbgrader.db")
    autograde._empty_gradebook(f"sqlite:///{tmp_path / 'other.db'}", f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "other.db").exists() or not sqlite3.connect(tmp_path / "other.db").execute(
        "SELECT name FROM sqlite_master").fetchall(), "a gradebook without a version must be left to nbgrader"


def test_a_fork_server_that_will_not_start_costs_only_time(course):
    c, workspace, template = course

    class Broken(autograde.WorkerServer):
        def launch(self):  # a "server" that exits at once, saying nothing
            self._log = self.workspace / "broken-server.log"
            self._log.write_text("no server here")
            self.proc = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
            self.ready, self._buffer = False, b""

    _submit(c, "unlucky")
    server = Broken(workspace)
    with pytest.raises(RuntimeError, match="did not start: no server here"):
        server.run({}, 10)
    _, outcome, grades = _grade(c, workspace, template, "unlucky", server)  # run_shard falls back to a process
    assert outcome.success, outcome.message
    assert _autograded(grades) == _full_marks(template)


@pytest.mark.skipif(not NAMESPACES, reason="needs namespace isolation")
def test_a_kernel_never_sees_results_written_after_its_job_started(tmp_path):
    from rnngrade import cli

    root = make_course(tmp_path, [A])
    c = autograde.Course.load(root)
    assert not c.autograded.exists()  # a first batch: the results folder is made while it runs
    peek = (f"import glob, time\n_seen = []\nfor _ in range(40):\n"
            f"    _seen = glob.glob({str(c.autograded)!r} + '/*/*/*.ipynb')\n"
            f"    if _seen:\n        break\n    time.sleep(0.25)\nprint('PEEKED', _seen)")
    _submit(c, "a_honest")
    _submit(c, "b_peeker", [peek])
    cli.grade(root, [A], workers=2, feedback=False, verify_on=False, progress=False)
    nb = nbformat.read(str(c.autograded / "b_peeker" / A / f"{A}.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert printed.strip() == "PEEKED []", f"the kernel saw another student's results: {printed}"


class _ScriptedServer:
    """Stands in for a WorkerServer: each run writes the next scripted worker_result.json into the shard."""

    def __init__(self, logs):
        self.logs, self.calls = list(logs), 0

    def run(self, request, timeout):
        log = self.logs[self.calls]
        self.calls += 1
        result = {"autograde": {"success": log is None, "error": "", "log": log or ""}}
        (Path(request["shard"]) / "worker_result.json").write_text(json.dumps(result))
        return 0, False


@pytest.mark.parametrize("logs,calls,success", [
    (["[AutogradeApp | ERROR] ...: Kernel died before replying to kernel_info", None], 2, True),
    (["Kernel died before replying to kernel_info", "Kernel died before replying to kernel_info"], 2, False),
    (["[AutogradeApp | ERROR] There was an error processing assignment", None], 1, False),
], ids=["port-race-then-fine", "never-starts", "other-failure"])
def test_a_kernel_that_never_started_is_tried_once_more_and_nothing_else_is(course, logs, calls, success):
    c, workspace, template = course
    _submit(c, "scripted")
    server = _ScriptedServer(logs)
    _, outcome, _ = _grade(c, workspace, template, "scripted", server)
    assert (server.calls, outcome.success) == (calls, success), outcome
