"""One grading worker: nbgrader autograde (and feedback) of one submission, inside its own shard of the course.

The shard is a throw-away course folder holding the nbgrader config, the assignment's non-notebook source files
(never the solutions), this one submission and a gradebook that knows only the assignment (see autograde.py).
Both nbgrader steps run in one process (nbgrader's Python API), and, when that process is PID 1 of its own PID
namespace, `KillStragglers` kills every process the student's kernel left behind right after execution, before
nbgrader saves the grades. The worker writes `worker_result.json` into the shard last.

Two ways to run it:

- `python -I -m rnngrade.grade.worker --serve`: a *fork server* (what `rnn-grade` uses). It imports
  nbgrader and nbconvert and warms their templates once (about 1.3 s), then reads one JSON request per line on
  stdin and forks a fresh process per submission, which isolates itself (`isolate.isolate_forked`: new
  namespaces, its shard the only visible folder, no capabilities), sets its resource limits and environment, and
  grades. It answers `{"pid": ...}` at the fork and `{"status": ...}` when that process ended. The server never
  reads a submission, so a forked process inherits nothing of anyone else's.
- `python -I -m rnngrade.grade.worker SHARD ASSIGNMENT STUDENT CELL_TIMEOUT FEEDBACK`: one submission, in a
  process of its own, started under `isolate.isolated_command` when the grader is not root (a forked process
  could not isolate itself then), and whenever a fork server would not start.
"""

import json
import os
import signal
import sys
from pathlib import Path

from nbclient.exceptions import CellTimeoutError

# `python -m rnngrade.grade.worker` imports rnngrade/__init__.py first, which skips a slow optional
# import of jsonschema (fast_imports) before nbconvert and nbgrader load it.
from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from . import isolate, sandbox


class KillStragglers(Preprocessor):
    """After the notebook ran: kill every other process of this PID namespace (a student's background jobs)."""

    enabled = Bool(True)  # nbconvert runs a preprocessor only when enabled (its default is False)

    def preprocess(self, nb, resources):
        if os.getpid() == 1:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return nb, resources


class OneTimeout(Execute):
    """nbgrader's Execute, except that the first cell to run out of time ends the run: the later cells are not run.

    An answer that never returns used to cost one cell timeout in its visible test cell and another in its hidden one
    (and more in every later cell that calls it). Here it costs one `Execute.timeout`, which rnn-grade sets to the
    verifier's sandbox budget (`--timeout`), and the verifier runs at the same time: one budget in all. The cells not
    run get an error output saying why (their tests score 0 in nbgrader; the verified grade, which rnn-grade exports
    and writes into the gradebook, keeps every function that does return).
    """

    timeouts = Integer(0, help="cells that ran out of time in this run (0 or 1)")

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timeouts += 1
        self._rnn_timeout = timeout
        return await super()._async_handle_timeout(timeout, cell)

    def preprocess_cell(self, cell, resources, index):
        if self.timeouts and cell.cell_type == "code":
            cell.outputs = [new_output("error", ename="NotRun", evalue=(
                f"not run: an earlier cell ran out of time ({getattr(self, '_rnn_timeout', '?')} s), which ends the "
                "run"), traceback=[])]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except CellTimeoutError as exc:  # output still streaming when the reply came (a huge print): ends the run too
            self.timeouts += 1
            self._rnn_timeout = self.iopub_timeout
            cell.outputs = [*cell.get("outputs", []), new_output("error", ename="CellTimeoutError",
                                                                 evalue=str(exc).splitlines()[0][:300], traceback=[])]
            return cell, resources


class CapOutput(Preprocessor):
    """Cap what each cell printed or displayed at `max_bytes` (nbgrader's LimitOutput counts lines only, so a single
    50 MB line went whole into the autograded notebook and the feedback page)."""

    enabled = Bool(True)
    max_bytes = Integer(1 << 20, help="the most bytes of output kept per cell").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        left = self.max_bytes
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                out.text, left = _cut(out.get("text", ""), left)
            elif out.output_type in ("display_data", "execute_result"):
                for mime, value in list(out.get("data", {}).items()):
                    text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else ""
                    if isinstance(value, (str, list)):
                        out.data[mime], left = _cut(text, left)
            elif out.output_type == "error":
                out.evalue, left = _cut(str(out.get("evalue", "")), left)
                out.traceback = [_cut(str(t), 4096)[0] for t in out.get("traceback", [])[:30]]
        return cell, resources


def _cut(text, left):
    """(text cut to `left` UTF-8 bytes with a note of how much was dropped, bytes left)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= left:
        return text, left - len(data)
    kept = data[:max(left, 0)].decode("utf-8", "ignore")
    return kept + f"\n[output truncated: {len(data) - max(left, 0)} more bytes]\n", 0


def grade_shard(shard, assignment, student, cell_timeout, feedback):
    """Autograde one submission in a shard (and generate its feedback); write worker_result.json."""
    shard = Path(shard).resolve()
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    if (shard / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(shard)).load_config())
    config.CourseDirectory.root = str(shard)
    config.CourseDirectory.db_url = f"sqlite:///{shard / 'gradebook.db'}"
    config.Execute.timeout = int(float(cell_timeout))
    config.Execute.iopub_timeout = int(float(cell_timeout))  # a big output may take a while to arrive
    current = list(config.Autograde.get("autograde_preprocessors", Autograde().autograde_preprocessors))
    names = [p if isinstance(p, str) else p.__name__ for p in current]
    at = next((i for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == "Execute"), 0)
    if names and names[at].rsplit(".", 1)[-1] == "Execute":
        current[at] = OneTimeout
    config.Autograde.autograde_preprocessors = [*current[: at + 1], CapOutput, KillStragglers, *current[at + 1:]]
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir, config=config)
    result = {"autograde": api.autograde(assignment, student, force=True, create=True)}
    if feedback and result["autograde"].get("success"):
        result["feedback"] = api.generate_feedback(assignment, student, force=True)
    out = shard / "worker_result.json"
    try:
        out.unlink()
    except FileNotFoundError:
        pass
    summary = {step: {"success": bool(r.get("success")), "error": str(r.get("error") or "")[-2000:],
                      "log": str(r.get("log") or "")[-20000:]} for step, r in result.items()}
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w") as fh:
        json.dump(summary, fh)


def warm_up():
    """Import what grading needs and render one small notebook to HTML (regexes, lexers and templates load once)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbgrader.apps.api import NbGraderAPI  # noqa: F401
    from nbgrader.converters import Autograde, GenerateFeedback  # noqa: F401

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A *title*, $x_t$ and `code`"),
                                         nbformat.v4.new_code_cell("import numpy as np\nx = np.zeros(3)  # a comment")])
    HTMLExporter().from_notebook_node(nb)


def _forked(request):
    """In the process forked for one request: isolate, limit, grade, and exit (never returns to the server)."""
    import traceback

    code = 70
    try:
        os.setsid()
        isolate.die_with_parent()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)  # the server's pipe among them
        sandbox.set_limits(*request["limits"])()
        if request["isolate"]:
            isolate.isolate_forked(request["isolate"])  # only the new PID namespace's PID 1 comes back
        else:
            os.chdir(request["shard"])
        os.environ.clear()
        os.environ.update(request["env"])
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the shard's now
        grade_shard(request["shard"], request["assignment"], request["student"], request["cell_timeout"],
                    request["feedback"])
        code = 0
    except BaseException:  # noqa: BLE001 - whatever happened, this process must end here
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve():
    """The fork server: warm up, then fork one process per JSON request line on stdin (see the module docstring)."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints go to the log, never into the replies

    def reply(**message):
        os.write(reply_fd, (json.dumps(message) + "\n").encode())

    warm_up()
    reply(ready=True)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _forked(request)
        reply(pid=pid)
        _, status = os.waitpid(pid, 0)
        reply(status=os.waitstatus_to_exitcode(status))
    return 0


def main(argv=None):
    """`--serve`, or grade one submission from the command line (see the module docstring); return 0."""
    argv = argv or sys.argv[1:]
    if argv[:1] == ["--serve"]:
        return serve()
    shard, assignment, student, cell_timeout, feedback = argv[:5]
    grade_shard(shard, assignment, student, cell_timeout, feedback == "1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
