"""nbgrader autograde, one submission per isolated worker process, with gradebook writes made serial.

nbgrader's sqlite gradebook is not safe for concurrent writers, and one bad submission can abort a whole
`nbgrader autograde` batch (a duplicated test cell) or reach other students' files (nbgrader runs the student's
kernel as you, next to everyone's submissions). So every submission is autograded in its own *shard*: a
throw-away course folder with the nbgrader config, the assignment's non-notebook source files (never the
solutions), that one submission and a copy of a *template* gradebook that knows only the assignment. The worker
(`worker.py`) runs isolated when Linux namespaces are available (no network, a read-only disk, the course's
folders, the other shards and your home directory hidden), under CPU/memory limits and a wall-clock timeout.

When a worker ends, the parent (one thread, one writer) copies the student's grades from the shard's gradebook
into the course gradebook (scores clamped to each cell's points; manual grades kept, as nbgrader does) and
copies the autograded notebook and the feedback into the course. Re-running replaces the same rows: no grade is
lost or counted twice.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import isolate, sandbox
from .notebook import assignment_ids


@dataclass
class Course:
    """The folders and gradebook of an nbgrader course, read from its nbgrader_config.py."""

    root: Path
    source: Path
    release: Path
    submitted: Path
    autograded: Path
    feedback: Path
    db_url: str
    course_id: str

    @classmethod
    def load(cls, root, db_url=None):
        """Read `root`/nbgrader_config.py (nbgrader's own defaults where it says nothing)."""
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        root = Path(root).resolve()
        if not (root / "nbgrader_config.py").exists():
            raise FileNotFoundError(f"Course.load: `root` must hold nbgrader_config.py; {root} does not")
        config = Config()
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
        config.CourseDirectory.root = str(root)
        if db_url:
            config.CourseDirectory.db_url = db_url
        cd = CourseDirectory(config=config)
        return cls(root, root / cd.source_directory, root / cd.release_directory, root / cd.submitted_directory,
                   root / cd.autograded_directory, root / cd.feedback_directory, cd.db_url, cd.course_id)

    @property
    def verified_db(self):
        """The sqlite file that holds the verified grades (next to nbgrader's gradebook)."""
        return self.root / "verified.db"

    def source_notebook(self, assignment):
        """solutions/<assignment>/<assignment>.ipynb (one notebook per assignment in this course)."""
        path = self.source / assignment / f"{assignment}.ipynb"
        if not path.exists():
            raise FileNotFoundError(f"source_notebook: no {path.relative_to(self.root)} for assignment "
                                    f"`{assignment}`")
        return path

    def assignments(self):
        """Assignment ids: the folders of the source directory that hold a notebook."""
        return assignment_ids(self.source)

    def students(self, assignment):
        """Students with a submission of `assignment` in the submitted folder."""
        if not self.submitted.exists():
            return []
        return sorted(p.name for p in self.submitted.iterdir()
                      if (p / assignment).is_dir() and not p.name.startswith("."))

    def secrets(self):
        """Paths no student code may see: the course's source, submissions, results and gradebooks."""
        paths = [self.source, self.submitted, self.autograded, self.feedback, self.root / "downloaded",
                 self.verified_db, self.root / "grades"]
        if self.db_url.startswith("sqlite:///"):
            paths.append(Path(self.db_url[len("sqlite:///"):]))
        return [p for p in paths if p.exists()]


def _copy_tree(src, dest, max_bytes=200 * 2**20):
    """Copy regular files only (no symlinks, devices or fifos), at most `max_bytes` in all."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        rel = Path(dirpath).relative_to(src)
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > max_bytes:
                raise OSError(f"_copy_tree: more than {max_bytes // 2**20} MB under {src}")
            shutil.copyfile(path, dest / rel / name)


def _nbgrader_api(root, db_url):
    """nbgrader's Python API on the course config at `root`, with root and gradebook overridden (in-process)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def _generate(root, db_url, assignment, where):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _nbgrader_api(root, db_url).generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise RuntimeError(f"{where}: nbgrader generate_assignment {assignment} failed:\n"
                           f"{str(result.get('error') or result.get('log'))[-2000:]}")


def make_template(course, assignment, workspace):
    """A gradebook that knows only `assignment` (nbgrader generate_assignment in a scratch copy of the course)."""
    tdir = Path(workspace) / "templates" / assignment
    if (tdir / "gradebook.db").exists():
        return tdir / "gradebook.db"
    tdir.mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", tdir / "nbgrader_config.py")
    _copy_tree(course.source / assignment, tdir / course.source.name / assignment)
    db = tdir / "gradebook.db"
    _generate(tdir, f"sqlite:///{db}", assignment, "make_template")
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as main:
        try:
            duedate = main.find_assignment(assignment).duedate
        except MissingEntry:
            duedate = None
    if duedate is not None:
        with Gradebook(f"sqlite:///{db}") as gb:
            gb.update_or_create_assignment(assignment, duedate=duedate)
    return db


def ensure_assignment(course, assignment):
    """Make sure the course gradebook knows `assignment` (nbgrader generate_assignment in the course if not)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gb:
        try:
            if gb.find_assignment(assignment).notebooks:
                return False
        except MissingEntry:
            pass
    _generate(course.root, course.db_url, assignment, "ensure_assignment")
    return True


def make_shard(course, assignment, student, template_db, workspace):
    """A throw-away course folder for one submission; return its path."""
    shard = Path(workspace) / "shards" / f"{student}--{assignment}--{uuid.uuid4().hex[:8]}"
    shard.mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", shard / "nbgrader_config.py")
    src = course.source / assignment
    dest = shard / course.source.name / assignment
    dest.mkdir(parents=True)
    for path in src.rglob("*"):  # what nbgrader copies over a submission: every non-notebook file
        if path.is_file() and not path.is_symlink() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in \
                path.parts:
            (dest / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / path.relative_to(src))
    _copy_tree(course.submitted / student / assignment, shard / course.submitted.name / student / assignment)
    shutil.copyfile(template_db, shard / "gradebook.db")
    for sub in ("home", "tmp", ".jupyter/runtime", ".ipython", ".mpl"):
        (shard / sub).mkdir(parents=True, exist_ok=True)
    return shard


@dataclass
class WorkerOutcome:
    """How one shard's nbgrader run ended."""

    success: bool
    message: str
    seconds: float
    feedback: bool = False


def run_shard(course, shard, assignment, student, workspace, limits, cell_timeout, feedback=True, hide=()):
    """Run the worker on a shard, isolated when possible; never raises for a student's doing."""
    started = time.monotonic()
    argv = [sys.executable, "-I", "-m", "rnncore.instructor.worker", str(shard), assignment,
            student, str(cell_timeout), "1" if feedback else "0"]
    bindir = str(Path(sys.executable).parent)
    env = sandbox.clean_env({"HOME": str(shard / "home"), "TMPDIR": str(shard / "tmp"),
                             "JUPYTER_RUNTIME_DIR": str(shard / ".jupyter/runtime"),
                             "JUPYTER_CONFIG_DIR": str(shard / ".jupyter"), "IPYTHONDIR": str(shard / ".ipython"),
                             "MPLCONFIGDIR": str(shard / ".mpl"), "PATH": f"{bindir}:/usr/bin:/bin",
                             "PYTHONDONTWRITEBYTECODE": "1"})
    mode = sandbox.isolation_mode(limits)
    stage = None
    if mode == "namespaces":
        import tempfile

        stage = Path(tempfile.mkdtemp(prefix="rnngrade-stage-"))  # outside every hidden folder
        cmd = isolate.isolated_command(argv, cwd=shard, keep=shard, stage=stage, loopback=True,
                                       hide=[*course.secrets(), Path(workspace), *isolate.home_entries_to_hide(),
                                             *hide])
        cwd = "/"
    else:
        cmd, cwd = argv, str(shard)
    log = shard.parent / f"{shard.name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True,
                                preexec_fn=sandbox.set_limits(limits.submission_timeout, limits.memory_mb,
                                                              limits.file_size_mb))
        try:
            proc.wait(timeout=limits.submission_timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    if stage is not None:
        shutil.rmtree(stage, ignore_errors=True)
    seconds = time.monotonic() - started
    if timed_out:
        return WorkerOutcome(False, f"autograde timed out after {limits.submission_timeout:.0f} s", seconds)
    try:
        result = json.loads((shard / "worker_result.json").read_text())
    except (OSError, ValueError):
        tail = log.read_bytes()[-800:].decode("utf-8", "replace").strip()
        return WorkerOutcome(False, f"the grading worker ended without a result (status {proc.returncode}): {tail}",
                             seconds)
    auto = result.get("autograde", {})
    if not auto.get("success"):
        err = (auto.get("error") or auto.get("log") or "").strip().splitlines()
        return WorkerOutcome(False, "nbgrader autograde failed: " + (err[-1] if err else "no message")[:300], seconds)
    fb = result.get("feedback", {})
    return WorkerOutcome(True, "", seconds, feedback=bool(fb.get("success")))


def _timestamp(course, assignment, student):
    path = course.submitted / student / assignment / "timestamp.txt"
    if not path.exists():
        return None
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(path.read_text().strip())
    except (ValueError, OverflowError):
        return None


def read_shard(shard, assignment, student):
    """The student's grades, comments and late penalties in a shard's gradebook ({} parts if unreadable)."""
    from nbgrader.api import Gradebook

    data = {"grades": {}, "comments": {}, "late": {}, "error": ""}
    try:
        with warnings.catch_warnings(), Gradebook(f"sqlite:///{shard / 'gradebook.db'}") as sg:
            warnings.simplefilter("ignore")
            sub = sg.find_submission(assignment, student)
            for nb in sub.notebooks:
                data["late"][nb.name] = nb.late_submission_penalty
                for g in nb.grades:
                    data["grades"][(nb.name, g.name)] = g.auto_score
                for c in nb.comments:
                    data["comments"][(nb.name, c.name)] = c.auto_comment
    except Exception as exc:  # a broken or missing shard gradebook: grades stay None (needs manual grading)
        data["error"] = f"{type(exc).__name__}: {exc}"[:200]
    return data


def merge(course, data, assignment, student, success):
    """Write one student's grades (from read_shard) into the course gradebook; call from one thread only.

    Scores are clamped to each cell's points; a cell with a manual grade stays flagged for review, as nbgrader
    does. When the autograde failed, every score is None (nbgrader: needs manual grading).

    Returns {grade_id: (score or None, max_score)} as now in the course gradebook.
    """
    from nbgrader.api import Gradebook

    scores = {}
    with warnings.catch_warnings(), Gradebook(course.db_url) as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush warnings
        gb.update_or_create_student(student)
        ts = _timestamp(course, assignment, student)
        sub = gb.update_or_create_submission(assignment, student, **({"timestamp": ts} if ts else {}))
        for nb in sub.notebooks:
            for g in nb.grades:
                auto = data["grades"].get((nb.name, g.name)) if success else None
                if auto is not None:
                    auto = min(max(float(auto), 0.0), float(g.max_score))
                g.auto_score = auto
                g.needs_manual_grade = g.manual_score is not None or auto is None
                scores[g.name] = (g.manual_score if g.manual_score is not None else auto, g.max_score)
            for c in nb.comments:
                if (nb.name, c.name) in data["comments"]:
                    c.auto_comment = data["comments"][(nb.name, c.name)]
            penalty = data["late"].get(nb.name)
            if success and isinstance(penalty, (int, float)):
                nb.late_submission_penalty = min(max(float(penalty), 0.0), float(nb.max_score))
        gb.db.commit()
    return scores


def copy_results(course, shard, assignment, student):
    """Replace the student's autograded notebook and feedback in the course by the shard's."""
    for name, dest_root in (("autograded", course.autograded), ("feedback", course.feedback)):
        src = shard / getattr(course, name).name / student / assignment
        dest = dest_root / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        if src.is_dir():
            _copy_tree(src, dest)


def nbgrader_scores(course, assignment, student):
    """{grade_id: (score or None, max_score)} of a student's submission in the course gradebook ({} if none)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return {}
        return {g.name: (g.score if not (g.auto_score is None and g.manual_score is None) else None, g.max_score)
                for nb in sub.notebooks for g in nb.grades}


def utcnow():
    """Now, timezone-aware UTC (for the ledger)."""
    return datetime.datetime.now(datetime.timezone.utc)
