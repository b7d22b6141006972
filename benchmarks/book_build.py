"""Cold and warm build times of the whole book, and the slowest chapters.

Cold: a fresh output folder (no execution cache), so every chapter is executed. Warm: the same command
again, with the cache filled and nothing changed (what `make book` costs after an edit to prose).
Both use the flags of `make book` (--all -W -n --keep-going). Prints a table; asserts nothing.
Goals (issue 7): cold <= 5 minutes and warm <= 30 seconds on 2 cores.

Usage: python benchmarks/book_build.py [--output DIR]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_build(output):
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--path-output", str(output), "--all", "-W", "-n", "--keep-going"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"the build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def chapter_times(output):
    from jupyter_cache import get_cache

    cache = get_cache(Path(output) / "_build" / ".jupyter_cache")
    return sorted(((Path(r.uri).name, r.data.get("execution_seconds", float("nan")))
                   for r in cache.list_cache_records()), key=lambda item: -item[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="build folder (default: a temporary one, removed afterwards)")
    args = parser.parse_args()
    output = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="book-bench-"))
    shutil.rmtree(output / "_build", ignore_errors=True)
    try:
        cold = timed_build(output)
        warm = timed_build(output)
        print(f"{'build':<28} {'seconds':>8} {'goal':>6}")
        print(f"{'cold (no cache)':<28} {cold:>8.1f} {300:>6}")
        print(f"{'warm (cache, no change)':<28} {warm:>8.1f} {30:>6}")
        print()
        print(f"{'chapter':<28} {'execution (s)':>13}")
        for name, seconds in chapter_times(output):
            print(f"{name:<28} {seconds:>13.1f}")
    finally:
        if not args.output:
            shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":
    main()
