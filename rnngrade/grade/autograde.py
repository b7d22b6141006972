"""nbgrader autograde, one submission per isolated worker process, with gradebook writes made serial.

nbgrader's sqlite gradebook is not safe for concurrent writers, and one bad submission can abort a whole
`nbgrader autograde` batch (a duplicated test cell) or reach other students' files (nbgrader runs the student's
kernel as you, next to everyone's submissions). So every submission is autograded in its own *shard*: a
throw-away course folder with the nbgrader config, the assignment's non-notebook source files (never the
solutions), that one submission and a copy of a *template* gradebook that knows only the assignment. The worker
(`worker.py`) runs isolated when Linux namespaces are available (no network, a read-only disk, the course's
folders, the other shards and your home directory hidden), under CPU/memory limits and a wall-clock timeout.
Each grading thread keeps a warm fork server (`WorkerServer`) and forks one fresh worker per submission from
it, so no submission pays for importing nbgrader; without root (no way to isolate a forked process) every
worker is a process of its own, started under `unshare`.

When a worker ends, the parent (one thread, one writer) copies the student's grades from the shard's gradebook
into the course gradebook (scores clamped to each cell's points; manual grades kept, as nbgrader does) and
copies the autograded notebook and the feedback into the course. Re-running replaces the same rows: no grade is
lost or counted twice.
"""

import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..notebook import assignment_ids
from . import isolate, sandbox


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
        from ..export.ledger import database_url

        return cls(root, root / cd.source_directory, root / cd.release_directory, root / cd.submitted_directory,
                   root / cd.autograded_directory, root / cd.feedback_directory, database_url(cd.db_url),
                   cd.course_id)

    @property
    def verified_db(self):
        """Where the verified grades are (`ledger.location`): the gradebook's database when it is PostgreSQL (its
        URL), else the sqlite file verified.db beside nbgrader's gradebook file."""
        from ..export.ledger import location

        return location(self.db_url)

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
        from ..export.ledger import lock_file

        paths = [self.source, self.submitted, self.autograded, self.feedback, self.root / "downloaded",
                 self.root / "grades"]
        if isinstance(self.verified_db, Path):
            paths += [self.verified_db, lock_file(self.verified_db)]
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


def _empty_gradebook(db_url, like):
    """Create nbgrader's tables at `db_url`, stamped with the schema version of the gradebook at `like`.

    What nbgrader's Gradebook does for a new database, except that it asks the `alembic` command for the version,
    a fresh Python process that takes ~2 s. Does nothing when `like` has no version (nbgrader then does it all).
    """
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    source = create_engine(like, future=True)
    try:
        with source.connect() as con:
            version = con.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no such table (or no such database): leave it to nbgrader
        return
    finally:
        source.dispose()
    if not version:
        return
    engine = create_engine(db_url, future=True)
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as con:
            con.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            con.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
    finally:
        engine.dispose()


def make_template(course, assignment, workspace):
    """A gradebook that knows only `assignment` (nbgrader generate_assignment in a scratch copy of the course)."""
    tdir = Path(workspace) / "templates" / assignment
    if (tdir / "gradebook.db").exists():
        return tdir / "gradebook.db"
    tdir.mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", tdir / "nbgrader_config.py")
    _copy_tree(course.source / assignment, tdir / course.source.name / assignment)
    db = tdir / "gradebook.db"
    _empty_gradebook(f"sqlite:///{db}", course.db_url)
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


def _tail(log):
    """The last 800 bytes of a log file, as text ("" if there is none)."""
    try:
        return log.read_bytes()[-800:].decode("utf-8", "replace").strip()
    except OSError:
        return ""


class WorkerServer:
    """A warm fork server (`worker.py --serve`): one forked, isolated process per submission, one at a time.

    Saves the ~1.3 s each fresh worker would spend importing nbgrader and loading its templates. Restarted when it
    died (a student's code cannot reach it from inside its namespaces, but without them it could kill it).
    """

    def __init__(self, workspace):
        self.workspace = Path(workspace)
        self.proc = None
        self.ready = False
        self._buffer = b""
        self._log = None

    def launch(self):
        """Start the server process (it warms up while the caller goes on)."""
        bindir = str(Path(sys.executable).parent)
        self._log = self.workspace / f"server-{uuid.uuid4().hex[:8]}.log"
        with open(self._log, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-I", "-m", "rnngrade.grade.worker", "--serve"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                         cwd=self.workspace, start_new_session=True,
                                         env=sandbox.clean_env({"PATH": f"{bindir}:/usr/bin:/bin"}))
        self.ready, self._buffer = False, b""

    def _ensure(self):
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.launch()
        if not self.ready:
            self.ready = bool((self._read(time.monotonic() + 120) or {}).get("ready"))
            if not self.ready:
                self.close()
                raise RuntimeError(f"WorkerServer: the fork server did not start: {_tail(self._log)}")

    def _read(self, deadline):
        """The next reply; None at the deadline, {} when the server is gone."""
        import select

        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return {}
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, request, timeout):
        """Grade one request (see worker._forked); return (exit status or None, timed out)."""
        self._ensure()
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            return None, False
        deadline = time.monotonic() + timeout
        started = self._read(deadline)
        if not started:
            self.close()
            return None, False
        ended = self._read(deadline)
        if ended:
            return ended["status"], False
        timed_out = ended is None  # else the server is gone (killed by the submission, when not isolated)
        for kill in (os.killpg, os.kill):  # its process group, or itself if it had no group yet
            try:
                kill(started["pid"], signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        ended = self._read(time.monotonic() + 30) if timed_out else None
        if not ended:
            self.close()
        return (ended["status"] if ended else None), timed_out

    def close(self):
        """Stop the server (it ends when its stdin closes)."""
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None


class WorkerServers:
    """A pool of fork servers, one per grading thread: `with pool.lease() as server:`; close() stops them all."""

    def __init__(self, workspace, count):
        import queue

        self._free = queue.SimpleQueue()
        self._all = [WorkerServer(workspace) for _ in range(count)]
        for server in self._all:
            server.launch()  # they warm up while the course's templates are made
            self._free.put(server)

    @staticmethod
    def usable(mode):
        """Whether forked workers can be isolated as `mode` asks: always without namespaces; with them, as root.

        Without root, new namespaces need a user namespace, which `unshare --map-root-user` sets up for an exec'd
        worker instead (`run_shard` with no server).
        """
        return mode == "none" or os.geteuid() == 0

    @contextlib.contextmanager
    def lease(self):
        """A free server, for one submission."""
        server = self._free.get()
        try:
            yield server
        finally:
            self._free.put(server)

    def close(self):
        for server in self._all:
            server.close()


# A kernel that dies before it answers its first request never ran a line of the student's: without namespace
# isolation, two workers' kernels can be handed the same free port (jupyter/jupyter_client#487). Tried again once.
KERNEL_NOT_STARTED = "Kernel died before replying to kernel_info"


def run_shard(course, shard, assignment, student, workspace, limits, cell_timeout, feedback=True, hide=(),
              server=None):
    """Run the worker on a shard, isolated when possible, forked from `server` if given; never raises for a
    student's doing."""
    started = time.monotonic()
    bindir = str(Path(sys.executable).parent)
    env = sandbox.clean_env({"HOME": str(shard / "home"), "TMPDIR": str(shard / "tmp"),
                             "JUPYTER_RUNTIME_DIR": str(shard / ".jupyter/runtime"),
                             "JUPYTER_CONFIG_DIR": str(shard / ".jupyter"), "IPYTHONDIR": str(shard / ".ipython"),
                             "MPLCONFIGDIR": str(shard / ".mpl"), "PATH": f"{bindir}:/usr/bin:/bin",
                             "PYTHONDONTWRITEBYTECODE": "1"})
    mode = sandbox.isolation_mode(limits)
    hide = [*course.secrets(), Path(workspace), *isolate.home_entries_to_hide(), *hide]
    log = shard.parent / f"{shard.name}.log"
    for _ in range(2):  # once more only when the kernel never started
        (shard / "worker_result.json").unlink(missing_ok=True)  # a second attempt must not read the first's
        stage = Path(tempfile.mkdtemp(prefix="rnngrade-stage-")) if mode == "namespaces" else None  # not in `hide`
        try:
            if server is not None:
                request = {"shard": str(shard), "assignment": assignment, "student": student,
                           "cell_timeout": int(float(cell_timeout)), "feedback": bool(feedback), "env": env,
                           "limits": [limits.submission_timeout, limits.memory_mb, limits.file_size_mb],
                           "log": str(log), "isolate": None if stage is None else isolate.config(
                               cwd=shard, keep=shard, stage=stage, loopback=True, hide=hide)}
                try:
                    status, timed_out = server.run(request, limits.submission_timeout)
                except RuntimeError:  # the fork server would not start: this submission goes the slow way
                    server = None
            if server is None:
                status, timed_out = _run_process(shard, assignment, student, limits, cell_timeout, feedback, env,
                                                 stage, hide, log)
        finally:
            if stage is not None:
                shutil.rmtree(stage, ignore_errors=True)
        outcome, error = _worker_outcome(shard, log, status, timed_out, limits, time.monotonic() - started)
        if outcome.success or KERNEL_NOT_STARTED not in error:
            return outcome
    return outcome


def _worker_outcome(shard, log, status, timed_out, limits, seconds):
    """(WorkerOutcome, nbgrader's whole error text) of a worker run, from its worker_result.json and log."""
    if timed_out:
        return WorkerOutcome(False, f"autograde timed out after {limits.submission_timeout:.0f} s", seconds), ""
    try:
        result = json.loads((shard / "worker_result.json").read_text())
    except (OSError, ValueError):
        return WorkerOutcome(False, f"the grading worker ended without a result (status {status}): {_tail(log)}",
                             seconds), ""
    auto = result.get("autograde", {})
    if not auto.get("success"):
        text = f"{auto.get('error') or ''}\n{auto.get('log') or ''}"
        err = (auto.get("error") or auto.get("log") or "").strip().splitlines()
        # the line that says what went wrong, not nbgrader's closing "Please see the above traceback"
        named = [line.strip() for line in text.splitlines()
                 if re.search(r"\w(Error|Exception)\b", line) and "see the above traceback" not in line]
        why = named[-1] if named else (err[-1] if err else "no message")
        return WorkerOutcome(False, "nbgrader autograde failed: " + why[:300], seconds), text
    fb = result.get("feedback", {})
    return WorkerOutcome(True, "", seconds, feedback=bool(fb.get("success"))), ""


def _run_process(shard, assignment, student, limits, cell_timeout, feedback, env, stage, hide, log):
    """The worker as a process of its own (isolated with `unshare` when `stage` is given); (status, timed out)."""
    argv = [sys.executable, "-I", "-m", "rnngrade.grade.worker", str(shard), assignment,
            student, str(cell_timeout), "1" if feedback else "0"]
    if stage is not None:
        cmd = isolate.isolated_command(argv, cwd=shard, keep=shard, stage=stage, loopback=True, hide=hide)
        cwd = "/"
    else:
        cmd, cwd = argv, str(shard)
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
    return proc.returncode, timed_out


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


def merge(course, data, assignment, student, success, verified=None):
    """Write one student's grades (from read_shard) into the course gradebook; call from one thread only.

    The test cells of verified functions get their *verified* score (`verified`, {grade_id: points}), so that
    nbgrader's formgrader, its feedback and `nbgrader export` show the score rnn-grade exports; nbgrader's in-kernel
    scores are kept in the ledger. Other cells keep nbgrader's score. Scores are clamped to each cell's points; a cell
    with a manual grade stays flagged for review, as nbgrader does. When the autograde failed, every other score is
    None (nbgrader: needs manual grading).

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
                if verified and g.name in verified:
                    auto = verified[g.name]
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


_APIS = {}


def generate_feedback(course, assignment, student):
    """nbgrader generate_feedback for one student, in this process, from the course gradebook (main thread only).

    Run after `merge` wrote the verified scores, so the page shows the same scores as the export. It renders the
    autograded notebook (whose outputs the worker capped) and runs no code. Returns (success, message).
    """
    key = (str(course.root), course.db_url)
    if key not in _APIS:
        _APIS[key] = _nbgrader_api(course.root, course.db_url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _APIS[key].generate_feedback(assignment, student, force=True)
    return bool(result.get("success")), str(result.get("error") or "")[-300:]


def submission_time(course, assignment, student):
    """The upload time of a student's submission (timestamp.txt, as nbgrader reads it), or None."""
    return _timestamp(course, assignment, student)


def nbgrader_duedate(course, assignment):
    """nbgrader's own due date of `assignment` in the course gradebook (naive UTC), or None."""
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(course.db_url) as gb:
            return gb.find_assignment(assignment).duedate
    except (MissingEntry, Exception):  # noqa: BLE001 - no gradebook yet: no due date
        return None


def set_late_penalty(course, assignment, student, penalty):
    """Write the late policy's penalty (points) into the gradebook: nbgrader's feedback and export subtract it."""
    from nbgrader.api import Gradebook, MissingEntry

    with warnings.catch_warnings(), Gradebook(course.db_url) as gb:
        warnings.simplefilter("ignore")
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return
        for nb in sub.notebooks:
            nb.late_submission_penalty = float(penalty) if nb.name == assignment else 0.0
        gb.db.commit()
