"""The release notebooks forgive the order of work: a check cell run too early says what to run first.

Each visible check of every release notebook is run, in a fresh namespace as a fresh kernel would have it, first
before anything else (it must ask for the set-up cell), then after the set-up cell only (it must name the function
whose cell has not run). Neither may end in a bare NameError.
"""

import re

import nbformat
import pytest
from course import ROOT, assignments

from rnncore import grading


def _release(name):
    return nbformat.read(str(ROOT / "exercises" / name / f"{name}.ipynb"), as_version=4)


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


CHECKS = [(name, _grade_id(c)) for name in assignments() for c in _release(name).cells
          if c.cell_type == "code" and _grade_id(c).endswith("_visible")]


@pytest.mark.parametrize("name,grade_id", CHECKS, ids=[f"{n}-{g}" for n, g in CHECKS])
def test_a_check_run_too_early_says_what_to_run_first(name, grade_id):
    cells = {_grade_id(c): c.source for c in _release(name).cells if c.cell_type == "code"}
    function = re.match(r"test_(.+)_visible$", grade_id)[1]
    with pytest.raises(grading.NotReadyError, match=r"^Run the set-up cell at the top of the notebook first"):
        exec(cells[grade_id], {})  # a fresh kernel: nothing has run
    namespace = {}
    exec(cells["setup"], namespace)
    with pytest.raises(grading.NotReadyError, match=rf"^`{function}`.* not defined yet: run the cell where"):
        exec(cells[grade_id], namespace)  # the set-up cell has run, the student's cell has not
