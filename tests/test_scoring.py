"""One consistent score (the verifier awards points per test cell, like the notebook), the final grade (manual
points, late policy, overrides) and limits that hold (output capped by bytes, one budget for an answer that never
returns), end to end with `rnn-grade` on a small class of chapter 2.
"""

import csv
import html
import re
import shutil

import nbformat
import pytest
from course import cell_by_id
from instructor_course import ROOT
from nbformat.v4 import new_markdown_cell

from rnncore.instructor import autograde, cli, ledger, sandbox

A = "ch02_forward"
BUDGET = 5  # seconds: the sandbox's budget, and so nbgrader's cell timeout


def _course(tmp):
    """ch02_forward with one manually graded answer (2 points) added to the source notebook."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions" / A, tmp / "solutions" / A)
    path = tmp / "solutions" / A / f"{A}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = new_markdown_cell("Explain in two sentences why a transposed `W_hh` passes a 1x1 check.")
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "grade_id": "explain",
                                 "points": 2, "schema_version": 3, "task": False}
    nb.cells.append(cell)
    nbformat.write(nb, str(path))
    autograde._generate(tmp, f"sqlite:///{tmp / 'gradebook.db'}", A, "test_scoring")
    return tmp


def _answer(nb, function, old, new):
    cell = cell_by_id(nb, function)
    assert old in cell.source, (function, old)
    cell.source = cell.source.replace(old, new)


def _submit(course, student, nb, uploaded="2024-03-01 10:00:00"):
    dest = course / "submitted" / student / A
    dest.mkdir(parents=True)
    nbformat.write(nb, str(dest / f"{A}.ipynb"))
    (dest / "timestamp.txt").write_text(uploaded)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("scoring"))
    source = course / "solutions" / A / f"{A}.ipynb"

    def fresh():
        return nbformat.read(str(source), as_version=4)

    honest_wrong = fresh()  # a transposed W_hh: passes the 1x1 visible checks of rnn_forward, fails the hidden ones
    _answer(honest_wrong, "rnn_forward", "@ W_hh.T", "@ W_hh")
    tamper = fresh()  # rnn_forward returns zeros and switches the checks off in the kernel
    cell = cell_by_id(tamper, "rnn_forward")
    cell.source += ("\nfrom rnncore import grading as _g\n_g.check_output = _g.check_close = _g.check_shape = "
                    "lambda *a, **k: None\n_real = rnn_forward\ndef rnn_forward(*a, **k):\n"
                    "    hs, cache = _real(*a, **k)\n    return 0 * hs, cache\n")
    loud = fresh()  # one 50 MB line, printed by the answer cell
    cell_by_id(loud, "param_count").source += "\nprint('x' * (50 * 2**20))\n"
    loop = fresh()  # rnn_step_forward never returns
    head = 'def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):'
    _answer(loop, "rnn_step_forward", head, head + "\n    while True:\n        pass")
    on_time, after = "2024-03-01 10:00:00", "2024-03-03 09:00:00"
    for student, nb, when in [("alice", fresh(), on_time), ("bob", honest_wrong, on_time), ("mallory", tamper, on_time),
                              ("lou", loud, on_time), ("hugo", loop, on_time), ("late", fresh(), after),
                              ("ext", fresh(), after)]:
        _submit(course, student, nb, when)
    (course / "grades").mkdir()
    (course / "grades" / "policy.toml").write_text(
        '[late]\nrule = "percent_per_day"\npercent_per_day = 10\nmax_percent = 50\ngrace_minutes = 15\n\n'
        '[due]\nch02_forward = 2024-03-01T23:59:00Z\n\n[extensions.ch02_forward]\next = 2\n')
    limits = sandbox.Limits(step_timeout=BUDGET, submission_timeout=240)
    report = cli.grade(course, [A], workers=2, limits=limits, progress=False)
    return course, report


def _csv(path):
    with open(path) as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def _feedback_total(course, student):
    text = html.unescape(re.sub(r"<[^>]+>", " ", (course / "feedback" / student / A / f"{A}.html").read_text()))
    m = re.search(r"Score:\s*([\d.]+)\s*/\s*([\d.]+)", text)
    return float(m.group(1)), float(m.group(2))


def test_an_honest_mistake_keeps_the_visible_point_and_is_not_tampering(graded):
    course, report = graded
    rows = _csv(report.csv[A])
    bob = rows["bob"]
    assert (bob["nbgrader_score"], bob["verified_score"], bob["max_score"]) == ("11", "11", "15"), bob
    assert "suspected tampering" not in bob["flags"], bob["flags"]
    cells = ledger.rows(course / "verified.db", A)["bob"]
    fn = next(f for f in cells["functions"] if f["function"] == "rnn_forward")
    assert fn["visible_replayed"] and fn["cells"]["test_rnn_forward_visible"]["verified"] == 1
    assert fn["cells"]["test_rnn_forward_hidden"]["verified"] == 0


def test_tampering_is_still_flagged(graded):
    course, report = graded
    mallory = _csv(report.csv[A])["mallory"]
    assert float(mallory["nbgrader_score"]) > float(mallory["verified_score"]) == 10, mallory
    assert "suspected tampering: `test_rnn_forward_" in mallory["flags"], mallory["flags"]


def test_the_feedback_shows_the_exported_autograde_total(graded):
    course, report = graded
    rows = _csv(report.csv[A])
    for student in ("alice", "bob", "mallory", "hugo"):
        got, out_of = _feedback_total(course, student)
        assert got == float(rows[student]["verified_score"]) + float(rows[student]["manual"] or 0), student
        assert out_of == float(rows[student]["max_score"]) == 15


def test_late_penalty_extension_manual_points_and_an_override_kept_across_reruns(graded):
    course, report = graded
    rows = _csv(report.csv[A])
    assert (rows["late"]["late_days"], rows["late"]["penalty"], rows["late"]["final"]) == ("2", "2.6", "10.4")
    assert (rows["ext"]["late_days"], rows["ext"]["penalty"], rows["ext"]["final"]) == ("0", "0", "13")
    assert (rows["alice"]["late_days"], rows["alice"]["final"]) == ("0", "13")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.find_grade("explain", A, A, "alice").manual_score = 2
        gb.db.commit()
    assert cli.main(["--course", str(course), "--override", "bob", A, "14", "--reason", "regrade request #12"]) == 0
    rows = _csv(course / "grades" / f"{A}.csv")
    assert (rows["alice"]["manual"], rows["alice"]["final"]) == ("2", "15")
    assert (rows["bob"]["override"], rows["bob"]["final"]) == ("14", "14")
    assert "14 by " in rows["bob"]["override_log"] and "regrade request #12" in rows["bob"]["override_log"]
    again = cli.grade(course, [A], students=["bob"], limits=sandbox.Limits(step_timeout=BUDGET), progress=False)
    rows = _csv(again.csv[A])
    assert (rows["bob"]["verified_score"], rows["bob"]["final"]) == ("11", "14")
    canvas = (course / "grades" / f"{A}-canvas.csv").read_text().splitlines()
    assert canvas[1].endswith(",15") and any(line.endswith(",14") for line in canvas[2:]), canvas


def test_a_50_mb_print_is_capped_in_the_feedback(graded):
    course, _ = graded
    page = course / "feedback" / "lou" / A / f"{A}.html"
    assert page.stat().st_size < 4 * 2**20
    assert "output truncated" in page.read_text()


def test_an_answer_that_never_returns_costs_one_budget(graded):
    course, report = graded
    nb = nbformat.read(str(course / "autograded" / "hugo" / A / f"{A}.ipynb"), as_version=4)
    timed_out = [c for c in nb.cells if any(o.get("ename") == "CellTimeoutError" for o in c.get("outputs", []))]
    not_run = [c for c in nb.cells if any(o.get("ename") == "NotRun" for o in c.get("outputs", []))]
    assert len(timed_out) == 1 and not_run, (len(timed_out), len(not_run))
    rows = _csv(report.csv[A])
    assert rows["hugo"]["verified_score"] == "10"  # rnn_step_forward loses its 3 points, every other function counts
    assert "suspected tampering" not in rows["hugo"]["flags"]
