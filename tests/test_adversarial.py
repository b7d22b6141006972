"""Adversarial submissions through the whole instructor cycle (rnn-grade's `grade`): nobody earns verified points
they do not deserve, in-kernel cheats are flagged, and every other student's grade survives the batch.

Every attack of tests/attacks.py runs on ch02_forward; a representative set (the attacks that use the
assignment's own code: monkeypatching its checks, an input transformer over its test cells, unlocking and
calling the reference of each of its graded functions) runs on every other assignment, so new assignments are
covered without changes here. ch02_forward runs with a 5 s nbgrader cell timeout and 5 s sandbox steps (its
attacks hang on purpose) and 1 GiB per process, the others with 60 s and 2 GiB (ch07 trains a torch model).
"""

import time

import attacks
import nbformat
import pytest
from instructor_course import ROOT, assignments, auto_points, make_course, points

from rnngrade import cli, notebook
from rnngrade.export import ledger
from rnngrade.grade import sandbox

FULL = "ch02_forward"


def _plan():
    names = assignments()
    return names, [(a, s) for a in names for s in (attacks.ALL if a == FULL else attacks.REPRESENTATIVE)]


NAMES, ATTACKS = _plan()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("adversarial"), NAMES)
    deserved = {}
    for a in NAMES:
        source = nbformat.read(str(ROOT / "solutions" / a / f"{a}.ipynb"), as_version=4)
        release = nbformat.read(str(course / "exercises" / a / f"{a}.ipynb"), as_version=4)
        attacks.write(source, course / "submitted" / "honest" / a / f"{a}.ipynb")
        for attack in (attacks.ALL if a == FULL else attacks.REPRESENTATIVE):
            reach = [course] if attack == "gradebook_vandal" else [course, ROOT]  # never the repository's gradebook
            nb, fair = attacks.build(attack, source, release, extra_paths=reach)
            attacks.write(nb, course / "submitted" / attack / a / f"{a}.ipynb")
            deserved[(a, attack)] = fair
    # ch02_forward with short limits (its attacks hang on purpose); the others with the course's own cell timeout,
    # since an honest answer may train a model (ch07) for longer than 5 s.
    started, reports = time.monotonic(), []
    for names, timeout in [([FULL], 5), ([a for a in NAMES if a != FULL], 60)]:
        if names:
            limits = sandbox.Limits(cpu_seconds=60, memory_mb=1024 if timeout < 60 else 2048, step_timeout=timeout,
                                    submission_timeout=240)
            reports.append(cli.grade(course, names, workers=2, limits=limits, cell_timeout=timeout,
                                     extra_hide=[ROOT / "solutions"], feedback=False, progress=False))
    seconds = time.monotonic() - started
    report = cli.Report(isolation=reports[0].isolation, submissions=sum(r.submissions for r in reports))
    for r in reports:
        report.csv.update(r.csv)
        report.rows.update(r.rows)
        report.job_seconds += r.job_seconds
    rows = {(a, r[0]): r for a, records in report.rows.items() for r in records}
    print(f"\nadversarial batch: {report.submissions} submissions in {seconds:.0f} s (isolation {report.isolation}); "
          f"slowest jobs {[round(s) for s in sorted(report.job_seconds)[-5:]]}")
    for (a, student), (_, nbg, ver, mx, flags) in sorted(rows.items()):
        print(f"  {a:<20} {student:<26} nbgrader {nbg!s:>5} verified {ver!s:>5} / {mx:g}  "
              f"{'FLAGGED' if any(f.startswith('suspected') for f in flags) else ''}")
    return course, report, rows, deserved


def _points(a):
    return notebook.read_source(ROOT / "solutions" / a / f"{a}.ipynb").points


def test_every_submission_is_graded_and_exported(batch):
    course, report, rows, deserved = batch
    assert report.submissions == len(ATTACKS) + len(NAMES)
    for a, attack in [*ATTACKS, *[(a, "honest") for a in NAMES]]:
        assert (a, attack) in rows, f"{attack} ({a}) is missing from {report.csv[a]}"
        assert rows[(a, attack)][2] is not None, f"{attack} ({a}) was not verified"


@pytest.mark.parametrize("name", NAMES)
def test_honest_student_in_the_same_batch_keeps_full_marks(batch, name):
    course, report, rows, _ = batch
    _, nbg, ver, mx, flags = rows[(name, "honest")]
    # full autograded marks; max_score also counts the written answers, graded by hand later
    assert (nbg, ver, mx) == (auto_points(name), auto_points(name), points(name)), \
        f"honest: nbgrader {nbg}, verified {ver}, max {mx}: {flags}"
    assert not [f for f in flags if f.startswith(("suspected", "autograde failed", "sandbox"))], flags


@pytest.mark.parametrize("name,attack", ATTACKS, ids=[f"{a}-{s}" for a, s in ATTACKS])
def test_attack_earns_exactly_the_verified_points_it_deserves(batch, name, attack):
    course, report, rows, deserved = batch
    _, nbg, ver, mx, flags = rows[(name, attack)]
    points = _points(name)
    fair = sum(points[f] for f in deserved[(name, attack)])
    assert ver == fair, f"{attack} on {name}: verified {ver}, deserves {fair} (nbgrader {nbg}): {flags}"
    if nbg is not None and nbg > ver:
        assert any(f.startswith("suspected tampering") for f in flags), f"{attack}: nbgrader {nbg} > {ver}, no flag"


def test_in_kernel_cheats_are_caught_by_the_verifier_and_flagged(batch):
    course, report, rows, _ = batch
    for attack, code in [("transformer", "get_ipython"), ("monkeypatch", "monkeypatch")]:
        for a in NAMES:
            flags = rows[(a, attack)][4]
            assert any(f"integrity: {code}" in f for f in flags), f"{attack} ({a}) has no {code} flag: {flags}"


def test_isolated_workers_cannot_read_solutions_or_reach_the_gradebook(batch):
    course, report, rows, _ = batch
    if report.isolation != "namespaces":
        pytest.skip("no namespace isolation on this machine: the in-kernel score of these attacks is not protected")
    assert rows[(FULL, "read_solutions")][1] == 0, "read_solutions got nbgrader points"
    assert rows[(FULL, "gradebook_vandal")][1] == 0


def test_rerunning_one_student_changes_nothing_else(batch):
    course, report, rows, _ = batch
    before = {k: v for k, v in ledger.rows(course / "verified.db", FULL).items() if k != "honest"}
    again = cli.grade(course, [FULL], students=["honest"], limits=sandbox.Limits(step_timeout=10), cell_timeout=10,
                      extra_hide=[ROOT / "solutions"], progress=False)
    after = {k: v for k, v in ledger.rows(course / "verified.db", FULL).items() if k != "honest"}
    assert {k: v["verified"] for k, v in before.items()} == {k: v["verified"] for k, v in after.items()}
    new = {r[0]: r for r in again.rows[FULL]}
    assert new["honest"][1] == new["honest"][2] == auto_points(FULL) and new["honest"][3] == points(FULL)
    assert {s: r[1:4] for s, r in new.items()} == {s: rows[(FULL, s)][1:4] for s in new}
