"""Read a source notebook (the instructor's, with solutions and hidden tests) and a student's answers.

Conventions (as in the chapter-2 notebook, solutions/ch02_forward): an answer cell has nbgrader metadata
`solution: true` and `grade_id` = the graded function's name; its tests are the grade cells
`test_<function>_visible` and `test_<function>_hidden`. A function is worth the sum of its test cells' points.
Locked code cells that are neither answers nor tests (imports, functions the notebook gives) are trusted:
they are taken from the source notebook, never from the submission.
"""

import ast
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

TEST_ID = re.compile(r"^test_(?P<function>.+)_(?P<kind>visible|hidden)$")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def assignment_ids(source_dir):
    """The assignment ids of a course: the folders of its source directory (`solutions/`) that hold a notebook."""
    return sorted(p.name for p in Path(source_dir).iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


class SubmissionError(ValueError):
    """A submission that cannot be read as a notebook; `reason` says what is wrong with the file, without its path."""

    def __init__(self, message, reason=""):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class Cell:
    """One code cell the verifier runs: a trusted cell of the source notebook, or the slot of an answer."""

    kind: str  # "trusted" or "answer"
    grade_id: str
    source: str  # for "answer" cells: the instructor's solution (a student's answer replaces it)


@dataclass(frozen=True)
class SourceNotebook:
    """What the verifier needs from an assignment's source notebook."""

    assignment: str
    path: Path
    cells: tuple  # of Cell, in notebook order
    functions: tuple  # graded functions, in notebook order
    points: dict  # function -> points (the sum of its test cells' points)
    solutions: dict  # answer grade_id -> the instructor's solution source
    hidden_lines: frozenset  # stripped lines inside hidden-test regions
    unmapped_tests: tuple  # grade cells that do not follow test_<function>_(visible|hidden)
    sha256: str = field(default="")
    cell_points: dict = field(default_factory=dict)  # grade_id -> points, for every graded cell (tests and manual)
    tests: dict = field(default_factory=dict)  # function -> {"visible": points, "hidden": points}

    @property
    def max_score(self):
        """Total points of the graded functions (the autograded part)."""
        return float(sum(self.points.values()))

    @property
    def total_points(self):
        """Total points of every graded cell: the autograded functions' test cells and the manually graded cells."""
        return float(sum(self.cell_points.values())) if self.cell_points else self.max_score

    def manual_cells(self):
        """grade_id -> points of the graded cells that are not a test cell of a graded function (manual grading)."""
        auto = {f"test_{f}_{kind}" for f in self.functions for kind in ("visible", "hidden")}
        return {g: p for g, p in self.cell_points.items() if g not in auto}


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def read_source(path, assignment=None):
    """Parse the source notebook at `path` into a SourceNotebook.

    Parameters
    ----------
    path : path of solutions/<assignment>/<assignment>.ipynb
    assignment : the assignment id (default: the notebook's file stem)

    Returns
    -------
    SourceNotebook
    """
    path = Path(path)
    raw = path.read_bytes()
    nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    cells, solutions, points, unmapped, hidden = [], {}, {}, [], set()
    cell_points, tests = {}, {}
    for cell in nb.cells:
        meta, src = _meta(cell), _source(cell)
        for block in HIDDEN.findall(src):
            hidden.update(line.strip() for line in block.splitlines() if line.strip())
        gid = meta.get("grade_id")
        if meta.get("grade") and gid:
            cell_points[gid] = float(meta.get("points", 0) or 0)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            solutions[gid] = src
            cells.append(Cell("answer", gid, src))
        elif meta.get("grade"):
            m = TEST_ID.match(gid or "")
            if m:
                points[m["function"]] = points.get(m["function"], 0.0) + float(meta.get("points", 0) or 0)
                tests.setdefault(m["function"], {})[m["kind"]] = float(meta.get("points", 0) or 0)
            else:
                unmapped.append(gid)
        elif meta.get("locked"):
            cells.append(Cell("trusted", gid, src))
    bad = [f for f in points if f not in solutions]
    if bad:
        unmapped.extend(f"test_{f}_*" for f in bad)
    functions = tuple(c.grade_id for c in cells if c.kind == "answer" and c.grade_id in points)
    return SourceNotebook(
        assignment=assignment or path.stem,
        path=path,
        cells=tuple(cells),
        functions=functions,
        points={f: points[f] for f in functions},
        solutions=solutions,
        hidden_lines=frozenset(hidden),
        unmapped_tests=tuple(unmapped),
        sha256=hashlib.sha256(raw).hexdigest(),
        cell_points=cell_points,
        tests={f: {"visible": tests[f].get("visible", 0.0), "hidden": tests[f].get("hidden", 0.0)} for f in functions},
    )


def read_submission(path_or_nb):
    """Read a submitted notebook leniently (any nbformat 4 JSON with a list of cells), or raise SubmissionError."""
    if isinstance(path_or_nb, dict):
        nb = path_or_nb
    else:
        try:
            nb = json.loads(Path(path_or_nb).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            reason = f"not a readable notebook ({type(exc).__name__}: {exc})"
            raise SubmissionError(f"read_submission: `{path_or_nb}` is {reason}", reason) from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise SubmissionError(f"read_submission: `{path_or_nb}` has no list of cells",
                              "a notebook without a list of cells")
    return nb


def answers(submission, source):
    """The student's answer cells: {grade_id: code}, only for the answer cells of the source notebook.

    A cell counts when its nbgrader metadata has `solution: true` and a `grade_id` that is an answer cell of the
    source notebook. Anything else the student added or changed is ignored. When a grade_id appears more than once,
    the last copy wins, as in nbgrader's DeduplicateIds.

    Parameters
    ----------
    submission : a notebook dict (see read_submission) or a path
    source : SourceNotebook

    Returns
    -------
    dict grade_id -> source code (missing ids are absent)
    """
    nb = read_submission(submission)
    found = {}
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = _meta(cell)
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(meta, dict) and meta.get("solution") is True and gid in source.solutions:
            found[gid] = _source(cell)
    return found


_AST = threading.Lock()


def parse_python(text):
    """`ast.parse(text)`, one thread at a time.

    CPython 3.11 keeps the recursion depth of building AST objects per interpreter, not per thread: two threads
    parsing at once (rnn-grade verifies several submissions at once) can fail with "SystemError: AST constructor
    recursion depth mismatch" (seen here on 3.11.7; python/cpython#106905).
    """
    with _AST:
        return ast.parse(text)


def to_python(code):
    """Turn a cell's IPython syntax (%magics, !shell, ?help) into plain Python, as IPython would run it."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(code)
    except Exception:  # a cell IPython itself cannot transform: leave it, it will fail to compile
        return code


def submission_sha256(path):
    """sha256 of a submitted file's bytes (identifies exactly what was verified)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
