"""`rnn-grade`: collect, autograde, verify, give feedback and export, for every submission of the course.

Usage (from the course folder, the one with nbgrader_config.py)::

    rnn-grade                                  # every assignment, every submission in submitted/
    rnn-grade ch02_forward --submissions ~/Downloads/ch02.zip --workers 2
    rnn-grade ch03_bptt --students alice bob --memory-mb 4096 --timeout 60
    rnn-grade ch02_forward --submissions submissions.zip --lms canvas --roster roster.csv
    rnn-grade ch02_forward --db-url postgresql://grader@db.example:5432/rnn --shard 1/2   # and 2/2 elsewhere

For each submission: nbgrader autograde in an isolated worker (grades merged into the gradebook one at a time),
feedback HTML (hidden tests scrubbed), and, at the same time, the verified grade (answers re-run in a sandbox and
compared with rnncore in this process). Then one CSV per assignment in grades/ (student_id, nbgrader_score,
verified_score, max_score, flags) and a summary table; the copy check compares every answer with rnncore and
with every classmate's, and writes grades/<assignment>-copies.html beside the CSV (flags never change a grade).
Collecting (`--submissions`, with `--lms canvas|moodle` or `--regexp`) accounts for every file given in
grades/<assignment>-collection.csv (graded, superseded, not replaced, not matched, and why); an upload older than
the one graded before is not graded unless `--force-older`. Every student of the roster (nbgrader's students table,
`--roster` imports a CSV into it) has a row, "no submission" when so; grades/<assignment>-canvas.csv and
-moodle.csv are the LMSs' own grade-import files. Running it again re-grades and replaces rows: nothing is lost or
counted twice. Every limit has a documented default (see `rnn-grade --help` and rnngrade.grade.sandbox).

Several graders at once: with `--db-url postgresql://...` (or that URL in nbgrader_config.py) the gradebook and the
ledger live in that database, and `--shard K/N` grades the K-th of N disjoint shares of the students (a student's
share is fixed by a hash of the id, whatever else is in submitted/). Run N of them, on one machine or on several
that share the course folder. Each grader's writes to the gradebook, its collection and its exports take turns
under one database lock (course_lock), and every ledger row is an upsert keyed by (assignment, student): nothing is
lost or counted twice, and the CSVs written by the grader that finishes last hold every student.
"""

import argparse
import concurrent.futures
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import notebook
from .collect import policy
from .collect import submissions as collect
from .export import ledger
from .grade import autograde, sandbox, verify
from .integrity import similarity


@dataclass
class Outcome:
    """Everything one job produced (returned by a worker thread, merged by the main thread)."""

    assignment: str
    student: str
    shard: Path | None = None
    worker: autograde.WorkerOutcome | None = None
    grades: dict | None = None  # the shard's grades, read as soon as its worker ended
    verification: verify.Verification | None = None
    submission_sha256: str = ""
    error: str = ""
    seconds: float = 0.0
    feedback: bool = False  # feedback to generate once the verified scores are in the gradebook


@dataclass
class Report:
    """What a run did: per assignment, its CSV and rows; and the timing."""

    csv: dict = field(default_factory=dict)  # assignment -> path
    collections: dict = field(default_factory=dict)  # assignment -> collect.Collection (when --submissions)
    exports: dict = field(default_factory=dict)  # assignment -> {"collection"|"canvas"|"moodle": path}
    rows: dict = field(default_factory=dict)  # assignment -> [(student, nbgrader, verified, max, flags)]
    details: dict = field(default_factory=dict)  # assignment -> {student: the detailed CSV's row, as a dict}
    seconds: float = 0.0
    submissions: int = 0
    isolation: str = ""
    job_seconds: list = field(default_factory=list)


def _job(course, source, assignment, student, template_db, workspace, limits, cell_timeout, feedback, verify_on,
         extra_hide, autograde_on, servers):
    """Autograde and verify one submission, at the same time (both wait on processes of their own)."""
    started = time.monotonic()
    out = Outcome(assignment, student, feedback=bool(feedback and verify_on))
    try:
        sub = course.submitted / student / assignment / f"{assignment}.ipynb"
        out.submission_sha256 = hashlib.sha256(sub.read_bytes()).hexdigest() if sub.exists() else ""
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as side:
            verifying = side.submit(_verification, course, source, assignment, sub, workspace, limits,
                                    extra_hide) if verify_on else None
            try:
                if autograde_on:
                    out.shard = autograde.make_shard(course, assignment, student, template_db, workspace)
                    with servers.lease() if servers else contextlib.nullcontext() as server:
                        out.worker = autograde.run_shard(course, out.shard, assignment, student, workspace, limits,
                                                         cell_timeout, feedback=feedback and not verify_on,
                                                         hide=extra_hide,
                                                         server=server)
                    out.grades = autograde.read_shard(out.shard, assignment, student)
            finally:
                if verifying is not None:
                    out.verification = verifying.result()
    except Exception:  # our own failure on this submission must not stop the batch
        out.error = traceback.format_exc(limit=3).strip().splitlines()[-1][:300]
    out.seconds = time.monotonic() - started
    return out


def _verification(course, source, assignment, sub, workspace, limits, extra_hide):
    """The verified grade of one submission (every function missing when there is no notebook)."""
    if sub.exists():
        return verify.verify(source, sub, limits, hide=[*course.secrets(), Path(workspace), *extra_hide])
    v = verify.Verification(assignment, error=f"no {assignment}.ipynb in the submission folder", unreadable=True)
    v.functions = [verify._split(verify.FunctionVerdict(f, source.points[f], 0.0, "missing", "no notebook"),
                                 source.tests.get(f)) for f in source.functions]
    return v


def _verified_cells(out):
    """{test cell grade_id: verified points} of an outcome (None when it was not verified)."""
    v = out.verification
    if v is None:
        return None
    return ledger.cell_scores([dict(function=f.function, verified=f.verified, cells=f.cells) for f in v.functions])


def _nbgrader_cells(out):
    """{grade_id: nbgrader's in-kernel score or None} of an outcome (None when it was not autograded)."""
    if out.grades is None or out.worker is None:
        return None
    return {gid: (None if not out.worker.success or score is None else float(score))
            for (_, gid), score in out.grades["grades"].items()}


def _merge(course, source, out, ledger_path, late_policy=None):
    """Main thread only: gradebook merge (verified scores for the verified test cells, the late policy's penalty),
    copies, feedback, ledger row (under the course lock: other graders wait)."""
    with ledger.course_lock(course.verified_db):
        _merge_locked(course, source, out, ledger_path, late_policy)


def _merge_locked(course, source, out, ledger_path, late_policy=None):
    if out.shard is not None and out.worker is not None:
        try:
            scores = autograde.merge(course, out.grades, out.assignment, out.student, out.worker.success,
                                     _verified_cells(out))
            if out.verification is not None and out.worker.success:
                _late_penalty(course, source, out.assignment, out.student, out.verification.verified, scores,
                              late_policy)
            autograde.copy_results(course, out.shard, out.assignment, out.student)
            if out.feedback and out.worker.success:
                ok, message = autograde.generate_feedback(course, out.assignment, out.student)
                if not ok:
                    out.error = (out.error + "; " if out.error else "") + f"feedback failed: {message}"[:300]
        except Exception as exc:
            out.error = (out.error + "; " if out.error else "") + f"merge failed: {exc}"[:300]
        finally:
            shutil.rmtree(out.shard, ignore_errors=True)
    _record(source, out, ledger_path)


def _late_penalty(course, source, assignment, student, verified, scores, late_policy):
    """(days, penalty) by the late policy for `verified` + the manual points in `scores` ({grade_id: (score, max)},
    as in the gradebook), written into nbgrader's gradebook as the notebook's late_submission_penalty, so that the
    feedback page and `nbgrader export` subtract the same penalty as the CSV."""
    late_policy = late_policy or policy.Policy(rule="none")
    manual = source.manual_cells()
    earned = float(verified) + sum(float(s) for g, (s, _) in scores.items() if g in manual and s is not None)
    days, penalty = late_policy.late(assignment, student, autograde.submission_time(course, assignment, student),
                                     earned, autograde.nbgrader_duedate(course, assignment))
    autograde.set_late_penalty(course, assignment, student, penalty)
    return days, penalty


def _record(source, out, ledger_path):
    v = out.verification
    flags = ledger.flags_for(v, out.worker) if v is not None else []
    if out.error:
        flags.insert(0, f"grading error: {out.error}")
    row = {"submission_sha256": out.submission_sha256, "source_sha256": source.sha256,
           "verified": None if v is None else v.verified, "max_score": source.max_score,
           "functions": [] if v is None else [dict(function=f.function, points=f.points, verified=f.verified,
                                                   status=f.status, message=f.message, cells=f.cells,
                                                   visible_replayed=f.visible_replayed) for f in v.functions],
           "flags": flags, "isolation": "" if v is None else v.isolation, "seconds": out.seconds,
           "updated": autograde.utcnow().isoformat(), "nbgrader_cells": _nbgrader_cells(out)}
    ledger.record(ledger_path, out.assignment, out.student, row)


def export(course, assignment, source, csv_dir, canvas_id=None, late_policy=None, details_out=None):
    """Write grades/<assignment>.csv from the gradebook and the ledger, the copy check's report, and the Canvas and
    Moodle grade-import files (<assignment>-canvas.csv, -moodle.csv); return (path, rows).

    rows are (student, nbgrader's in-kernel score, verified score, max_score, flags); the detailed CSV adds the
    manual points, late days and penalty (per `late_policy`, a policy.Policy), the override and the final grade
    (ledger.export_details), and the LMS files carry the final grade. `details_out`, a dict, receives
    {student: detail row}.

    The copy check runs here, once per assignment at the end of a run, over every submission the ledger holds (not
    only this batch's), so that re-runs and runs of some students compare everyone. Every student of the roster
    (nbgrader's students table) has a row; one without a submission is flagged "no submission".
    """
    with ledger.course_lock(course.verified_db):  # the last grader to export sees every other grader's rows
        return _export(course, assignment, source, csv_dir, canvas_id, late_policy, details_out)


def _export(course, assignment, source, csv_dir, canvas_id, late_policy, details_out):
    late_policy = late_policy or policy.Policy(rule="none")
    stored = ledger.rows(course.verified_db, assignment)
    uploads = ledger.uploads(course.verified_db, assignment)
    overrides = ledger.overrides(course.verified_db, assignment)
    students = collect.roster(course)
    present = set(course.students(assignment)) | set(stored)
    copies = similarity.check_assignment(
        {s: course.submitted / s / assignment / f"{assignment}.ipynb" for s in stored}, source,
        Path(csv_dir) / f"{assignment}-copies.html")
    max_score = source.total_points
    auto_cells = {f"test_{f}_{kind}" for f in source.functions for kind in ("visible", "hidden")}
    due_fallback = autograde.nbgrader_duedate(course, assignment)
    records, details, finals = [], [], {}
    for student in sorted(present | set(students) | set(overrides)):
        history = overrides.get(student, [])
        forced = history[-1]["score"] if history else None
        detail = {"student_id": student, "max_score": max_score, "override": forced,
                  "override_log": ledger.override_note(history)}
        if student not in present:
            detail.update(flags=["no submission"], submission="no submission", final=forced)
            records.append((student, None, None, max_score, ["no submission"]))
            details.append(detail)
            finals[student] = forced
            continue
        up = uploads.get(student)
        sub = course.submitted / student / assignment / f"{assignment}.ipynb"
        if up and sub.exists() and up["sha256"] == hashlib.sha256(sub.read_bytes()).hexdigest():
            submission = f"{up['file']} [{up['uploaded'][:19]}]" + (" LATE" if up["late"] else "")
        else:
            submission = f"submitted/{student}/{assignment}"
        nb = autograde.nbgrader_scores(course, assignment, student)
        row = stored.get(student)
        kernel = (row or {}).get("nbgrader_cells")
        if kernel is None:  # a ledger row from before per-cell scores, or not autograded: the gradebook's
            kernel = {g: s for g, (s, _) in nb.items()}
        in_kernel = [s for s in kernel.values() if s is not None]
        nbg = float(sum(in_kernel)) if in_kernel else None
        manual_cells = {g: s for g, (s, _) in nb.items() if g not in auto_cells}
        manual = float(sum(s for s in manual_cells.values() if s is not None))
        flags = []
        if row is not None:
            flags += ledger.tampering(row["functions"], kernel)
            flags += row["flags"]
            flags += copies.get(student, [])
            if row["source_sha256"] != source.sha256:
                flags.append("verified against an older version of the source notebook: re-run rnn-grade")
        else:
            flags.append("not verified yet: run rnn-grade")
        if any(s is None for s in manual_cells.values()) and not ledger.nothing_to_grade(flags):
            flags.append("needs manual grading in nbgrader")
        verified = None if row is None else row["verified"]
        earned = None if verified is None else verified + manual
        days, penalty = late_policy.late(assignment, student, autograde.submission_time(course, assignment, student),
                                         earned, due_fallback)
        final = forced if forced is not None else (None if earned is None else max(earned - penalty, 0.0))
        if row is not None and nb:
            autograde.set_late_penalty(course, assignment, student, penalty)  # the gradebook subtracts the same
        if days:
            flags.append(f"late: {days} day(s) after the due date, -{penalty:g} ({late_policy.rule})")
        if forced is not None:
            flags.append(f"override: final {forced:g} ({history[-1]['reason'][:80]})")
        detail.update(verified_score=verified, manual=manual, late_days=days, penalty=penalty, final=final,
                      nbgrader_score=nbg, flags=flags, submission=submission)
        details.append(detail)
        finals[student] = final
        records.append((student, nbg, verified, max_score, flags))
    path = ledger.export_details(Path(csv_dir) / f"{assignment}.csv", details)
    lms = [(s, None, finals.get(s), mx, fl) for s, _, _, mx, fl in records]
    ledger.canvas_csv(Path(csv_dir) / f"{assignment}-canvas.csv", assignment, lms, students, max_score, canvas_id)
    ledger.moodle_csv(Path(csv_dir) / f"{assignment}-moodle.csv", assignment, lms, students)
    if details_out is not None:
        details_out.update({d["student_id"]: d for d in details})
    return path, records


def _plural(n, noun):
    """'1 student', '2 students'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _flag_order(flag):
    """Flags that change the final grade first (override, late), then a file with nothing to grade, tampering and
    errors, then copies, the rest."""
    for rank, start in enumerate(("override", "late", ledger.NOTHING_TO_GRADE, "suspected", "grading error", "copy:")):
        if flag.startswith(start):
            return rank
    return 6


def print_summary(report, out=sys.stdout, width=70):
    """The summary table: one block per assignment (its collection report first, when it collected)."""
    for assignment, records in report.rows.items():
        if assignment in report.collections:
            print(f"\n{assignment}: {report.exports[assignment]['collection']}", file=out)
            for line in report.collections[assignment].lines():
                print(f"  {line}", file=out)
        print(f"\n{assignment}  ({report.csv[assignment]})", file=out)
        details = report.details.get(assignment, {})
        print(f"  {'student':<24} {'nbgrader':>8} {'verified':>8} {'final':>7} {'max':>5}  flags", file=out)
        for student, nbg, ver, mx, flags in records:
            flags = sorted(flags, key=_flag_order)  # what changes the grade (override, late) before the rest
            first = flags[0] if flags else ""
            more = f" (+{len(flags) - 1} more)" if len(flags) > 1 else ""
            text = (first[: width - len(more)] + more) if first else ""
            final = ledger.fmt(details.get(student, {}).get("final")) or "-"
            print(f"  {student:<24} {ledger.fmt(nbg) or '-':>8} {ledger.fmt(ver) or '-':>8} {final:>7} {mx:>5g}  "
                  f"{text}", file=out)
        def count(start, records=records):
            return sum(1 for r in records if any(f.startswith(start) for f in r[4]))

        missing = sum(1 for r in records if r[4] == ["no submission"])
        counts = [(len(records) - missing, "submission"), (missing, "with no submission"),
                  (count(ledger.NOTHING_TO_GRADE), "with nothing to grade"),
                  (count("needs manual grading"), "to grade by hand in nbgrader"),
                  (count("suspected"), "with suspected tampering"), (count("copy:"), "with copy flags")]
        print(f"  {_plural(len(records), 'student')}: " + ", ".join(
            _plural(n, what) if what == "submission" else f"{n} {what}" for n, what in counts), file=out)
        ex = report.exports.get(assignment, {})
        if "canvas" in ex:
            print(f"  LMS import files: {ex['canvas']}, {ex['moodle']}", file=out)
        for line in ex.get("warnings", []):
            print(f"  {line}", file=out)
    print(f"\n{report.submissions} submissions graded in {report.seconds:.1f} s (isolation: {report.isolation})",
          file=out)


def grade(course_dir=".", assignments=None, submissions=None, regexp=None, students=None, workers=1,
          limits=None, cell_timeout=None, feedback=True, verify_on=True, autograde_on=True,
          csv_dir=None, db_url=None, extra_hide=(), progress=True, lms=None, force_older=False, roster=None,
          canvas_id=None, policy_path=None, shard=None):
    """Run the whole cycle; return a Report. The library form of `rnn-grade` (see main for the arguments)."""
    started = time.monotonic()
    limits = limits or sandbox.Limits()
    course = autograde.Course.load(course_dir, db_url)
    late_policy = _load_policy(course, policy_path)
    names = list(assignments or course.assignments())
    unknown = [a for a in names if a not in course.assignments()]
    if unknown:
        raise ValueError(f"grade: `assignments` must be among {course.assignments()}, got {unknown}")
    if workers < 1:
        raise ValueError(f"grade: `workers` must be >= 1, got {workers}")
    collect.check_pattern(regexp, lms)
    if (lms or regexp) and submissions is None:
        raise ValueError(f"grade: `--{'lms' if lms else 'regexp'}` says how to read `--submissions`; give "
                         "--submissions too (got none)")
    if lms and submissions is not None and len(names) != 1:
        raise ValueError(f"grade: an LMS download (`--lms {lms}`) holds one assignment: name exactly one, got "
                         f"{names}")
    share = parse_shard(shard)
    sources = {a: notebook.read_source(course.source_notebook(a), a) for a in names}
    csv_dir = Path(csv_dir) if csv_dir else course.root / "grades"
    report = Report(isolation=sandbox.isolation_mode(limits))
    # What every grader of the course shares is changed by one grader at a time: the databases' tables are made,
    # the roster imported and the submissions collected (a second grader then finds the copies collected already).
    with ledger.course_lock(course.verified_db):
        open_gradebook(course)
        if roster is not None:
            collect.import_roster(course, roster)
        if submissions is not None:
            known = collect.roster(course)
            for a in names:
                col = collect.collect(course, a, submissions, regexp, lms, force_older, known)
                collect.keep_lms_ids(course, col.lms_ids)
                report.collections[a] = col
                report.exports[a] = {"collection": col.write(csv_dir / f"{a}-collection.csv")}
    jobs = [(a, s) for a in names for s in course.students(a)
            if (students is None or s in students) and (share is None or in_shard(s, *share))]
    if cell_timeout is None:  # one budget: nbgrader's cell timeout is the sandbox's (see worker.OneTimeout)
        cell_timeout = max(1, int(min(limits.submission_timeout, limits.step_timeout)))
    workspace = Path(tempfile.mkdtemp(prefix="rnngrade-work-"))
    servers = None
    try:
        if autograde_on and jobs and autograde.WorkerServers.usable(report.isolation):
            servers = autograde.WorkerServers(workspace, min(workers, len(jobs)))
        # Every secret folder and file exists before the first job, so that every job's isolation hides it (a
        # folder made during the batch would be visible to the jobs that started before it).
        for folder in (course.autograded, course.feedback):
            folder.mkdir(parents=True, exist_ok=True)
        templates = {}
        if autograde_on:
            for a in names:
                if any(j[0] == a for j in jobs):
                    with ledger.course_lock(course.verified_db):  # generate_assignment writes the gradebook
                        autograde.ensure_assignment(course, a)
                    templates[a] = autograde.make_template(course, a, workspace)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), desc="grading", unit="submission", file=sys.stderr)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_job, course, sources[a], a, s, templates.get(a), workspace, limits, cell_timeout,
                                   feedback, verify_on, list(extra_hide), autograde_on, servers) for a, s in jobs]
            done = []
            for fut in concurrent.futures.as_completed(futures):
                out = fut.result()
                _merge(course, sources[out.assignment], out, course.verified_db, late_policy)
                done.append(out)
                report.job_seconds.append(out.seconds)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"{out.student} ({out.assignment})", refresh=False)
        if bar is not None:
            bar.close()
        # Without namespace isolation a student's code could reach the gradebook or the ledger while the batch ran:
        # write every result once more, so that the stored grades are the workers' results.
        if report.isolation != "namespaces":
            with ledger.course_lock(course.verified_db):
                for out in done:
                    if out.grades is not None and out.worker is not None:
                        autograde.merge(course, out.grades, out.assignment, out.student, out.worker.success,
                                        _verified_cells(out))
                    _record(sources[out.assignment], out, course.verified_db)
    finally:
        if servers is not None:
            servers.close()
        shutil.rmtree(workspace, ignore_errors=True)
    for a in names:
        changed = notebook.read_source(course.source_notebook(a), a).sha256 != sources[a].sha256
        if changed:
            print(f"WARNING: {course.source_notebook(a)} changed while grading: re-run rnn-grade", file=sys.stderr)
        report.details[a] = {}
        report.csv[a], report.rows[a] = export(course, a, sources[a], csv_dir, canvas_id, late_policy,
                                               report.details[a])
        ex = report.exports.setdefault(a, {})
        ex["canvas"], ex["moodle"] = csv_dir / f"{a}-canvas.csv", csv_dir / f"{a}-moodle.csv"
        known = collect.roster(course)
        no_id = [s for s, *_ in report.rows[a] if not (known.get(s) or {}).get("lms_user_id")]
        if no_id:
            ex["warnings"] = [f"{len(no_id)} student(s) without an LMS id (the Canvas and Moodle files cannot match "
                              f"them; add lms_user_id with --roster): {', '.join(no_id)}"]
    report.submissions = len(jobs)
    report.seconds = time.monotonic() - started
    return report


def _load_policy(course, policy_path):
    """The late policy: `policy_path` (which must exist when given), else grades/policy.toml (or none when absent)."""
    if policy_path is not None and not Path(policy_path).is_file():
        raise ValueError(f"`--policy` must name an existing policy file, got {str(policy_path)!r}, which does not "
                         "exist (without --policy, grades/policy.toml is read when it exists)")
    return policy.load(policy_path or course.root / "grades" / "policy.toml")


def override(course_dir, student, assignment, score, reason, csv_dir=None, db_url=None, policy_path=None,
             canvas_id=None, who=None):
    """Set (score a number) or lift (score None) an instructor's override of a final grade, then export again.

    The override is stored in verified.db (every one kept, with who, when and why), survives re-runs, and shows in
    the detailed CSV (override, override_log); the final grade and the LMS files carry it, and the student's feedback
    page (made again here, and at every re-run) shows it as its score, with the reason: write the reason for the
    student. `score` is from 0 to the assignment's max_score; `student` is on the roster or has a submission (or an
    earlier override, which this one may lift). Returns a Report.
    """
    course = autograde.Course.load(course_dir, db_url)
    if assignment not in course.assignments():
        raise ValueError(f"override: `assignment` must be among {course.assignments()}, got {assignment!r}")
    source = notebook.read_source(course.source_notebook(assignment), assignment)
    if score is not None and (not isinstance(score, (int, float)) or not 0 <= score <= source.total_points):
        raise ValueError(f"override: `score` must be a number from 0 to {source.total_points:g} (the assignment's "
                         f"max_score), or none, got {score!r}")
    known = (set(collect.roster(course)) | set(course.students(assignment)) | set(ledger.rows(course.verified_db,
             assignment)) | set(ledger.overrides(course.verified_db, assignment)))
    if student not in known:
        raise ValueError(f"override: `student` must be on the roster or have a submission of {assignment}, got "
                         f"{student!r} (add students with --roster)")
    ledger.add_override(course.verified_db, assignment, student, score, reason, who)
    if (course.autograded / student / assignment).is_dir():  # the feedback page says the grade the export carries
        ok, message = autograde.generate_feedback(course, assignment, student)
        if not ok:
            raise RuntimeError(f"override: the feedback of {student} could not be made again: {message}")
    late_policy = _load_policy(course, policy_path)
    csv_dir = Path(csv_dir) if csv_dir else course.root / "grades"
    report = Report(isolation="-")
    report.details[assignment] = {}
    report.csv[assignment], report.rows[assignment] = export(course, assignment, source, csv_dir, canvas_id,
                                                             late_policy, report.details[assignment])
    report.exports[assignment] = {"canvas": csv_dir / f"{assignment}-canvas.csv",
                                  "moodle": csv_dir / f"{assignment}-moodle.csv"}
    return report


def parse_shard(shard):
    """(k, n) of `--shard K/N` (None for None); ValueError naming the argument unless 1 <= K <= N."""
    if shard is None:
        return None
    try:
        k, n = (int(x) for x in str(shard).split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise ValueError(f"grade: `--shard` must be K/N with 1 <= K <= N (this grader's share of N), got {shard!r}")
    return k, n


def in_shard(student, k, n):
    """True if `student` is in share k of n: a hash of the id, so the shares never overlap and cover everyone."""
    return int(hashlib.sha256(student.encode()).hexdigest()[:16], 16) % n == k - 1


def open_gradebook(course):
    """Create nbgrader's gradebook tables (when new) and the ledger's; call under the course lock."""
    import warnings

    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Gradebook(course.db_url).close()
    ledger.connect(course.verified_db).close()


def build_parser():
    """The argument parser of rnn-grade (every default documented in its help)."""
    d = sandbox.Limits()
    p = argparse.ArgumentParser(prog="rnn-grade", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("assignments", nargs="*", help="assignment ids (default: every assignment of the course)")
    p.add_argument("--course", default=".", help="the course folder (holds nbgrader_config.py)")
    p.add_argument("--submissions", help="a zip, a folder of LMS files, or a folder shaped <student>/<assignment>/")
    p.add_argument("--lms", choices=sorted(collect.LMS),
                   help="read --submissions as this LMS's bulk download (canvas: name[_LATE]_userid_subid_file; "
                        "moodle: 'Full Name_id_assignsubmission_file_/file')")
    p.add_argument("--regexp", help="file-name pattern of --submissions, matched against '/' + the path inside it, "
                                    "with (?P<student_id>) and optionally (?P<file_id>), (?P<timestamp>) "
                                    "(without it: <student>_<assignment>.ipynb)")
    p.add_argument("--force-older", action="store_true",
                   help="grade an upload even when it is older than the one graded before")
    p.add_argument("--roster", help="CSV of students to add to nbgrader's gradebook: id, first_name, last_name, "
                                    "email, lms_user_id (or lms_id)")
    p.add_argument("--canvas-assignment-id",
                   help="Canvas's id of the assignment, for the column '<assignment> (<id>)' of the Canvas file")
    p.add_argument("--students", nargs="+", help="grade only these students")
    p.add_argument("--shard", metavar="K/N",
                   help="grade only share K of N of the students (by a hash of the id: N graders with 1/N ... N/N "
                        "grade everyone once); use with a PostgreSQL --db-url to run them at the same time")
    p.add_argument("--workers", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--cpu-seconds", type=float, default=d.cpu_seconds, help="CPU time of one sandbox process")
    p.add_argument("--memory-mb", type=int, default=d.memory_mb, help="address space of one process (MiB)")
    p.add_argument("--timeout", type=float, default=d.step_timeout,
                   help="sandbox CPU seconds per cell and per function's cases (a step that only waits: that many "
                        "seconds idle, or 4 x that in wall-clock time)")
    p.add_argument("--submission-timeout", type=float, default=d.submission_timeout,
                   help="wall-clock seconds for one submission's autograde, and for its verification")
    p.add_argument("--cell-timeout", type=int, default=None,
                   help="nbgrader's per-cell timeout (Execute.timeout; default: --timeout, the sandbox's budget); the "
                        "first cell that runs out of time stops the kernel and the later cells are not run")
    p.add_argument("--file-size-mb", type=int, default=d.file_size_mb, help="largest file a submission may write")
    p.add_argument("--isolation", choices=["auto", "namespaces", "none"], default=d.isolation,
                   help="Linux namespaces for workers and sandboxes (auto: when the machine allows)")
    p.add_argument("--no-feedback", action="store_true", help="skip nbgrader generate_feedback")
    p.add_argument("--no-autograde", action="store_true", help="verify only (keep the gradebook as it is)")
    p.add_argument("--csv-dir", help="where the CSVs go (default: <course>/grades)")
    p.add_argument("--db-url", help="gradebook URL, sqlite:///<file> or postgresql://<user>@<host>:<port>/<db> "
                                    "(the verified grades then live there too; default: nbgrader_config.py's)")
    p.add_argument("--hide", nargs="+", default=[], help="more paths student code must not see")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--policy",
                   help="late policy, due dates and extensions (TOML; default: <course>/grades/policy.toml)")
    p.add_argument("--override", nargs=3, metavar=("STUDENT", "ASSIGNMENT", "SCORE"),
                   help="set a student's final grade (SCORE 'none' lifts the override), with --reason; nothing is "
                        "graded, the CSVs are written again")
    p.add_argument("--reason", help="why (required with --override; kept in verified.db and the CSV, and shown to the "
                                    "student on the feedback page: write it for them)")
    return p


def main(argv=None):
    """Entry point of the `rnn-grade` console script."""
    args = build_parser().parse_args(argv)
    if args.override:
        student, assignment, score = args.override
        try:
            value = None if score.lower() == "none" else float(score)
            report = override(args.course, student, assignment, value, args.reason, args.csv_dir, args.db_url,
                              args.policy, args.canvas_assignment_id)
        except (ValueError, FileNotFoundError, RuntimeError) as exc:
            print(f"rnn-grade: {exc}", file=sys.stderr)
            return 2
        print(f"override of {student} in {assignment}: {score} ({args.reason})")
        print_summary(report)
        return 0
    try:
        limits = sandbox.Limits(cpu_seconds=args.cpu_seconds, memory_mb=args.memory_mb, step_timeout=args.timeout,
                                submission_timeout=args.submission_timeout, file_size_mb=args.file_size_mb,
                                isolation=args.isolation)
        report = grade(args.course, args.assignments or None, args.submissions, args.regexp, args.students,
                       args.workers, limits, args.cell_timeout, not args.no_feedback, True, not args.no_autograde,
                       args.csv_dir, args.db_url, args.hide, progress=not args.quiet, lms=args.lms,
                       force_older=args.force_older, roster=args.roster, canvas_id=args.canvas_assignment_id,
                       policy_path=args.policy, shard=args.shard)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"rnn-grade: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        if not isinstance(exc, OperationalError):
            raise
        print(f"rnn-grade: cannot use the gradebook database `--db-url`: {str(exc.orig).strip()[:300]}",
              file=sys.stderr)
        return 2
    print_summary(report)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
