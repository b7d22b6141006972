"""Bring submissions into the course: a zip or folder from an LMS, or a folder already shaped like nbgrader's.

Two shapes are accepted:

- a folder shaped `<student>/<assignment>/<notebook>.ipynb` (optionally with `timestamp.txt`), for example a
  copy of another course's `submitted/` folder or what nbgrader's exchange collected: copied into
  `submitted/`, replacing each student's previous copy;
- anything else, a .zip (or .gz) archive or a folder of loose files named by the LMS: handed to nbgrader's own
  `zip_collect` (placed in `downloaded/<assignment>/archive/`), which extracts it and files every notebook under
  `submitted/<student_id>/<assignment>/` using a regular expression on the file name. The default expects
  `<student>_<notebook>.ipynb` (for example `alice_ch02_forward.ipynb`); pass `regexp` for your LMS, with the
  named groups `student_id` and `file_id` (and optionally `timestamp`), matched against the full path.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path


def default_regexp(notebooks):
    """The default file-name pattern: `<student>_<notebook>.ipynb` for one of `notebooks` (names without .ipynb)."""
    names = "|".join(re.escape(n) for n in notebooks)
    return rf".*/(?P<student_id>[^/]+?)_(?P<file_id>(?:{names})\.ipynb)$"


def _shaped(folder, assignment):
    """True if `folder` holds <student>/<assignment>/*.ipynb."""
    return any(p.is_file() for p in folder.glob(f"*/{assignment}/*.ipynb"))


def collect(course, assignment, path, regexp=None):
    """Put the submissions at `path` into the course's submitted folder; return the students found there.

    Parameters
    ----------
    course : autograde.Course
    assignment : assignment id
    path : a zip file, a folder of loose files, or a folder shaped <student>/<assignment>/
    regexp : nbgrader FileNameCollectorPlugin.named_regexp (default: `default_regexp`)

    Returns
    -------
    sorted list of student ids that now have a submission of `assignment`
    """
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"collect: `path` {path} does not exist")
    if path.is_dir() and _shaped(path, assignment):
        for student_dir in sorted(path.iterdir()):
            src = student_dir / assignment
            if not src.is_dir() or student_dir.name.startswith("."):
                continue
            dest = course.submitted / student_dir.name / assignment
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            for f in src.iterdir():
                if f.is_file() and not f.is_symlink():
                    shutil.copyfile(f, dest / f.name)
        return course.students(assignment)
    archive = course.root / "downloaded" / assignment / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    archive.mkdir(parents=True)
    if path.is_dir():
        for f in path.rglob("*"):
            if f.is_file() and not f.is_symlink():
                (archive / f.relative_to(path)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, archive / f.relative_to(path))
    else:
        shutil.copyfile(path, archive / path.name)
    notebooks = sorted(p.stem for p in (course.source / assignment).glob("*.ipynb"))
    cmd = [sys.executable, "-m", "nbgrader", "zip_collect", assignment, "--force",
           f"--FileNameCollectorPlugin.named_regexp={regexp or default_regexp(notebooks)}"]
    proc = subprocess.run(cmd, cwd=course.root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"collect: nbgrader zip_collect {assignment} failed:\n{proc.stderr[-3000:]}")
    skipped = [line for line in proc.stderr.splitlines() if "Skipped" in line or "did not match" in line]
    if skipped:
        print(f"zip_collect {assignment}: {len(skipped)} file(s) skipped; first: {skipped[0].strip()[:200]}",
              file=sys.stderr)
    return course.students(assignment)
