"""Cold and warm build times of the course edition, as `make book` builds it, and where the cold build's time goes.

The build runs in a copy of the repository's files (git's tracked and untracked, not ignored), so that the copy's
_build starts empty and the working tree's own _build is left alone. Cold: no execution cache, every chapter executed
(scripts/build_book.py: the chapters on all cores, then Sphinx). Warm: the same build again with nothing changed (what
`make book` costs after an edit to prose). Prints a table; asserts nothing. Goals (issues 7 and 15): cold under
5 minutes and warm under 30 seconds on 2 cores.

Usage: python benchmarks/book_build.py
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import build_book  # noqa: E402


def copy_of_repository(into):
    """The repository's files in `into`, with links to the set-up's node_modules and MathJax (nothing is fetched)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    os.symlink(ROOT / "node_modules", into / "node_modules")
    (into / "_mathjax").mkdir(exist_ok=True)
    os.symlink(ROOT / "node_modules" / "mathjax" / "es5", into / "_mathjax" / "mathjax")


def timed_build(root):
    """Seconds of one course-edition build of `root`; its output (the build's and its subprocesses') goes to a log
    that is printed only if the build fails."""
    with tempfile.TemporaryFile() as log:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            start = time.perf_counter()
            code = build_book.build("course", root=root)
            elapsed = time.perf_counter() - start
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        if code != 0:
            log.seek(0)
            sys.exit(f"the build failed (exit {code}):\n{log.read().decode(errors='replace')[-3000:]}")
    return elapsed


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        root = Path(tmp)
        copy_of_repository(root)
        cold = timed_build(root)
        times = build_book.execution_times(root)
        warm = timed_build(root)
    kernel = sum(times.values())
    cores = os.cpu_count() or 1
    print(f"{'build':<34} {'seconds':>8} {'goal':>6}")
    print(f"{'cold (no cache, every chapter)':<34} {cold:>8.1f} {300:>6}")
    print(f"{'  chapters, sum of kernel times':<34} {kernel:>8.1f}")
    print(f"{f'  that sum / {cores} cores':<34} {kernel / cores:>8.1f}")
    print(f"{'  the rest (Sphinx, start-up)':<34} {cold - kernel / cores:>8.1f}")
    print(f"{'warm (cache, nothing changed)':<34} {warm:>8.1f} {30:>6}")
    print()
    print(f"{'chapter':<28} {'execution (s)':>13} {'share':>6}")
    for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
        print(f"{name:<28} {seconds:>13.1f} {seconds / kernel:>6.0%}")


if __name__ == "__main__":
    main()
