"""One grading worker: nbgrader autograde (and feedback) of one submission, inside its own shard of the course.

Run by `autograde.run_shard` as `python -I -m rnncore.instructor.worker SHARD ASSIGNMENT STUDENT CELL_TIMEOUT
FEEDBACK`, usually isolated (see `isolate.py`): the shard is a throw-away course folder holding the nbgrader
config, the assignment's non-notebook source files (never the solutions), this one submission and a gradebook
that knows only the assignment. Both nbgrader steps run in this one process (nbgrader's Python API), and, when
this process is PID 1 of its own PID namespace, `KillStragglers` kills every process the student's kernel left
behind right after execution, before nbgrader saves the grades. The worker writes `worker_result.json` into
the shard last.
"""

import json
import os
import signal
import sys
from pathlib import Path

# `python -m rnncore.instructor.worker` imports rnncore/instructor/__init__.py first, which skips a slow optional
# import of jsonschema (fast_imports) before nbconvert and nbgrader load it.
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


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


def main(argv=None):
    """Autograde one submission in a shard; write worker_result.json; return 0."""
    shard, assignment, student, cell_timeout, feedback = (argv or sys.argv[1:])[:5]
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
    current = list(config.Autograde.get("autograde_preprocessors", Autograde().autograde_preprocessors))
    names = [p if isinstance(p, str) else p.__name__ for p in current]
    at = next((i for i, n in enumerate(names) if n.rsplit(".", 1)[-1] == "Execute"), 0)
    config.Autograde.autograde_preprocessors = [*current[: at + 1], KillStragglers, *current[at + 1:]]
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir, config=config)
    result = {"autograde": api.autograde(assignment, student, force=True, create=True)}
    if feedback == "1" and result["autograde"].get("success"):
        result["feedback"] = api.generate_feedback(assignment, student, force=True)
    out = shard / "worker_result.json"
    try:
        out.unlink()
    except FileNotFoundError:
        pass
    summary = {step: {"success": bool(r.get("success")), "error": str(r.get("error") or "")[-2000:],
                      "log": str(r.get("log") or "")[-4000:]} for step, r in result.items()}
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w") as fh:
        json.dump(summary, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
