"""The verified grades (a small sqlite file next to the gradebook), the flags, and the CSV exports.

Two tables, one row per (assignment, student) in each, replaced on every run: re-grading never adds a second row.
`verification` holds the verified grade of the submission graded last; `upload` the upload it came from (its file
name in the LMS download, sha256, the upload time the LMS gave, late or not, the LMS user id), so that a re-run with
an older download can tell that it is older (collect.py). The CSV per assignment has one line per student of the
roster or with a submission: student_id, nbgrader_score (from the gradebook now, so manual grades count),
verified_score, max_score, flags (" | "-separated) and submission (the file graded and its upload time, or "no
submission"), sorted by student id. canvas_csv and moodle_csv write the LMS's own grade-import files.
"""

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from . import integrity

SCHEMA = """
CREATE TABLE IF NOT EXISTS verification (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    submission_sha256 TEXT,
    source_sha256 TEXT,
    verified REAL,
    max_score REAL,
    functions TEXT,
    flags TEXT,
    isolation TEXT,
    seconds REAL,
    updated TEXT,
    nbgrader_cells TEXT,
    PRIMARY KEY (assignment, student)
);
CREATE TABLE IF NOT EXISTS override (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    score REAL,
    reason TEXT,
    who TEXT,
    at TEXT
);
CREATE TABLE IF NOT EXISTS upload (
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


def connect(path):
    """Open (creating) the ledger at `path`."""
    con = sqlite3.connect(str(path), timeout=60)
    con.executescript(SCHEMA)
    columns = {row[1] for row in con.execute("PRAGMA table_info(verification)")}
    if "nbgrader_cells" not in columns:  # a ledger written before per-cell scores
        con.execute("ALTER TABLE verification ADD COLUMN nbgrader_cells TEXT")
    return con


def record(path, assignment, student, row):
    """Store one submission's verification, replacing any earlier one (call from one thread)."""
    with closing(connect(path)) as con, con:
        con.execute(
            "INSERT OR REPLACE INTO verification (assignment, student, submission_sha256, source_sha256, verified, "
            "max_score, functions, flags, isolation, seconds, updated, nbgrader_cells) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (assignment, student, row.get("submission_sha256"), row.get("source_sha256"), row.get("verified"),
             row.get("max_score"), json.dumps(row.get("functions", [])), json.dumps(row.get("flags", [])),
             row.get("isolation"), row.get("seconds"), row.get("updated"),
             None if row.get("nbgrader_cells") is None else json.dumps(row["nbgrader_cells"])))


def rows(path, assignment):
    """{student: row dict} for one assignment."""
    if not Path(path).exists():
        return {}
    with closing(connect(path)) as con:
        cur = con.execute("SELECT * FROM verification WHERE assignment = ?", (assignment,))
        names = [d[0] for d in cur.description]
        out = {}
        for values in cur.fetchall():
            row = dict(zip(names, values))
            row["functions"] = json.loads(row["functions"] or "[]")
            row["flags"] = json.loads(row["flags"] or "[]")
            row["nbgrader_cells"] = json.loads(row["nbgrader_cells"]) if row.get("nbgrader_cells") else None
            out[row["student"]] = row
        return out


def record_upload(path, assignment, student, upload):
    """Store the upload now in submitted/ for (assignment, student): file, sha256, uploaded, late, lms_id, source."""
    import datetime

    with closing(connect(path)) as con, con:
        con.execute(
            "INSERT OR REPLACE INTO upload VALUES (?,?,?,?,?,?,?,?,?)",
            (assignment, student, upload.get("file"), upload.get("sha256"), upload.get("uploaded"),
             int(bool(upload.get("late"))), upload.get("lms_id"), upload.get("source"),
             datetime.datetime.now(datetime.timezone.utc).isoformat()))


def uploads(path, assignment):
    """{student: upload row dict} for one assignment."""
    if not Path(path).exists():
        return {}
    with closing(connect(path)) as con:
        cur = con.execute("SELECT * FROM upload WHERE assignment = ?", (assignment,))
        names = [d[0] for d in cur.description]
        return {row["student"]: row for row in (dict(zip(names, values)) for values in cur.fetchall())}


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
    path.parent.mkdir(parents=True, exist_ok=True)
    submissions = submissions or {}
    with open(path, "w", newline="") as fh:
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
    with open(path, "w", newline="") as fh:
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
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*MOODLE_COLUMNS, assignment])
        for student, _, ver, _, _ in sorted(records, key=lambda r: r[0]):
            r = roster.get(student) or {}
            writer.writerow([r.get("first_name") or "", r.get("last_name") or "", r.get("lms_user_id") or "",
                             r.get("email") or "", fmt(ver)])
    return path


def add_override(path, assignment, student, score, reason, who=None):
    """Record an instructor's override of a final grade (score None lifts it); every override is kept (audit)."""
    import datetime
    import getpass

    if not str(reason or "").strip():
        raise ValueError("add_override: `reason` must say why (got nothing)")
    who = who or getpass.getuser()
    with closing(connect(path)) as con, con:
        con.execute("INSERT INTO override (assignment, student, score, reason, who, at) VALUES (?,?,?,?,?,?)",
                    (assignment, student, None if score is None else float(score), str(reason).strip(), who,
                     datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")))


def overrides(path, assignment):
    """{student: [override dicts, oldest first]} for one assignment (the last one is in force; score None lifts)."""
    if not Path(path).exists():
        return {}
    with closing(connect(path)) as con:
        cur = con.execute("SELECT * FROM override WHERE assignment = ? ORDER BY id", (assignment,))
        names = [d[0] for d in cur.description]
        out = {}
        for values in cur.fetchall():
            row = dict(zip(names, values))
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
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(DETAIL_COLUMNS)
        for d in sorted(details, key=lambda r: r["student_id"]):
            writer.writerow([d["student_id"], fmt(d.get("verified_score")), fmt(d.get("manual")),
                             "" if d.get("late_days") is None else str(d["late_days"]), fmt(d.get("penalty")),
                             fmt(d.get("override")), fmt(d.get("final")), fmt(d.get("max_score")),
                             fmt(d.get("nbgrader_score")), " | ".join(d.get("flags", [])), d.get("submission", ""),
                             d.get("override_log", "")])
    return path
