"""How many submissions per minute `rnn-grade` grades on this machine, with 1 and with 2 worker processes.

Makes a temporary course with the chapter-2 assignment, submits the solution under N student ids, and runs the
whole cycle (`rnncore.instructor.cli.grade`: autograde in an isolated worker, feedback, verification, merge,
CSV) once per worker count, printing a table. Nothing is asserted: the numbers depend on the machine and on
whatever else it is doing (the load average is printed with them).

    python benchmarks/grading_throughput.py [--students 12] [--workers 1 2] [--no-feedback]
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from instructor_course import make_course  # noqa: E402

from rnncore.instructor import cli, sandbox  # noqa: E402

A = "ch02_forward"


def cpu_seconds():
    """CPU time of this process and every child it waited for."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run(students, workers, feedback):
    """Grade `students` copies of the solution with `workers` workers; return (seconds, cpu seconds, report)."""
    tmp = Path(tempfile.mkdtemp(prefix="rnngrade-bench-"))
    try:
        course = make_course(tmp, [A])
        solution = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
        for k in range(students):
            dest = course / "submitted" / f"student{k:03d}" / A
            dest.mkdir(parents=True)
            nbformat.write(solution, dest / f"{A}.ipynb")
        cpu, start = cpu_seconds(), time.monotonic()
        report = cli.grade(course, [A], workers=workers, limits=sandbox.Limits(), feedback=feedback, progress=False)
        seconds, cpu = time.monotonic() - start, cpu_seconds() - cpu
        bad = [r for r in report.rows[A] if r[1] != r[3] or r[2] != r[3]]
        if bad:
            raise RuntimeError(f"run: some copies of the solution lost points: {bad[:2]}")
        return seconds, cpu, report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=12)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--no-feedback", action="store_true")
    args = p.parse_args(argv)
    rows = []
    for workers in args.workers:
        seconds, cpu, report = run(args.students, workers, not args.no_feedback)
        per_min = 60 * args.students / seconds
        rows.append((workers, args.students, seconds, per_min, per_min / workers, cpu / args.students,
                     report.isolation, os.getloadavg()[0]))
    print(f"\n{A}, {os.cpu_count()} CPUs, feedback {'off' if args.no_feedback else 'on'}")
    print(f"{'workers':>7} {'submissions':>11} {'seconds':>8} {'per minute':>10} {'per worker':>10} "
          f"{'CPU s each':>10} {'isolation':>10} {'load':>5}")
    for w, n, s, pm, pw, c, iso, load in rows:
        print(f"{w:>7} {n:>11} {s:>8.1f} {pm:>10.1f} {pw:>10.1f} {c:>10.2f} {iso:>10} {load:>5.1f}")
    if len(rows) > 1:
        print(f"speed-up with {rows[-1][0]} workers: {rows[-1][3] / rows[0][3]:.2f}x")


if __name__ == "__main__":
    main()
