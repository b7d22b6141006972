"""The JupyterHub cycle of the instructor guide, run as the guide writes it (issue 17, part 10).

The commands are read from the guide's block that starts with "# on the instructor's server" (book/instructor_guide.md)
and run in its order, on one machine: a temporary exchange (`Exchange.root`, set in a global nbgrader_config.py as a
hub sets it in /etc/jupyter), a temporary course folder, and a temporary home folder per person (HOME; nbgrader
names a student after the OS account, which is the same for everyone here, so each student's ~/.jupyter config
gives the student id that the account's name would). Two
students fetch, edit and submit through the exchange; a third hands in through the LMS, so `rnn-grade
--submissions` collects her from a zip. Then feedback is released to all three and the two exchange students fetch
theirs: the page they get is the one rnn-grade wrote for them, with their score.
"""

import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from course import cell_by_id
from instructor_course import ROOT, auto_points, make_course, points

A = "ch02_forward"
FULL = auto_points(A)  # a full autograde (the written answers are graded by hand)
MAX = points(A)
GUIDE = ROOT / "book" / "instructor_guide.md"
BIN = Path(sys.executable).parent


def guide_commands():
    """[(role, argv)] of the guide's exchange cycle block; role is "instructor" or "student" (from its comments)."""
    blocks = re.findall(r"```bash\n(# on the instructor's server.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 1, "the guide must have one ```bash block starting with \"# on the instructor's server\""
    commands, role = [], None
    for line in blocks[0].splitlines():
        if line.startswith("#"):
            role = "student" if "student" in line else "instructor"
            continue
        line = line.split("  #")[0].strip()
        if line:
            commands.append((role, shlex.split(line)))
    return commands


def _notebooks():
    honest = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    wrong = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    cell_by_id(wrong, "rnn_step_forward").source = cell_by_id(wrong, "rnn_step_forward").source.replace(
        "h_prev @ W_hh.T", "h_prev @ W_hh")
    return honest, wrong


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    (tmp / "course").mkdir()
    course = make_course(tmp / "course", [A])
    exchange = tmp / "exchange"  # release_assignment makes it, as nbgrader does on a hub
    etc = tmp / "etc" / "jupyter"
    etc.mkdir(parents=True)
    (etc / "nbgrader_config.py").write_text(f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(exchange)!r}\n")
    homes = {who: tmp / "home" / who for who in ("instructor", "alice", "bob")}
    for who, home in homes.items():
        (home / ".jupyter").mkdir(parents=True)
        if who != "instructor":  # one OS account here: each student's own config says whose it is
            (home / ".jupyter" / "nbgrader_config.py").write_text(
                f"c = get_config()  # noqa: F821\nc.CourseDirectory.student_id = {who!r}\n")
    honest, wrong = _notebooks()
    edits = {"alice": honest, "bob": wrong}
    # carol hands in through the LMS: her upload is in the instructor's downloads
    (homes["instructor"] / "Downloads").mkdir()
    with zipfile.ZipFile(homes["instructor"] / "Downloads" / "late.zip", "w") as zf:
        blank = nbformat.read(str(course / "exercises" / A / f"{A}.ipynb"), as_version=4)
        zf.writestr(zipfile.ZipInfo(f"carol_{A}.ipynb", date_time=(2024, 3, 1, 10, 0, 0)), nbformat.writes(blank))

    def run(who, argv):
        home = homes[who]
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "USER": who, "LOGNAME": who, "LANG": "C.UTF-8",
               "JUPYTER_CONFIG_PATH": str(etc),
               **{k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}}
        argv = [a.replace("~", str(home)) if a.startswith("~") else a for a in argv]
        proc = subprocess.run(argv, cwd=course if who == "instructor" else home, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, f"{who}: {shlex.join(argv)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout + proc.stderr

    logs = []
    for role, argv in guide_commands():
        for who in (["alice", "bob"] if role == "student" else ["instructor"]):
            logs.append((who, argv, run(who, argv)))
            if argv[:2] == ["nbgrader", "fetch_assignment"]:  # the student does the work, then submits
                nbformat.write(edits[who], homes[who] / A / f"{A}.ipynb")
    return course, homes, logs


def test_the_guide_runs_the_whole_cycle(cycle):
    _, _, logs = cycle
    steps = [" ".join(argv[:2]) for who, argv, _ in logs if who in ("instructor", "alice")]
    assert steps == ["nbgrader release_assignment", "nbgrader fetch_assignment", "nbgrader submit",
                     "nbgrader collect", f"rnn-grade {A}", "nbgrader generate_feedback", "nbgrader release_feedback",
                     "nbgrader fetch_feedback"]


def test_grades_of_exchange_and_zip_students(cycle):
    course, _, logs = cycle
    out = next(log for who, argv, log in logs if argv[0] == "rnn-grade")
    assert "3 students: 3 submissions, 0 with no submission" in out, out
    import csv

    with open(course / "grades" / f"{A}.csv") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert {s: (r["nbgrader_score"], r["verified_score"]) for s, r in rows.items()} == {
        "alice": (str(FULL), str(FULL)), "bob": (str(FULL - 3), str(FULL - 3)), "carol": ("0", "0")}
    # the zip-collected student has what `nbgrader submit` leaves, so release_feedback released her page too
    for name in ("timestamp.txt", "submission_secret.txt"):
        assert (course / "submitted" / "carol" / A / name).exists(), name
        assert (course / "feedback" / "carol" / A / name).exists(), name
    release = next(log for who, argv, log in logs if argv[:2] == ["nbgrader", "release_feedback"])
    assert all(f"Releasing feedback for student '{s}'" in release for s in ("alice", "bob", "carol")), release


def test_students_fetch_their_own_feedback(cycle):
    course, homes, _ = cycle
    for student, score in (("alice", FULL), ("bob", FULL - 3)):
        fetched = sorted((homes[student] / A / "feedback").glob(f"*/{A}.html"))
        assert len(fetched) == 1, fetched
        page = fetched[0].read_text()
        assert page == (course / "feedback" / student / A / f"{A}.html").read_text()
        assert re.search(rf"Score:\s*{score}(\.0)?\s*/\s*{MAX}(\.0)?", re.sub(r"<[^>]+>", " ", page)), student
        timestamp = (course / "submitted" / student / A / "timestamp.txt").read_text().strip()
        assert fetched[0].parent.name == timestamp  # the submission it answers
