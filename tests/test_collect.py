"""Collection that loses nothing and one consistent grade, on a messy class: an LMS zip (built here, with explicit
entry times) holding renamed files (` (1)`, `-1`), a late upload, two uploads of one student, a truncated notebook,
files that match no pattern, a student missing from the roster, an honest mistake that passes the visible checks, a
helper function in a cell of its own, an answer that never returns, an answer that prints 50 MB, a late upload
within an extension; a roster with a student who handed in nothing; a late policy; manual points and an override.
Graded twice (the same files), the Canvas and Moodle import files read column by column, the feedback pages' totals
read against the export; a stale re-run, Moodle's download and bad arguments checked on collection alone (fast).
Every expected score is derived from the source notebook's points.
"""

import csv
import html
import io
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from course import cell_by_id
from instructor_course import ROOT, auto_points, cell_points, make_course, manual_cells, points

from rnngrade import cli
from rnngrade.collect import submissions as collect
from rnngrade.export import ledger
from rnngrade.grade import autograde, sandbox

A = "ch02_forward"
FULL = auto_points(A)  # a full answer's autograded (and verified) score
MAX = points(A)  # max_score: the autograded and the manually graded points
MANUAL = manual_cells(A)  # the interpretation questions, graded by hand
CELL = cell_points(A)


def _fn(function):
    """The points of a graded function: its visible and its hidden test cell."""
    return CELL[f"test_{function}_visible"] + CELL[f"test_{function}_hidden"]


def _n(x):
    """A score as the CSV writes it."""
    return f"{float(x):g}"


BUDGET = 30  # seconds: the sandbox's budget, and so nbgrader's cell timeout
LIMITS = sandbox.Limits(step_timeout=BUDGET, submission_timeout=240)
POLICY = """[late]
rule = "percent_per_day"
percent_per_day = 10
max_percent = 50
grace_minutes = 15

[due]
ch02_forward = 2024-03-02T00:00:00Z

[extensions.ch02_forward]
ivan = 2
"""
SOLUTION = ROOT / "solutions" / A / f"{A}.ipynb"

ROSTER = """id,first_name,last_name,email,lms_id,section
alice,Alice,Liddell,alice@uni.example,1001,A
bob,Bob,Jones,bob@uni.example,1002,A
carol,Carol,Carroll,carol@uni.example,1003,B
dave,Dave,Doe,dave@uni.example,1004,B
frank,Frank,Fell,frank@uni.example,1006,B
erin,Erin,Evans,erin@uni.example,1005,A
gina,Gina,Gray,gina@uni.example,1007,A
hugo,Hugo,Hale,hugo@uni.example,1008,B
ivan,Ivan,Ince,ivan@uni.example,1009,B
lou,Lou,Lamb,lou@uni.example,1010,B
"""


def _edit(nb, grade_id, old, new):
    cell = cell_by_id(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


def _notebooks(course):
    """The class's notebooks, as JSON text:

    solution (FULL); wrong (W_hh not transposed in rnn_step_forward, which its visible checks catch: FULL minus
    rnn_step_forward's points); blank (the release: 0); honest_wrong (W_hh not transposed in rnn_forward, which its
    1x1 visible checks cannot tell: FULL minus rnn_forward's hidden points); helper (rnn_forward's loop body in a
    function of its own, in a cell of its own); loop (rnn_step_forward never returns); loud (param_count's cell
    prints one 50 MB line).
    """
    def fresh():
        return nbformat.read(str(SOLUTION), as_version=4)

    wrong = _edit(fresh(), "rnn_step_forward", "h_prev @ W_hh.T", "h_prev @ W_hh")
    honest_wrong = _edit(fresh(), "rnn_forward", "@ W_hh.T", "@ W_hh")
    helper = _edit(fresh(), "rnn_forward", "x @ W_ih.T + b_ih + b_hh", "project(x, W_ih, b_ih + b_hh)")
    at = helper.cells.index(cell_by_id(helper, "rnn_forward"))
    helper.cells.insert(at, nbformat.v4.new_code_cell(  # a cell of the student's own, which is not graded
        "def project(x, W, b):\n    return x @ W.T + b\n"))
    head = 'def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):'
    loop = _edit(fresh(), "rnn_step_forward", head, head + "\n    while True:\n        pass")
    loud = fresh()
    cell_by_id(loud, "param_count").source += "\nprint('x' * (50 * 2**20))\n"
    blank = nbformat.read(str(course / "exercises" / A / f"{A}.ipynb"), as_version=4)
    return {k: nbformat.writes(v) for k, v in (("solution", fresh()), ("wrong", wrong), ("blank", blank),
                                               ("honest_wrong", honest_wrong), ("helper", helper), ("loop", loop),
                                               ("loud", loud))}


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
        ("evanserin_1005_5006_ch02_forward.ipynb", nb["honest_wrong"], (2024, 3, 1, 13, 0, 0)),
        ("graygina_1007_5007_ch02_forward.ipynb", nb["helper"], (2024, 3, 1, 14, 0, 0)),
        ("halehugo_1008_5008_ch02_forward.ipynb", nb["loop"], (2024, 3, 1, 15, 0, 0)),
        # ivan: 35 hours after the due date, within his extension of 2 days
        ("inceivan_LATE_1009_5009_ch02_forward.ipynb", nb["solution"], (2024, 3, 3, 11, 0, 0)),
        ("lamblou_1010_5011_ch02_forward.ipynb", nb["loud"], (2024, 3, 1, 16, 0, 0)),
    ]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("messy"), [A])
    (course / "grades").mkdir()
    (course / "grades" / "policy.toml").write_text(POLICY)
    return course


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
                     limits=LIMITS, progress=False, canvas_id="4711")


@pytest.fixture(scope="module")
def graded(course, canvas_zip, roster_csv):
    report = _grade(course, canvas_zip, roster_csv)
    out = io.StringIO()
    cli.print_summary(report, out)
    print(out.getvalue())  # the instructor's summary of the messy class (shown with -s, or when a test fails)
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
    assert len(fates) == 14  # every file of the zip, and nothing else
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
    assert col.counts() == {"graded": 10, "superseded": 1, "not replaced": 0, "not matched": 3}
    assert f"collected {col.source} (--lms canvas): 14 file(s): 10 graded, 1 superseded, 3 not matched" in out
    assert "not matched  notes/readme for grader.txt: the name does not match --lms canvas" in out
    assert "superseded   jonesbob_1002_5002_ch02_forward.ipynb -> bob [2024-03-01 09:00:00]: by " in out


def test_grades_roster_and_submissions(course, graded):
    report, _ = graded
    rows = _by_student(report.csv[A])
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hugo", "ivan", "lou", "zedzoe"]
    scores = {s: (r["nbgrader_score"], r["verified_score"]) for s, r in rows.items()}
    assert scores["alice"] == (_n(FULL), _n(FULL))
    assert scores["bob"] == (_n(WRONG),) * 2  # the late full upload, not the early blank one
    assert scores["carol"] == ("0", "0") and scores["zedzoe"] == ("0", "0")
    # truncated: 0, and one flag says why and what to do (no "manual grading": nbgrader cannot open it either)
    assert scores["dave"][1] == "0" and rows["dave"]["flags"].startswith(
        "nothing to grade, scored 0 (ask the student to upload it again): not a readable notebook (JSONDecodeError: ")
    assert "submitted/" not in rows["dave"]["flags"]  # the reason, not our path to the file
    assert "manual grading" not in rows["dave"]["flags"] and "autograde failed" not in rows["dave"]["flags"]
    assert "see the above traceback" not in rows["dave"]["flags"]  # the flags say what is wrong, not where to look
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


WRONG = FULL - _fn("rnn_step_forward")  # bob's late upload: W_hh not transposed in rnn_step_forward
BOB_PENALTY = round(0.2 * WRONG, 2)  # 36 hours after the due date: 2 started days, 10% a day
FINAL = {"alice": FULL, "bob": WRONG - BOB_PENALTY, "carol": 0, "dave": 0, "frank": None, "zedzoe": 0,
         "erin": FULL - CELL["test_rnn_forward_hidden"], "gina": FULL - _fn("rnn_forward"),
         "hugo": FULL - _fn("rnn_step_forward"), "ivan": FULL, "lou": FULL}
NAMES = {"alice": ("Alice", "Liddell"), "bob": ("Bob", "Jones"), "carol": ("Carol", "Carroll"),
         "dave": ("Dave", "Doe"), "erin": ("Erin", "Evans"), "frank": ("Frank", "Fell"), "gina": ("Gina", "Gray"),
         "hugo": ("Hugo", "Hale"), "ivan": ("Ivan", "Ince"), "lou": ("Lou", "Lamb")}
IDS = {"alice": "1001", "bob": "1002", "carol": "1003", "dave": "1004", "erin": "1005", "frank": "1006",
       "gina": "1007", "hugo": "1008", "ivan": "1009", "lou": "1010", "zedzoe": "1099"}


def _final(student):
    return "" if FINAL[student] is None else _n(FINAL[student])


def test_canvas_and_moodle_import_files_carry_the_final_grade(graded):
    report, _ = graded
    canvas = _rows(report.exports[A]["canvas"])
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ch02_forward (4711)"]
    assert canvas[1] == ["Points Possible", "", "", "", "", _n(MAX)]
    # frank handed in nothing: blank, the LMS's own missing policy applies; zedzoe is not in the roster
    assert canvas[2:] == [[f"{NAMES[s][1]}, {NAMES[s][0]}" if s in NAMES else s, IDS[s], "", "", "", _final(s)]
                          for s in sorted(FINAL)]
    moodle = _rows(report.exports[A]["moodle"])
    assert moodle[0] == ["First name", "Last name", "ID number", "Email address", "ch02_forward"]
    assert moodle[1:] == [[*NAMES.get(s, ("", "")), IDS[s], f"{s}@uni.example" if s in NAMES else "", _final(s)]
                          for s in sorted(FINAL)]


def test_the_final_grade_late_policy_and_extension(graded):
    report, _ = graded
    rows = _by_student(report.csv[A])
    for student, row in rows.items():
        assert row["final"] == _final(student), (student, row)
        assert row["max_score"] == _n(MAX)
    bob = rows["bob"]
    assert (bob["late_days"], bob["penalty"], bob["manual"]) == ("2", _n(BOB_PENALTY), "0")
    assert f"late: 2 day(s) after the due date, -{BOB_PENALTY:g} (percent_per_day)" in bob["flags"]
    assert (rows["ivan"]["late_days"], rows["ivan"]["penalty"]) == ("0", "0")  # within his extension
    assert "late" not in rows["ivan"]["flags"]
    assert rows["alice"]["late_days"] == "0" and rows["alice"]["override"] == ""
    # the manually graded answers are still to grade for those who wrote them; the blank release's count 0
    assert "needs manual grading in nbgrader" in rows["alice"]["flags"]
    assert "needs manual grading" not in rows["carol"]["flags"]


def _feedback_text(course, student):
    text = html.unescape(re.sub(r"<[^>]+>", " ", (course / "feedback" / student / A / f"{A}.html").read_text()))
    return re.sub(r"\s+", " ", text)


def _feedback_total(course, student):
    text = _feedback_text(course, student)
    m = re.search(r"\(Score:\s*([\d.]+)\s*/\s*([\d.]+)\)", text)
    return float(m.group(1)), float(m.group(2))


def test_the_feedback_shows_the_exported_grade(course, graded):
    report, _ = graded
    rows = _by_student(report.csv[A])
    for student in sorted(set(FINAL) - {"frank", "dave"}):  # dave's notebook is truncated: nbgrader cannot run it
        got, out_of = _feedback_total(course, student)
        assert (got, out_of) == (float(rows[student]["final"]), MAX), student


def test_an_honest_mistake_keeps_its_visible_points_and_is_not_tampering(course, graded):
    report, _ = graded
    erin = _by_student(report.csv[A])["erin"]
    assert erin["nbgrader_score"] == erin["verified_score"] == _n(FULL - CELL["test_rnn_forward_hidden"]), erin
    assert "tampering" not in erin["flags"] and "not confirmed" not in erin["flags"], erin["flags"]
    fn = next(f for f in ledger.rows(course / "verified.db", A)["erin"]["functions"] if f["function"] == "rnn_forward")
    assert fn["visible_replayed"]
    assert fn["cells"]["test_rnn_forward_visible"]["verified"] == CELL["test_rnn_forward_visible"]
    assert fn["cells"]["test_rnn_forward_hidden"]["verified"] == 0


def test_a_helper_in_a_cell_of_its_own_is_warned_about_and_not_graded(course, graded):
    report, _ = graded
    gina = _by_student(report.csv[A])["gina"]
    assert (gina["nbgrader_score"], gina["verified_score"]) == (_n(FULL), _n(FULL - _fn("rnn_forward"))), gina
    assert "code outside the answer cells: `test_rnn_forward_" in gina["flags"], gina["flags"]
    assert "tampering" not in gina["flags"]
    # the visible checks warned her before she submitted
    nb = nbformat.read(str(course / "autograded" / "gina" / A / f"{A}.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for o in cell_by_id(nb, "test_rnn_forward_visible").outputs)
    assert "WARNING: `rnn_forward` uses `project`, defined outside the answer cells." in printed, printed


def test_an_answer_that_never_returns_costs_one_budget(course, graded):
    report, _ = graded
    nb = nbformat.read(str(course / "autograded" / "hugo" / A / f"{A}.ipynb"), as_version=4)
    timed_out = [c for c in nb.cells if any(o.get("ename") == "CellTimeoutError" for o in c.get("outputs", []))]
    not_run = [c for c in nb.cells if any(o.get("ename") == "NotRun" for o in c.get("outputs", []))]
    assert len(timed_out) == 1 and not_run, (len(timed_out), len(not_run))
    hugo = _by_student(report.csv[A])["hugo"]
    assert hugo["verified_score"] == _n(FULL - _fn("rnn_step_forward")), hugo  # every other function counts
    assert "tampering" not in hugo["flags"]


def test_a_50_mb_print_is_capped(course, graded):
    page = course / "feedback" / "lou" / A / f"{A}.html"
    assert page.stat().st_size < 4 * 2**20 and "output truncated" in page.read_text()
    nb = course / "autograded" / "lou" / A / f"{A}.ipynb"
    assert nb.stat().st_size < 4 * 2**20


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
    assert sum(1 for u in again.collections[A].uploads if "same as the copy graded before" in u.detail) == 10


def test_manual_points_and_an_override_reach_the_export_and_survive_a_rerun(course, canvas_zip, roster_csv, graded):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for gid, pts in MANUAL.items():
            gb.find_grade(gid, A, A, "alice").manual_score = pts
        gb.db.commit()
    assert cli.main(["--course", str(course), "--override", "carol", A, "5", "--reason", "regrade request #12"]) == 0
    rows = _by_student(course / "grades" / f"{A}.csv")
    assert (rows["alice"]["manual"], rows["alice"]["final"]) == (_n(sum(MANUAL.values())), _n(MAX))
    assert (rows["carol"]["override"], rows["carol"]["final"], rows["carol"]["verified_score"]) == ("5", "5", "0")
    assert "5 by " in rows["carol"]["override_log"] and "regrade request #12" in rows["carol"]["override_log"]
    assert "override: final 5 (regrade request #12)" in rows["carol"]["flags"]
    said = f"Your instructor set your grade for this assignment to 5 of {MAX:g} points"
    assert said in _feedback_text(course, "carol") and "Reason: regrade request #12" in _feedback_text(course, "carol")
    assert "Your instructor set" not in _feedback_text(course, "alice")
    assert _feedback_total(course, "carol") == (5.0, MAX)  # the page's headline score is the override
    again = _grade(course, canvas_zip, roster_csv)
    assert said in _feedback_text(course, "carol")  # a re-run makes the page again, with the override
    rows = _by_student(again.csv[A])
    assert (rows["carol"]["final"], rows["alice"]["final"]) == ("5", _n(MAX))
    assert _feedback_total(course, "alice") == (MAX, MAX)  # the manual points are in the feedback too
    canvas = {r[1]: r[-1] for r in _rows(again.exports[A]["canvas"])[2:]}
    assert (canvas["1001"], canvas["1003"]) == (_n(MAX), "5")
    assert cli.main(["--course", str(course), "--override", "carol", A, "none", "--reason", "lifted"]) == 0
    rows = _by_student(course / "grades" / f"{A}.csv")
    assert (rows["carol"]["override"], rows["carol"]["final"]) == ("", "0")
    assert rows["carol"]["override_log"].startswith("lifted by ")
    assert "Your instructor set" not in _feedback_text(course, "carol")


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
    broken = course / "broken.zip"  # an unfinished download: named .zip, not a zip
    broken.write_text("<html>session expired</html>")
    assert cli.main([A, "--course", str(course), "--quiet", "--submissions", str(broken), "--lms", "canvas"]) == 2
    assert "`--submissions` must be a readable zip" in (err := capsys.readouterr().err) and "not a zip" in err
    assert cli.main([A, "--course", str(course), "--quiet", "--policy", str(course / "nopolicy.toml")]) == 2
    assert "`--policy` must name an existing policy file" in capsys.readouterr().err
    assert cli.main(["--course", str(course), "--override", "zed", A, "5", "--reason", "x"]) == 2
    assert "`student` must be on the roster or have a submission" in capsys.readouterr().err
    assert cli.main(["--course", str(course), "--override", "alice", A, str(MAX + 1), "--reason", "x"]) == 2
    assert f"`score` must be a number from 0 to {MAX:g}" in capsys.readouterr().err


# -- the tampering rule, per test cell (fast: ledger rows made here) -----------------------------------------------

def _function(status, message, visible_status=None, replayed=True):
    shown = visible_status or status
    return {"function": "f", "status": status, "message": message, "visible_replayed": replayed, "cells": {
        "test_f_visible": {"points": 1.0, "verified": 1.0 if shown == "ok" else 0.0, "status": shown,
                           "message": message},
        "test_f_hidden": {"points": 2.0, "verified": 2.0 if status == "ok" else 0.0, "status": status,
                          "message": message}}}


def test_only_differences_nothing_honest_explains_read_as_tampering():
    both = {"test_f_visible": 1.0, "test_f_hidden": 2.0}
    # an honest mistake: nbgrader and the verifier agree cell by cell, so nothing is flagged
    assert ledger.tampering([_function("wrong", "`h` is wrong", visible_status="ok")],
                            {"test_f_visible": 1.0, "test_f_hidden": 0.0}) == []
    # nbgrader passed a check that the same inputs refute outside the kernel
    flags = ledger.tampering([_function("wrong", "`h` is wrong")], both)
    assert [f.split(":")[0] for f in flags] == ["suspected tampering"] * 2, flags
    assert flags[0].startswith("suspected tampering: `test_f_visible` nbgrader 1 > verified 0 (wrong: `h` is wrong)")
    # a helper in a cell of the student's own
    flags = ledger.tampering([_function("error", "NameError: name 'project' is not defined")], both)
    assert all(f.startswith("code outside the answer cells: `test_f_") for f in flags) and len(flags) == 2, flags
    # undecided: the sandbox ran out of time, or the visible calls could not be replayed
    flags = ledger.tampering([_function("failed", "timed out after 30 s")], both)
    assert all(f.startswith("not confirmed: ") for f in flags) and len(flags) == 2, flags
    flags = ledger.tampering([_function("wrong", "`h` is wrong", replayed=False)], both)
    assert [f.split(":")[0] for f in flags] == ["not confirmed", "suspected tampering"], flags
