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
    PRIMARY KEY (assignment, student)
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
    return con


def record(path, assignment, student, row):
    """Store one submission's verification, replacing any earlier one (call from one thread)."""
    with closing(connect(path)) as con, con:
        con.execute(
            "INSERT OR REPLACE INTO verification VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (assignment, student, row.get("submission_sha256"), row.get("source_sha256"), row.get("verified"),
             row.get("max_score"), json.dumps(row.get("functions", [])), json.dumps(row.get("flags", [])),
             row.get("isolation"), row.get("seconds"), row.get("updated")))


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
    then creates the assignment), a "Points Possible" row, and the verified score of every student of `records`
    (blank when there is none, so that Canvas keeps its own missing/late handling).
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
    Email address, and the verified score in a column named after the assignment; map "Email address" or "ID
    number" to the user and the assignment column to its grade item when importing.
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
