"""Helpers that drive nbgrader on a temporary copy of the course (used by the assignment tests)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from rnncore.instructor.notebook import assignment_ids

ROOT = Path(__file__).resolve().parent.parent


def assignments():
    """Every assignment id: the folders of solutions/ that hold a notebook."""
    return assignment_ids(ROOT / "solutions")


def make_course(tmp):
    """Copy the nbgrader config and solutions/ into `tmp`, release every assignment there, return `tmp`."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions", tmp / "solutions")
    for name in assignments():
        nbgrader(tmp, "generate_assignment", name, "--force")
    return tmp


def nbgrader(course, *args):
    """Run one nbgrader command in `course`; fail with its log if it fails."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def submit(course, student, assignment, nb):
    """Place notebook `nb` as `student`'s submission of `assignment`."""
    dest = course / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{assignment}.ipynb")


def scores(course, assignment, student):
    """{grade_id: (score, max_score)} for every graded cell of a student's autograded submission."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.score, g.max_score) for g in sub.grades}


def read_nb(path):
    return nbformat.read(str(path), as_version=4)


def cell_by_id(nb, grade_id):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def canonical(path):
    """A notebook's JSON with keys sorted, for exact comparison."""
    return json.dumps(json.loads(Path(path).read_text()), sort_keys=True, indent=1)
