"""The verified grades (the ledger), the flags, and the CSV exports.

The ledger lives next to nbgrader's gradebook: in a small sqlite file (`verified.db`) when the gradebook is nbgrader's
sqlite file, and in the gradebook's own PostgreSQL database (schema `rnn_grade`, beside nbgrader's tables) when
`--db-url` or nbgrader_config.py names one; every function here takes either the sqlite file's path or the database
URL (`where`). Two tables, one row per (assignment, student) in each (the primary key), written with an upsert in
a transaction of its own: re-grading never adds a second row, and two graders writing at once never lose or double
a row. `verification` holds the verified grade of the submission graded last; `upload` the upload it came from
(its file name in the LMS download, sha256, the upload time the LMS gave, late or not, the LMS user id), so that a
re-run with an older download can tell that it is older (collect.py). `course_lock` serialises what several
graders of one course must not do at the same time (nbgrader's gradebook writes, collection, the exports): a
PostgreSQL advisory lock, or a file lock next to the sqlite ledger.

The CSV per assignment has one line per student of the roster or with a submission: student_id, nbgrader_score
(from the gradebook now, so manual grades count), verified_score, max_score, flags (" | "-separated) and submission
(the file graded and its upload time, or "no submission"), sorted by student id. canvas_csv and moodle_csv write
the LMS's own grade-import files. Every file is written whole or not at all (a temporary file renamed).
"""

import contextlib
import csv
import json
import os
import threading
from pathlib import Path

from . import integrity

# The columns of the two tables, in order (an added column goes into SCHEMA and here).
VERIFICATION = ("assignment", "student", "submission_sha256", "source_sha256", "verified", "max_score", "functions",
                "flags", "isolation", "seconds", "updated")
UPLOAD = ("assignment", "student", "file", "sha256", "uploaded", "late", "lms_id", "source", "collected")
PG_SCHEMA = "rnn_grade"  # PostgreSQL: the ledger's tables, apart from nbgrader's (which sees only `public`)
LOCK_KEY = (1920, 17)  # PostgreSQL advisory lock of rnn-grade's course-wide steps (two int4 keys)

SCHEMA = """
CREATE TABLE IF NOT EXISTS {verification} (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    submission_sha256 TEXT,
    source_sha256 TEXT,
    verified DOUBLE PRECISION,
    max_score DOUBLE PRECISION,
    functions TEXT,
    flags TEXT,
    isolation TEXT,
    seconds DOUBLE PRECISION,
    updated TEXT,
    PRIMARY KEY (assignment, student)
);
CREATE TABLE IF NOT EXISTS {upload} (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    file TEXT,
    sha256 TEXT,
    uploaded TEXT,
    late INTEGER,
    lms_id TEXT,
    source TEXT,
    collected TEXT,
    PRIMARY KEY (assignment, student)
);
"""

_engines = {}
_ready = set()
_guard = threading.Lock()


def database_url(url):
    """A gradebook URL as SQLAlchemy reads it; ValueError naming `--db-url` unless sqlite or PostgreSQL.

    `postgresql://user@host:port/db` uses the pinned driver (psycopg 3, SQLAlchemy's default); `postgres://` is
    read as `postgresql://`. Keep a password out of the URL (libpq reads PGPASSWORD or ~/.pgpass): the URL is
    printed in messages and copied with the course's configuration.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = str(url)
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://"):]
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise ValueError(f"ledger: `--db-url` must be sqlite:///<file> or postgresql://<user>@<host>:<port>/<db>, "
                         f"got {text!r}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"ledger: `--db-url` must be sqlite:///<file> or postgresql://<user>@<host>:<port>/<db>, "
                         f"got {parsed.render_as_string(hide_password=True)!r}")
    return text


def is_postgres(where):
    """True if `where` is a PostgreSQL URL."""
    return str(where).startswith(("postgresql", "postgres://"))


def _url(where):
    text = str(where)
    return database_url(text) if "://" in text else f"sqlite:///{Path(text).resolve()}"


def _engine(where):
    """The (cached) engine of the ledger at `where`, its tables created once per process."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    url = _url(where)
    with _guard:
        engine = _engines.get(url)
        if engine is None:
            args = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
            engine = _engines[url] = create_engine(url, poolclass=NullPool, future=True, **args)
        if url not in _ready or (url.startswith("sqlite") and not Path(url[len("sqlite:///"):]).exists()):
            with engine.begin() as con:
                if engine.dialect.name == "postgresql":  # concurrent CREATE ... IF NOT EXISTS can fail: one at a time
                    con.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK_KEY[0], "b": 0})
                    con.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
                for statement in SCHEMA.format(**_tables(engine)).split(";"):
                    if statement.strip():
                        con.execute(text(statement))
            _ready.add(url)
    return engine


def _tables(engine):
    prefix = f"{PG_SCHEMA}." if engine.dialect.name == "postgresql" else ""
    return {"verification": f"{prefix}verification", "upload": f"{prefix}upload"}


def connect(where):
    """Open (creating) the ledger at `where` (a sqlite file's path or a database URL); return a connection."""
    return _engine(where).connect()


def _upsert(where, table, columns, values):
    """Insert one row, or replace the row with its primary key (assignment, student), in one transaction."""
    from sqlalchemy import text

    engine = _engine(where)
    names = ", ".join(columns)
    params = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    with engine.begin() as con:
        con.execute(text(f"INSERT INTO {_tables(engine)[table]} ({names}) VALUES ({params}) "
                         f"ON CONFLICT (assignment, student) DO UPDATE SET {updates}"), dict(zip(columns, values)))


def _select(where, table, assignment):
    from sqlalchemy import text

    if not is_postgres(where) and "://" not in str(where) and not Path(where).exists():
        return []
    engine = _engine(where)
    with engine.connect() as con:
        result = con.execute(text(f"SELECT * FROM {_tables(engine)[table]} WHERE assignment = :a ORDER BY student"),
                             {"a": assignment})
        return [dict(row) for row in result.mappings()]


def record(where, assignment, student, row):
    """Store one submission's verification, replacing any earlier one."""
    _upsert(where, "verification", VERIFICATION, (
        assignment, student, row.get("submission_sha256"), row.get("source_sha256"), row.get("verified"),
        row.get("max_score"), json.dumps(row.get("functions", [])), json.dumps(row.get("flags", [])),
        row.get("isolation"), row.get("seconds"), row.get("updated")))


def rows(where, assignment):
    """{student: row dict} for one assignment."""
    out = {}
    for row in _select(where, "verification", assignment):
        row["functions"] = json.loads(row["functions"] or "[]")
        row["flags"] = json.loads(row["flags"] or "[]")
        out[row["student"]] = row
    return out


def record_upload(where, assignment, student, upload):
    """Store the upload now in submitted/ for (assignment, student): file, sha256, uploaded, late, lms_id, source."""
    import datetime

    _upsert(where, "upload", UPLOAD, (
        assignment, student, upload.get("file"), upload.get("sha256"), upload.get("uploaded"),
        int(bool(upload.get("late"))), upload.get("lms_id"), upload.get("source"),
        datetime.datetime.now(datetime.timezone.utc).isoformat()))


def uploads(where, assignment):
    """{student: upload row dict} for one assignment."""
    return {row["student"]: row for row in _select(where, "upload", assignment)}


_held = {}  # url -> (depth, release) of the course lock this process holds
_held_lock = threading.RLock()


def lock_file(where):
    """The file of the course lock when the ledger is a sqlite file (None for a database server)."""
    url = _url(where)
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url[len("sqlite:///"):])
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def course_lock(where):
    """Hold the course-wide lock of the ledger at `where` (re-entrant in this process; waits for other processes).

    PostgreSQL: a session advisory lock, on a connection of its own, so graders on several machines take turns;
    sqlite: an flock on `lock_file(where)`, for graders on this machine.
    """
    url = _url(where)
    with _held_lock:
        depth, release = _held.get(url, (0, None))
        if depth == 0:
            release = _acquire(where, url)
        _held[url] = (depth + 1, release)
    try:
        yield
    finally:
        with _held_lock:
            depth, release = _held[url]
            if depth == 1:
                del _held[url]
                release()
            else:
                _held[url] = (depth - 1, release)


def _acquire(where, url):
    if url.startswith("sqlite"):
        import fcntl

        fd = os.open(lock_file(where), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)

        def release():
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        return release
    from sqlalchemy import text

    con = _engine(where).connect()
    con.execute(text("SELECT pg_advisory_lock(:a, :b)"), {"a": LOCK_KEY[0], "b": LOCK_KEY[1]})
    con.commit()

    def release():
        try:
            con.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": LOCK_KEY[0], "b": LOCK_KEY[1]})
            con.commit()
        finally:
            con.close()  # closing the session releases its advisory locks in any case

    return release


@contextlib.contextmanager
def _atomic(path):
    """Write `path` whole or not at all: yield a text file handle on a temporary file, renamed over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", newline="") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def function_scores(nb_scores, functions):
    """nbgrader's points per graded function: the sum of its test cells' scores (None when ungraded)."""
    out = {}
    for f in functions:
        cells = [v for k, v in nb_scores.items() if k in (f"test_{f}_visible", f"test_{f}_hidden")]
        out[f] = None if not cells or any(s is None for s, _ in cells) else float(sum(s for s, _ in cells))
    return out


def tampering(functions, nb_scores):
    """'suspected tampering' flags: functions where nbgrader's points exceed the verified points.

    Parameters
    ----------
    functions : list of dicts with function, verified, status, message (as stored in the ledger)
    nb_scores : {grade_id: (score or None, max_score)} from the gradebook
    """
    flags = []
    nb_fn = function_scores(nb_scores, [f["function"] for f in functions])
    for f in functions:
        got = nb_fn.get(f["function"])
        if f["status"] == "unverified":
            continue  # no cases for it: the instructor's configuration, not the student, is at fault
        if got is not None and got > f["verified"] + 1e-9:
            flags.append(f"suspected tampering: `{f['function']}` nbgrader {got:g} > verified {f['verified']:g} "
                         f"({f['status']}: {f['message'][:160]})")
    return flags


def flags_for(verification, worker=None):
    """The other flags of one submission (list of str): unverified functions, failures, integrity, sandbox notes."""
    flags = []
    for f in verification.functions:
        if f.status == "unverified":
            flags.append(f"unverified `{f.function}` (verified 0; add its cases to rnncore/instructor/cases.py): "
                         f"{f.message[:160]}")
    if verification.error:
        flags.append(f"not verifiable: {verification.error[:160]}")
    if worker is not None and not worker.success:
        flags.append(f"autograde failed (needs manual grading): {worker.message[:200]}")
    seen = set()
    for flag in verification.flags:
        text = integrity.render(flag)
        if text not in seen:
            seen.add(text)
            flags.append(f"integrity: {text}")
    for note in verification.notes:
        flags.append(f"sandbox: {note[:200]}")
    return flags


def fmt(x):
    """A score for the CSV: '' when missing, else the shortest exact form (13, 2.5)."""
    return "" if x is None else f"{float(x):g}"


def export_csv(path, records, submissions=None):
    """Write records [(student, nbgrader_score or None, verified or None, max_score, [flags])] sorted by student.

    `submissions` {student: text} fills the last column (the file graded and its upload time, or "no submission").
    """
    path = Path(path)
    submissions = submissions or {}
    with _atomic(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["student_id", "nbgrader_score", "verified_score", "max_score", "flags", "submission"])
        for student, nbg, ver, mx, flags in sorted(records, key=lambda r: r[0]):
            writer.writerow([student, fmt(nbg), fmt(ver), fmt(mx), " | ".join(flags), submissions.get(student, "")])
    return path


CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]


def canvas_csv(path, assignment, records, roster, max_score, canvas_id=None):
    """Canvas's gradebook import: Student ("Last, First"), ID (the roster's LMS user id), SIS User ID, SIS Login ID,
    Section, then one column "<assignment> (<Canvas assignment id>)" (just the name when the id is not known: Canvas
    then creates the assignment), a "Points Possible" row, and the verified score of every student of `records`
    (blank when there is none, so that Canvas keeps its own missing/late handling).
    """
    column = f"{assignment} ({canvas_id})" if canvas_id else assignment
    path = Path(path)
    with _atomic(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*CANVAS_COLUMNS, column])
        writer.writerow(["Points Possible", "", "", "", "", fmt(max_score)])
        for student, _, ver, _, _ in sorted(records, key=lambda r: r[0]):
            r = roster.get(student) or {}
            first, last = (r.get("first_name") or "").strip(), (r.get("last_name") or "").strip()
            name = f"{last}, {first}" if first and last else (last or first or student)
            writer.writerow([name, r.get("lms_user_id") or "", "", "", "", fmt(ver)])
    return path


def moodle_csv(path, assignment, records, roster):
    """Moodle's grade import (Grades > Import > CSV file): First name, Last name, ID number (the roster's LMS id),
    Email address, and the verified score in a column named after the assignment; map "Email address" or "ID
    number" to the user and the assignment column to its grade item when importing.
    """
    path = Path(path)
    with _atomic(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*MOODLE_COLUMNS, assignment])
        for student, _, ver, _, _ in sorted(records, key=lambda r: r[0]):
            r = roster.get(student) or {}
            writer.writerow([r.get("first_name") or "", r.get("last_name") or "", r.get("lms_user_id") or "",
                             r.get("email") or "", fmt(ver)])
    return path
