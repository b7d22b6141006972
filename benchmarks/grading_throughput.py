"""How many submissions per minute `rnn-grade` grades on this machine, with 1 and with 2 worker processes.

Makes a temporary course with the chapter-2 assignment, submits the solution under N student ids, and runs the
whole cycle (`rnngrade.cli.grade`: autograde in an isolated worker, feedback, verification, merge,
CSV) once per worker count, printing a table with the CPU time per submission and how busy the machine's CPUs
were (from /proc/stat, so it counts other programs too). Nothing is asserted: the numbers depend on the machine
and on whatever else it is doing.

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

from rnngrade import cli  # noqa: E402
from rnngrade.grade import sandbox  # noqa: E402

A = "ch02_forward"


def cpu_seconds():
    """CPU time of this process and every child it waited for."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def machine_busy():
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat (None where there is none)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def run(students, workers, feedback):
    """Grade `students` copies of the solution with `workers` workers.

    Returns (seconds, CPU seconds of this process and its children, the fraction of the machine's CPU time that
    was busy, report). The machine's share also counts what no process is charged for, such as the kernel
    tearing down each worker's namespaces.
    """
    tmp = Path(tempfile.mkdtemp(prefix="rnngrade-bench-"))
    try:
        course = make_course(tmp, [A])
        solution = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
        for k in range(students):
            dest = course / "submitted" / f"student{k:03d}" / A
            dest.mkdir(parents=True)
            nbformat.write(solution, dest / f"{A}.ipynb")
        cpu, start, busy = cpu_seconds(), time.monotonic(), machine_busy()
        report = cli.grade(course, [A], workers=workers, limits=sandbox.Limits(), feedback=feedback, progress=False)
        seconds, cpu, after = time.monotonic() - start, cpu_seconds() - cpu, machine_busy()
        busy = None if busy is None else (after[0] - busy[0]) / max(1, after[1] - busy[1])
        bad = [r for r in report.rows[A] if r[1] != r[3] or r[2] != r[3]]
        if bad:
            raise RuntimeError(f"run: some copies of the solution lost points: {bad[:2]}")
        return seconds, cpu, busy, report
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
        seconds, cpu, busy, report = run(args.students, workers, not args.no_feedback)
        per_min = 60 * args.students / seconds
        rows.append((workers, args.students, seconds, per_min, per_min / workers, cpu / args.students,
                     "-" if busy is None else f"{100 * busy:.0f}%", report.isolation))
    print(f"\n{A}, {os.cpu_count()} CPUs, feedback {'off' if args.no_feedback else 'on'}")
    print(f"{'workers':>7} {'submissions':>11} {'seconds':>8} {'per minute':>10} {'per worker':>10} "
          f"{'CPU s each':>10} {'CPUs busy':>9} {'isolation':>10}")
    for w, n, s, pm, pw, c, busy, iso in rows:
        print(f"{w:>7} {n:>11} {s:>8.1f} {pm:>10.1f} {pw:>10.1f} {c:>10.2f} {busy:>9} {iso:>10}")
    if len(rows) > 1:
        print(f"speed-up with {rows[-1][0]} workers: {rows[-1][3] / rows[0][3]:.2f}x")


if __name__ == "__main__":
    main()
