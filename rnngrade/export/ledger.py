"""The verified grades (the ledger), the flags, and the CSV exports.

The ledger lives next to nbgrader's gradebook: in a small sqlite file (`verified.db`) when the gradebook is nbgrader's
sqlite file, and in the gradebook's own PostgreSQL database (schema `rnn_grade`, beside nbgrader's tables) when
`--db-url` or nbgrader_config.py names one; every function here takes either the sqlite file's path or the database
URL (`where`). Two tables with one row per (assignment, student) (the primary key), written with an upsert in
a transaction of its own: re-grading never adds a second row, and two graders writing at once never lose or double
a row; a third, `override`, keeps every override an instructor made (score, reason, who, when: the audit trail).
`verification` holds the verified grade of the submission graded last; `upload` the upload it came from
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

from ..integrity import scan as integrity

# The columns of the two tables, in order (an added column goes into SCHEMA and here).
VERIFICATION = ("assignment", "student", "submission_sha256", "source_sha256", "verified", "max_score", "functions",
                "flags", "isolation", "seconds", "updated", "nbgrader_cells")
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
    nbgrader_cells TEXT,
    PRIMARY KEY (assignment, student)
);
CREATE TABLE IF NOT EXISTS {override} (
    id {autoid},
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    score DOUBLE PRECISION,
    reason TEXT,
    who TEXT,
    at TEXT
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


def location(db_url):
    """Where the verified grades of the gradebook at `db_url` are: the gradebook's own database when it is PostgreSQL
    (its URL), else the sqlite file verified.db beside the gradebook's file (a Path). The graders and the feedback
    pages (FinalGrade) both find the ledger here."""
    if is_postgres(db_url):
        return db_url
    return Path(str(db_url).split(":///", 1)[-1]).parent / "verified.db"


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
                autoid = ("INTEGER PRIMARY KEY AUTOINCREMENT" if engine.dialect.name == "sqlite"
                          else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
                for statement in SCHEMA.format(**_tables(engine), autoid=autoid).split(";"):
                    if statement.strip():
                        con.execute(text(statement))
                _add_missing_columns(con, engine)
            _ready.add(url)
    return engine


def _tables(engine):
    prefix = f"{PG_SCHEMA}." if engine.dialect.name == "postgresql" else ""
    return {name: f"{prefix}{name}" for name in ("verification", "upload", "override")}


def _add_missing_columns(con, engine):
    """A ledger written before per-cell scores lacks verification.nbgrader_cells: add it."""
    from sqlalchemy import inspect, text

    schema = PG_SCHEMA if engine.dialect.name == "postgresql" else None
    columns = {c["name"] for c in inspect(con).get_columns("verification", schema=schema)}
    if "nbgrader_cells" not in columns:
        con.execute(text(f"ALTER TABLE {_tables(engine)['verification']} ADD COLUMN nbgrader_cells TEXT"))


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
        row.get("isolation"), row.get("seconds"), row.get("updated"),
        None if row.get("nbgrader_cells") is None else json.dumps(row["nbgrader_cells"])))


def rows(where, assignment):
    """{student: row dict} for one assignment."""
    out = {}
    for row in _select(where, "verification", assignment):
        row["functions"] = json.loads(row["functions"] or "[]")
        row["flags"] = json.loads(row["flags"] or "[]")
        row["nbgrader_cells"] = json.loads(row["nbgrader_cells"]) if row.get("nbgrader_cells") else None
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


def cell_scores(functions):
    """{test cell grade_id: verified points} of a ledger row's functions (the verified score of each test cell)."""
    out = {}
    for f in functions:
        cells = f.get("cells") or {f"test_{f['function']}_hidden": {"verified": f["verified"]}}
        for gid, cell in cells.items():
            out[gid] = float(cell["verified"])
    return out


def tampering(functions, nb_cells):
    """Flags for the test cells where nbgrader's in-kernel score exceeds the verified one, and why.

    The rule, per test cell (`test_<f>_visible`, `test_<f>_hidden`), when nbgrader gave it more than the verifier:

    - **suspected tampering** when the verifier's equivalent cases *refute* the function: one of them returned a wrong
      value or raised (status "wrong" or "error"), and the visible cell's own calls were replayed (for a hidden cell,
      the verifier's cases cover the hidden tests' shapes). Nothing honest makes a function pass a check in the kernel
      and fail the same check, on the same inputs, outside it;
    - **code outside the answer cells** when the refutation is a NameError: the answer uses a helper defined in a cell
      of its own, which the verifier does not run (honest, but only answer cells are graded);
    - **not confirmed** when the verifier could not decide (the sandbox timed out or failed, no answer cell with this
      grade_id, a visible cell whose calls could not be replayed): no accusation, but the verified score stands;
    - nothing for a function without cases ("unverified": the course's configuration, flagged elsewhere).

    Parameters
    ----------
    functions : list of dicts with function, status, message and cells (as stored in the ledger)
    nb_cells : {grade_id: in-kernel score or None} from nbgrader's autograde of this submission
    """
    flags = []
    if not nb_cells:
        return flags
    for f in functions:
        if f["status"] == "unverified":
            continue
        cells = f.get("cells") or {}
        for gid, cell in cells.items():
            got = nb_cells.get(gid)
            if got is None or got <= cell["verified"] + 1e-9:
                continue
            what = f"`{gid}` nbgrader {got:g} > verified {cell['verified']:g}"
            detail = f"({cell['status']}: {cell['message'][:160]})"
            replayed = f.get("visible_replayed", True) or not gid.endswith("_visible")
            if cell["status"] in ("wrong", "error") and "NameError" in cell["message"]:
                flags.append(f"code outside the answer cells: {what} {detail}")
            elif cell["status"] in ("wrong", "error") and replayed:
                flags.append(f"suspected tampering: {what} {detail}")
            else:
                flags.append(f"not confirmed: {what} {detail}")
    return flags


NOTHING_TO_GRADE = "nothing to grade"


def nothing_to_grade(flags):
    """True if `flags` say the submission holds no notebook that can be read (so no grading by hand either)."""
    return any(flag.startswith(NOTHING_TO_GRADE) for flag in flags)


def flags_for(verification, worker=None):
    """The other flags of one submission (list of str): unverified functions, failures, integrity, sandbox notes."""
    flags = []
    for f in verification.functions:
        if f.status == "unverified":
            flags.append(f"unverified `{f.function}` (verified 0; add its cases to rnngrade/assign/cases.py): "
                         f"{f.message[:160]}")
    if verification.unreadable:  # nbgrader fails on it too, and formgrader cannot open it: say so once
        flags.append(f"{NOTHING_TO_GRADE}, scored 0 (ask the student to upload it again): {verification.error[:300]}")
    elif verification.error:
        flags.append(f"not verifiable: {verification.error[:160]}")
    if worker is not None and not worker.success and not verification.unreadable:
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
    then creates the assignment), a "Points Possible" row, and the final grade of every student of `records` (its
    third element; blank when there is none, so that Canvas keeps its own missing/late handling).
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
    Email address, and the final grade (the third element of each record) in a column named after the
    assignment; map "Email address" or "ID number" to the user and the assignment column to its grade item
    when importing.
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


def add_override(where, assignment, student, score, reason, who=None):
    """Record an instructor's override of a final grade (score None lifts it); every override is kept (audit)."""
    import datetime
    import getpass

    if not str(reason or "").strip():
        raise ValueError("add_override: `reason` must say why (got nothing)")
    who = who or getpass.getuser()
    from sqlalchemy import text

    engine = _engine(where)
    with engine.begin() as con:
        con.execute(text(f"INSERT INTO {_tables(engine)['override']} (assignment, student, score, reason, who, at) "
                         "VALUES (:assignment, :student, :score, :reason, :who, :at)"),
                    {"assignment": assignment, "student": student, "score": None if score is None else float(score),
                     "reason": str(reason).strip(), "who": who,
                     "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})


def overrides(where, assignment):
    """{student: [override dicts, oldest first]} for one assignment (the last one is in force; score None lifts)."""
    out = {}
    for row in sorted(_select(where, "override", assignment), key=lambda r: r["id"]):
        out.setdefault(row["student"], []).append(row)
    return out


def override_note(history):
    """The CSV's audit trail of a student's overrides: newest first, 'score by who at when: reason'."""
    parts = []
    for row in reversed(history or []):
        what = "lifted" if row["score"] is None else f"{row['score']:g}"
        parts.append(f"{what} by {row['who']} at {row['at']}: {row['reason']}")
    return " | ".join(parts)


DETAIL_COLUMNS = ["student_id", "verified_score", "manual", "late_days", "penalty", "override", "final", "max_score",
                  "nbgrader_score", "flags", "submission", "override_log"]


def export_details(path, details):
    """Write the detailed CSV: one row per student (dicts with DETAIL_COLUMNS' keys), sorted by student id.

    verified_score is the autograded part (verified), manual the manually graded cells' points, penalty the late
    penalty in points, override the score an instructor set (override_log: who, when, why), final = override if set,
    else verified_score + manual - penalty; max_score = the points of every graded cell.
    """
    path = Path(path)
    with _atomic(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(DETAIL_COLUMNS)
        for d in sorted(details, key=lambda r: r["student_id"]):
            writer.writerow([d["student_id"], fmt(d.get("verified_score")), fmt(d.get("manual")),
                             "" if d.get("late_days") is None else str(d["late_days"]), fmt(d.get("penalty")),
                             fmt(d.get("override")), fmt(d.get("final")), fmt(d.get("max_score")),
                             fmt(d.get("nbgrader_score")), " | ".join(d.get("flags", [])), d.get("submission", ""),
                             d.get("override_log", "")])
    return path
