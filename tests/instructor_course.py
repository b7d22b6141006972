"""A temporary copy of the course for the instructor-tool tests (released in-process, only the assignments asked)."""

import shutil
from pathlib import Path

from course import ROOT, assignments  # noqa: F401  (re-exported for the tests)


def make_course(tmp, names=None):
    """Copy nbgrader_config.py and solutions/<name> for `names` (default: all) into `tmp` and release them there."""
    from rnngrade.grade import autograde

    tmp = Path(tmp)
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    for name in names or assignments():
        shutil.copytree(ROOT / "solutions" / name, tmp / "solutions" / name)
        autograde._generate(tmp, f"sqlite:///{tmp / 'gradebook.db'}", name, "make_course")
    return tmp


def points(assignment):
    """The points of every graded cell of `assignment`'s source notebook, autograded and manual: its max_score."""
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


def cell_points(assignment):
    """{grade_id: points} of every graded cell of `assignment`'s source notebook (test cells and manual answers)."""
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points", 0) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def auto_points(assignment):
    """The points of the autograded cells (test_<function>_visible/_hidden): a full answer's verified score."""
    return sum(p for g, p in cell_points(assignment).items() if g.startswith("test_"))


def manual_cells(assignment):
    """{grade_id: points} of the manually graded answers (the interpretation questions)."""
    return {g: p for g, p in cell_points(assignment).items() if not g.startswith("test_")}
