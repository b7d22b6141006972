"""Collection that loses nothing, on a messy class: an LMS zip (built here, with explicit entry times) holding
renamed files (` (1)`, `-1`), a late upload, two uploads of one student, a truncated notebook, files that match no
pattern, a student missing from the roster; a roster with a student who handed in nothing. Graded twice (the same
CSV), the Canvas and Moodle import files read column by column; a stale re-run, Moodle's download and bad
arguments checked on collection alone (fast).
"""

import csv
import io
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from course import cell_by_id
from instructor_course import ROOT, make_course, points

from rnncore.instructor import autograde, cli, collect, ledger, sandbox

A = "ch02_forward"
FULL = points(A)  # a full answer's score
LIMITS = sandbox.Limits(step_timeout=30, submission_timeout=240)
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"

ROSTER = """id,first_name,last_name,email,lms_id,section
alice,Alice,Liddell,alice@uni.example,1001,A
bob,Bob,Jones,bob@uni.example,1002,A
carol,Carol,Carroll,carol@uni.example,1003,B
dave,Dave,Doe,dave@uni.example,1004,B
frank,Frank,Fell,frank@uni.example,1006,B
"""


def _notebooks(course):
    """solution (FULL), wrong (W_hh not transposed: FULL - 3), blank (the release: 0), as JSON text."""
    honest = nbformat.read(str(SOLUTION), as_version=4)
    wrong = nbformat.read(str(SOLUTION), as_version=4)
    cell = cell_by_id(wrong, "rnn_step_forward")
    cell.source = cell.source.replace("h_prev @ W_hh.T", "h_prev @ W_hh")
    blank = nbformat.read(str(course / "exercises" / A / f"{A}.ipynb"), as_version=4)
    return {k: nbformat.writes(v) for k, v in (("solution", honest), ("wrong", wrong), ("blank", blank))}


def _zip(path, entries):
    """A zip with explicit entry times: entries [(name, text, (Y, M, D, h, m, s))]."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text, when in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


def _canvas_class(nb):
    return [
        ("liddellalice_1001_5001_ch02_forward.ipynb", nb["solution"], (2024, 3, 1, 10, 0, 0)),
        # bob: an early partial upload, then a late full one that Canvas renamed -1 (the one to grade)
        ("jonesbob_1002_5002_ch02_forward.ipynb", nb["blank"], (2024, 3, 1, 9, 0, 0)),
        ("jonesbob_LATE_1002_5010_ch02_forward-1.ipynb", nb["wrong"], (2024, 3, 3, 12, 0, 0)),
        ("carrollcarol_1003_5003_ch02_forward (1).ipynb", nb["blank"], (2024, 3, 1, 11, 0, 0)),
        ("doedave_1004_5004_ch02_forward.ipynb", nb["solution"][:300], (2024, 3, 1, 12, 0, 0)),  # truncated
        ("zedzoe_1099_5005_ch02_forward.ipynb", nb["blank"], (2024, 3, 2, 8, 0, 0)),  # not in the roster
        ("__MACOSX/._liddellalice_1001_5001_ch02_forward.ipynb", "\0\0", (2024, 3, 1, 10, 0, 0)),
        ("ch02_forward.ipynb", nb["solution"], (2024, 3, 1, 10, 0, 0)),  # whose? no LMS prefix
        ("notes/readme for grader.txt", "hello", (2024, 3, 1, 10, 0, 0)),
    ]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("messy"), [A])


@pytest.fixture(scope="module")
def canvas_zip(course, tmp_path_factory):
    return _zip(tmp_path_factory.mktemp("lms") / "submissions.zip", _canvas_class(_notebooks(course)))


@pytest.fixture(scope="module")
def roster_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("roster") / "roster.csv"
    path.write_text(ROSTER)
    return path


def _grade(course, canvas_zip, roster_csv):
    return cli.grade(course, [A], submissions=canvas_zip, lms="canvas", roster=roster_csv, workers=2,
                     limits=LIMITS, cell_timeout=30, feedback=False, progress=False, canvas_id="4711")


@pytest.fixture(scope="module")
def graded(course, canvas_zip, roster_csv):
    report = _grade(course, canvas_zip, roster_csv)
    files = {k: Path(p).read_bytes() for k, p in [("csv", report.csv[A]), *report.exports[A].items()]
             if k != "warnings"}
    return report, files


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _by_student(path):
    with open(path, newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_every_file_has_a_fate_in_the_report(graded):
    report, _ = graded
    col = report.collections[A]
    fates = {u.file: (u.fate, u.student, u.detail) for u in col.uploads}
    assert len(fates) == 9  # every file of the zip, and nothing else
    assert fates["liddellalice_1001_5001_ch02_forward.ipynb"][:2] == ("graded", "alice")
    assert fates["jonesbob_LATE_1002_5010_ch02_forward-1.ipynb"][:2] == ("graded", "bob")
    assert "late (Canvas _LATE_)" in fates["jonesbob_LATE_1002_5010_ch02_forward-1.ipynb"][2]
    fate, student, detail = fates["jonesbob_1002_5002_ch02_forward.ipynb"]
    assert (fate, student) == ("superseded", "bob")
    assert detail.startswith("by jonesbob_LATE_1002_5010_ch02_forward-1.ipynb [2024-03-03 12:00:00]")
    assert fates["carrollcarol_1003_5003_ch02_forward (1).ipynb"][:2] == ("graded", "carol")
    fate, student, detail = fates["doedave_1004_5004_ch02_forward.ipynb"]
    assert (fate, student) == ("graded", "dave") and "not a readable notebook" in detail
    assert fates["zedzoe_1099_5005_ch02_forward.ipynb"][:2] == ("graded", "zedzoe")
    assert fates["__MACOSX/._liddellalice_1001_5001_ch02_forward.ipynb"] == (
        "not matched", "", "macOS metadata, not a submission")
    for name in ("ch02_forward.ipynb", "notes/readme for grader.txt"):
        assert fates[name][0] == "not matched" and "does not match --lms canvas" in fates[name][2], fates[name]
    # the same in the file beside the CSV, every name whole
    rows = _rows(report.exports[A]["collection"])
    assert rows[0] == ["file", "student", "uploaded", "fate", "detail"]
    assert sorted(r[0] for r in rows[1:]) == sorted(fates)
    assert ["jonesbob_1002_5002_ch02_forward.ipynb", "bob", "2024-03-01 09:00:00", "superseded"] in [
        r[:4] for r in rows]
    # and in the summary, whole names too
    buf = io.StringIO()
    cli.print_summary(report, out=buf)
    out = buf.getvalue()
    assert col.counts() == {"graded": 5, "superseded": 1, "not replaced": 0, "not matched": 3}
    assert f"collected {col.source} (--lms canvas): 9 file(s): 5 graded, 1 superseded, 3 not matched" in out
    assert "not matched  notes/readme for grader.txt: the name does not match --lms canvas" in out
    assert "superseded   jonesbob_1002_5002_ch02_forward.ipynb -> bob [2024-03-01 09:00:00]: by " in out


def test_grades_roster_and_submissions(course, graded):
    report, _ = graded
    rows = _by_student(report.csv[A])
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "frank", "zedzoe"]
    scores = {s: (r["nbgrader_score"], r["verified_score"]) for s, r in rows.items()}
    assert scores["alice"] == (str(FULL), str(FULL))
    assert scores["bob"] == (str(FULL - 3), str(FULL - 3))  # the late full upload, not the early blank one
    assert scores["carol"] == ("0", "0") and scores["zedzoe"] == ("0", "0")
    assert scores["dave"][1] == "0" and "not verifiable" in rows["dave"]["flags"]  # truncated: 0, flagged
    assert scores["frank"] == ("", "") and rows["frank"]["flags"] == "no submission"
    assert rows["frank"]["submission"] == "no submission"
    assert rows["bob"]["submission"] == "jonesbob_LATE_1002_5010_ch02_forward-1.ipynb [2024-03-03 12:00:00] LATE"
    stamp = (course / "submitted" / "bob" / A / "timestamp.txt").read_text()
    assert stamp.startswith("2024-03-03 12:00:00")
    up = ledger.uploads(course / "verified.db", A)["bob"]
    assert (up["file"], up["uploaded"], up["late"], up["lms_id"]) == (
        "jonesbob_LATE_1002_5010_ch02_forward-1.ipynb", "2024-03-03 12:00:00", 1, "1002")
    # zedzoe is not in the roster: filed under Canvas's name, the Canvas user id kept for the export
    assert collect.roster(autograde.Course.load(course))["zedzoe"]["lms_user_id"] == "1099"


def test_canvas_and_moodle_import_files(graded):
    report, _ = graded
    canvas = _rows(report.exports[A]["canvas"])
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ch02_forward (4711)"]
    assert canvas[1] == ["Points Possible", "", "", "", "", str(FULL)]
    assert canvas[2:] == [
        ["Liddell, Alice", "1001", "", "", "", str(FULL)],
        ["Jones, Bob", "1002", "", "", "", str(FULL - 3)],
        ["Carroll, Carol", "1003", "", "", "", "0"],
        ["Doe, Dave", "1004", "", "", "", "0"],
        ["Fell, Frank", "1006", "", "", "", ""],  # no submission: blank, the LMS's own missing policy applies
        ["zedzoe", "1099", "", "", "", "0"],
    ]
    moodle = _rows(report.exports[A]["moodle"])
    assert moodle[0] == ["First name", "Last name", "ID number", "Email address", "ch02_forward"]
    assert moodle[1:] == [
        ["Alice", "Liddell", "1001", "alice@uni.example", str(FULL)],
        ["Bob", "Jones", "1002", "bob@uni.example", str(FULL - 3)],
        ["Carol", "Carroll", "1003", "carol@uni.example", "0"],
        ["Dave", "Doe", "1004", "dave@uni.example", "0"],
        ["Frank", "Fell", "1006", "frank@uni.example", ""],
        ["", "", "1099", "", "0"],
    ]


def test_grading_twice_gives_identical_files(course, canvas_zip, roster_csv, graded):
    _, before = graded
    again = _grade(course, canvas_zip, roster_csv)
    after = {k: Path(p).read_bytes() for k, p in [("csv", again.csv[A]), *again.exports[A].items()]
             if k != "warnings"}
    assert after.keys() == before.keys() == {"csv", "collection", "canvas", "moodle"}
    for key in ("csv", "canvas", "moodle"):
        assert after[key] == before[key], key
    # the collection report says the same, and that the five graded files are the copies graded before
    assert after["collection"].replace(b"; same as the copy graded before", b"").replace(
        b",same as the copy graded before", b",") == before["collection"]
    assert sum(1 for u in again.collections[A].uploads if "same as the copy graded before" in u.detail) == 5


# -- collection alone (no grading) --------------------------------------------------------------------------------

@pytest.fixture
def bare(tmp_path):
    """A course folder enough for collecting: the config and the assignment's source."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions" / A, tmp_path / "solutions" / A)
    return autograde.Course.load(tmp_path)


def test_an_older_download_never_replaces_a_newer_graded_upload(bare, tmp_path):
    text = SOLUTION.read_text()
    partial = text.replace("h_prev @ W_hh.T", "h_prev @ W_hh")
    newer = _zip(tmp_path / "newer.zip", [("jonesbob_LATE_1002_5010_ch02_forward.ipynb", text, (2024, 3, 3, 12, 0, 0))])
    older = _zip(tmp_path / "older.zip", [("jonesbob_1002_5002_ch02_forward.ipynb", partial, (2024, 3, 1, 9, 0, 0))])
    sub = bare.submitted / "jonesbob" / A / f"{A}.ipynb"
    assert collect.collect(bare, A, newer, lms="canvas").uploads[0].fate == "graded"
    assert sub.read_text() == text
    stale = collect.collect(bare, A, older, lms="canvas")
    u = stale.uploads[0]
    assert (u.fate, u.student) == ("not replaced", "jonesbob")
    assert u.detail.startswith("older than the graded jonesbob_LATE_1002_5010_ch02_forward.ipynb "
                               "[2024-03-03 12:00:00], which is kept; --force-older grades this one instead")
    assert sub.read_text() == text and "not replaced" in "\n".join(stale.lines())
    # downloaded again later, the zip's entry times are new: Canvas's submission id still says it is older
    again = _zip(tmp_path / "again.zip", [("jonesbob_1002_5002_ch02_forward.ipynb", partial, (2024, 4, 1, 9, 0, 0))])
    assert collect.collect(bare, A, again, lms="canvas").uploads[0].fate == "not replaced"
    assert sub.read_text() == text
    forced = collect.collect(bare, A, older, lms="canvas", force_older=True)
    assert forced.uploads[0].fate == "graded" and "although older (--force-older)" in forced.uploads[0].detail
    assert sub.read_text() == partial
    assert ledger.uploads(bare.verified_db, A)["jonesbob"]["file"] == "jonesbob_1002_5002_ch02_forward.ipynb"
    # the newer one again: newer than what is graded, so it replaces it
    assert collect.collect(bare, A, newer, lms="canvas").uploads[0].fate == "graded"
    assert sub.read_text() == text


def test_moodle_download(bare, tmp_path):
    text = SOLUTION.read_text()
    roster = {"jane": {"first_name": "Jane", "last_name": "Smith", "email": "j@x", "lms_user_id": "77"}}
    path = _zip(tmp_path / "moodle.zip", [
        ("Jane Smith_4242_assignsubmission_file_/ch02_forward.ipynb", text, (2024, 3, 1, 9, 0, 0)),
        ("Jane Smith_4242_assignsubmission_file_/ch02_forward (1).ipynb", text + " ", (2024, 3, 1, 9, 30, 0)),
        ("Jane Smith_4242_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>", (2024, 3, 1, 9, 0, 0)),
        ("Zoë Ng-Li_4243_assignsubmission_file_/my work.ipynb", text, (2024, 3, 1, 9, 0, 0)),
    ])
    col = collect.collect(bare, A, path, lms="moodle", roster=roster)
    fates = {u.file: (u.fate, u.student) for u in col.uploads}
    assert fates == {
        "Jane Smith_4242_assignsubmission_file_/ch02_forward.ipynb": ("superseded", "jane"),
        "Jane Smith_4242_assignsubmission_file_/ch02_forward (1).ipynb": ("graded", "jane"),
        "Jane Smith_4242_assignsubmission_onlinetext_/onlinetext.html": ("not matched", ""),
        "Zoë Ng-Li_4243_assignsubmission_file_/my work.ipynb": ("graded", "zoe_ng_li"),
    }
    assert (bare.submitted / "zoe_ng_li" / A / f"{A}.ipynb").exists()
    details = {u.file: u.detail for u in col.uploads}
    assert "not a notebook" in details["Jane Smith_4242_assignsubmission_onlinetext_/onlinetext.html"]
    assert "named `my work.ipynb`, graded as ch02_forward.ipynb" in details[
        "Zoë Ng-Li_4243_assignsubmission_file_/my work.ipynb"]
    assert col.lms_ids == {}  # Moodle's participant ids change per assignment: not kept as LMS ids


def test_regexp_and_renames_by_default(bare, tmp_path):
    text = SOLUTION.read_text()
    path = _zip(tmp_path / "plain.zip", [
        ("alice_ch02_forward.ipynb", text, (2024, 3, 1, 9, 0, 0)),
        ("alice_ch02_forward (2).ipynb", text + " ", (2024, 3, 1, 9, 0, 0)),  # same time: the rename number decides
        ("bob_ch03_bptt.ipynb", text, (2024, 3, 1, 9, 0, 0)),
    ])
    col = collect.collect(bare, A, path)
    assert {u.file: u.fate for u in col.uploads} == {
        "alice_ch02_forward.ipynb": "superseded", "alice_ch02_forward (2).ipynb": "graded",
        "bob_ch03_bptt.ipynb": "not matched"}
    stamped = _zip(tmp_path / "stamped.zip", [
        ("sub/carol--2024-03-05T10:00:00--ch02_forward.ipynb", text, (2020, 1, 1, 0, 0, 0)),
        ("sub/carol--2024-03-04T10:00:00--ch02_forward.ipynb", text + " ", (2030, 1, 1, 0, 0, 0)),
    ])
    col = collect.collect(bare, A, stamped,
                          regexp=r".*/(?P<student_id>[^/-]+)--(?P<timestamp>[^/]+?)--(?P<file_id>[^/]+)$")
    assert {u.file: u.fate for u in col.uploads} == {  # the time in the name wins over the entry's time
        "sub/carol--2024-03-05T10:00:00--ch02_forward.ipynb": "graded",
        "sub/carol--2024-03-04T10:00:00--ch02_forward.ipynb": "superseded"}


def test_bad_arguments_name_the_argument_and_the_value(course, canvas_zip, capsys):
    assert cli.main([A, "--course", str(course), "--quiet", "--submissions", str(canvas_zip),
                     "--regexp", r".*/(?P<who>\w+)\.ipynb"]) == 2
    err = capsys.readouterr().err
    assert "`--regexp` must have a named group (?P<student_id>...), got '.*/(?P<who>\\\\w+)\\\\.ipynb'" in err
    assert "(groups: ['who'])" in err
    assert cli.main([A, "--course", str(course), "--quiet", "--submissions", str(canvas_zip),
                     "--regexp", "(unclosed"]) == 2
    assert "`--regexp` must be a regular expression, got '(unclosed'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([A, "--lms", "blackboard"])
    assert "argument --lms: invalid choice: 'blackboard' (choose from 'canvas', 'moodle')" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"`--lms` must be one of \['canvas', 'moodle'\], got 'blackboard'"):
        collect.check_pattern(lms="blackboard")
    assert cli.main([A, "--course", str(course), "--quiet", "--lms", "canvas"]) == 2
    assert "give --submissions too" in capsys.readouterr().err
    assert cli.main([A, "--course", str(course), "--quiet", "--roster", str(canvas_zip)]) == 2
    assert "`--roster` " in (err := capsys.readouterr().err) and "must be a CSV" in err
