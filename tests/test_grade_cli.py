"""`rnn-grade` end to end on a temporary course: an LMS zip in, gradebook, feedback and one CSV out; running it
again gives the same CSV and never a second grade; the console script works; bad arguments say what is wrong.
"""

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from course import cell_by_id
from instructor_course import ROOT, auto_points, make_course, points

from rnngrade import cli
from rnngrade.export import ledger
from rnngrade.grade import sandbox

A = "ch02_forward"
FULL = auto_points(A)  # a full answer's autograded (and verified) score
MAX = points(A)  # max_score: the autograded and the manually graded points
LIMITS = sandbox.Limits(step_timeout=30, submission_timeout=240)


def _students(course):
    """alice: the solution; bob_smith: W_hh not transposed; carol: the blank release."""
    honest = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    wrong = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    cell = cell_by_id(wrong, "rnn_step_forward")
    cell.source = cell.source.replace("h_prev @ W_hh.T", "h_prev @ W_hh")
    blank = nbformat.read(str(course / "exercises" / A / f"{A}.ipynb"), as_version=4)
    return {"alice": honest, "bob_smith": wrong, "carol": blank}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("cli"), [A])


@pytest.fixture(scope="module")
def lms_zip(course, tmp_path_factory):
    path = tmp_path_factory.mktemp("lms") / "ch02_submissions.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for student, nb in _students(course).items():
            zf.writestr(f"{student}_{A}.ipynb", nbformat.writes(nb))
    return path


@pytest.fixture(scope="module")
def first_run(course, lms_zip):
    report = cli.grade(course, [A], submissions=lms_zip, workers=2, limits=LIMITS, cell_timeout=30, progress=False)
    return report, Path(report.csv[A]).read_bytes()


def _csv(path):
    with open(path) as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_a_zip_from_the_lms_is_collected_graded_and_exported(course, first_run):
    report, _ = first_run
    rows = _csv(report.csv[A])
    assert sorted(rows) == ["alice", "bob_smith", "carol"]
    assert [rows["alice"][k] for k in ("nbgrader_score", "verified_score", "max_score")] == [str(FULL)] * 2 + [str(MAX)]
    # alice and bob_smith hand in the same notebook but for one line: the copy check names each in the other's row
    for student, other in (("alice", "bob_smith"), ("bob_smith", "alice")):
        flags = rows[student]["flags"].split(" | ")  # and their interpretation answers wait for a human
        assert all(f.startswith("copy: ") or f == "needs manual grading in nbgrader" for f in flags), flags
        assert any(f"`rnn_forward` matches {other}'s answer" in f for f in flags), flags
    assert rows["carol"]["flags"] == ""
    page = (Path(report.csv[A]).parent / f"{A}-copies.html").read_text()
    assert "alice and bob_smith" in page and "<mark" in page
    assert (rows["bob_smith"]["nbgrader_score"], rows["bob_smith"]["verified_score"]) == (str(FULL - 3),) * 2
    assert (rows["carol"]["nbgrader_score"], rows["carol"]["verified_score"]) == ("0", "0")
    for student in rows:
        assert (course / "feedback" / student / A / f"{A}.html").exists(), f"no feedback for {student}"
        assert (course / "autograded" / student / A / f"{A}.ipynb").exists()


def test_running_again_gives_the_same_csv_and_no_second_grade(course, lms_zip, first_run):
    _, before = first_run
    again = cli.grade(course, [A], submissions=lms_zip, workers=2, limits=LIMITS, cell_timeout=30, progress=False)
    assert Path(again.csv[A]).read_bytes() == before
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = gb.assignment_submissions(A)
        assert sorted(s.student.id for s in subs) == ["alice", "bob_smith", "carol"]
        assert {s.student.id: s.score for s in subs} == {"alice": FULL, "bob_smith": FULL - 3, "carol": 0}
    assert sorted(ledger.rows(course / "verified.db", A)) == ["alice", "bob_smith", "carol"]


def test_the_console_script(course, first_run):
    exe = Path(sys.executable).parent / "rnn-grade"
    proc = subprocess.run([str(exe), A, "--course", str(course), "--students", "alice", "--no-feedback", "--quiet",
                           "--timeout", "30", "--cell-timeout", "30"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "alice" in proc.stdout and "3 students: 3 submissions, 0 with no submission" in proc.stdout, proc.stdout
    assert Path(first_run[0].csv[A]).read_bytes() == first_run[1]


def test_a_folder_shaped_like_submitted_is_collected(course, tmp_path):
    folder = tmp_path / "exchange"
    (folder / "dave" / A).mkdir(parents=True)
    nbformat.write(_students(course)["alice"], folder / "dave" / A / f"{A}.ipynb")
    from rnngrade.collect import submissions as collect
    from rnngrade.grade import autograde

    col = collect.collect(autograde.Course.load(course), A, folder)
    assert "dave" in col.students
    assert [(u.file, u.student, u.fate) for u in col.uploads] == [(f"dave/{A}/{A}.ipynb", "dave", "graded")]
    assert (course / "submitted" / "dave" / A / f"{A}.ipynb").exists()
    for sub in ("submitted", "autograded", "feedback"):  # leave the module's course as it was
        import shutil

        shutil.rmtree(course / sub / "dave", ignore_errors=True)
    import sqlite3

    with sqlite3.connect(course / "verified.db") as con:
        con.execute("DELETE FROM upload WHERE student = 'dave'")


def test_bad_arguments_say_what_is_wrong(course, capsys):
    assert cli.main(["no_such_assignment", "--course", str(course), "--quiet"]) == 2
    assert "`assignments` must be among ['ch02_forward'], got ['no_such_assignment']" in capsys.readouterr().err
    assert cli.main(["--course", str(course / "nowhere"), "--quiet"]) == 2
    assert "must hold nbgrader_config.py" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--workers", "two"])
