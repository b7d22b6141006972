"""The graded assignments through nbgrader's real pipeline: release, autograde, and what leaks.

One module-scoped course copy is released and autograded once with every submission below; each test
then reads the gradebook.
"""

import ast
import copy
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest
from course import (
    ROOT,
    assignments,
    autograde_all,
    canonical,
    cell_by_id,
    make_course,
    read_nb,
    score_variants,
    scores,
    submit,
)

# Plausible wrong implementations, one file per assignment in wrong_implementations/: each file's WRONG
# list holds (student, solution cell, [(old, new) edits to the solution], the graded function it breaks).
# Each must lose every point of the function it breaks and nothing else.
WRONG = []
DIAGNOSED = []  # (student, assignment, known mistake the visible checks must name, graded function)
for _path in sorted((Path(__file__).parent / "wrong_implementations").glob("*.py")):
    _spec = importlib.util.spec_from_file_location(_path.stem, _path)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    WRONG += [(student, _path.stem, *rest[:3]) for student, *rest in _module.WRONG]
    DIAGNOSED += [(student, _path.stem, rest[3], rest[2]) for student, *rest in _module.WRONG if len(rest) > 3]


def _solution_cells(nb):
    """The answer cells of the graded functions (the manually graded written answers are markdown)."""
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]


def _function_of(grade_id):
    """test_rnn_forward_hidden -> rnn_forward"""
    return re.sub(r"^test_|_(visible|hidden)$", "", grade_id)


def _wrong_notebook(name, cell_id, edits, student):
    nb = copy.deepcopy(read_nb(ROOT / "solutions" / name / f"{name}.ipynb"))
    cell = cell_by_id(nb, cell_id)
    for old, new in edits:
        assert old in cell.source, f"{student}: {old!r} not in the solution of {cell_id}"
        cell.source = cell.source.replace(old, new)
    return nb


# What goes through `nbgrader autograde` itself: every assignment's solution and blank release, and its first wrong
# implementation. Every submission (those included, to show that both score alike) is also scored by
# tests/variants.py, one kernel per assignment, which is how the ~200 wrong implementations are scored.
PIPELINE = {name: next(w[0] for w in WRONG if w[1] == name) for name in assignments()}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"))
    for name in assignments():
        submit(course, "honest", name, read_nb(ROOT / "solutions" / name / f"{name}.ipynb"))
        submit(course, "blank", name, read_nb(course / "exercises" / name / f"{name}.ipynb"))
    for student, name, cell_id, edits, _ in WRONG:
        if PIPELINE[name] == student:
            submit(course, student, name, _wrong_notebook(name, cell_id, edits, student))
    autograde_all(course, assignments())  # two at a time on two cores, each into its own gradebook copy
    return course


def _slow_tests(name):
    """The test cells of the functions that train a model (the verifier's `slow` functions), by function."""
    from rnngrade.assign import cases

    nb = read_nb(ROOT / "solutions" / name / f"{name}.ipynb")
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
           and c.cell_type == "code" and c.metadata["nbgrader"]["grade_id"].startswith("test_")]
    out = {}
    for grade_id in ids:
        function = _function_of(grade_id)
        try:
            slow = cases.spec_for(function).slow
        except Exception:  # noqa: BLE001 - a function without verifier cases is not slow
            slow = False
        if slow:
            out.setdefault(function, []).append(grade_id)
    return out


@pytest.fixture(scope="module")
def variant_scores(course):
    """{(assignment, student): {grade_id: (score, max_score, first error)}} for every submission above and every
    wrong implementation. A wrong implementation of another function skips the test cells of a function that trains
    a model (chapter 7's forecaster: its cells train six models, and its answer cell is the solution's, unchanged)."""
    variants = {name: [] for name in assignments()}
    for name in assignments():
        source = read_nb(ROOT / "solutions" / name / f"{name}.ipynb")
        for student in ("honest", "blank"):
            nb = read_nb(course / "submitted" / student / name / f"{name}.ipynb")
            for cell in nb.cells:  # as nbgrader's OverwriteCells: the hidden tests the release left out come back
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
                    cell.source = cell_by_id(source, meta["grade_id"]).source
            folder = course / "variants" / name / student
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
            variants[name].append({"key": student, "path": str(folder / f"{name}.ipynb")})
    for student, name, cell_id, edits, function in WRONG:
        folder = course / "variants" / name / student
        folder.mkdir(parents=True)
        nbformat.write(_wrong_notebook(name, cell_id, edits, student), folder / f"{name}.ipynb")
        skip = [] if PIPELINE[name] == student else [
            g for f, ids in _slow_tests(name).items() if f != function for g in ids]
        variants[name].append({"key": student, "path": str(folder / f"{name}.ipynb"), "skip": skip})
    return score_variants(course, variants)


@pytest.mark.parametrize("name", assignments())
def test_exercises_are_exactly_the_release_of_solutions(course, name):
    made = sorted(p.relative_to(course / "exercises") for p in (course / "exercises" / name).rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises" / name).rglob("*") if p.is_file())
    assert committed == made, "exercises/ differs from `make release`: run it and commit the result"
    for rel in made:
        assert canonical(ROOT / "exercises" / rel) == canonical(course / "exercises" / rel), (
            f"exercises/{rel} differs from what nbgrader generate_assignment makes from solutions/: run `make release`"
        )


def test_no_stray_assignments_in_exercises():
    assert sorted(p.name for p in (ROOT / "exercises").iterdir()) == assignments()


@pytest.mark.parametrize("name", assignments())
def test_honest_solution_gets_full_marks(course, name):
    got = scores(course, name, "honest")
    assert got, "no grades recorded"
    wrong = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not wrong, f"the solution loses points in {wrong}"


@pytest.mark.parametrize("name", assignments())
def test_interpretation_answers_wait_for_a_human_and_max_score_is_every_graded_cell(course, name):
    from instructor_course import points

    honest, blank = scores(course, name, "honest", manual=True), scores(course, name, "blank", manual=True)
    manual = {g for g in honest if not g.startswith("test_")}
    assert len(manual) == 2 and all(g.startswith("interpret_") for g in manual), manual
    assert sum(m for _, m in honest.values()) == sum(m for _, m in blank.values()) == points(name)
    from nbgrader.api import Gradebook

    index = json.loads((course / "gradebooks.json").read_text())
    for student, unchanged in (("honest", False), ("blank", True)):
        with Gradebook(f"sqlite:///{course / index[f'{name}/{student}']}") as gb:
            grades = {g.name: g for g in gb.find_submission_notebook(name, name, student).grades}
            for gid in manual:  # written answers need a human; an answer left as released scores 0
                assert grades[gid].needs_manual_grade is not unchanged, (student, gid)
                assert grades[gid].auto_score == (0 if unchanged else None), (student, gid, grades[gid].auto_score)


@pytest.mark.parametrize("name", assignments())
def test_blank_release_gets_zero(course, name):
    got = scores(course, name, "blank")
    assert got and all(score == 0 for score, _ in got.values()), got


# Visible checks that run another of the student's functions, as their notebook says ("they use your rnn_backward for
# the gradients"): a mistake in that function may cost these cells too. Hidden checks never do.
USES = {"test_rnn_tbptt_k1k2_visible": {"rnn_backward"}}


@pytest.mark.parametrize("student,name,cell_id,edits,function", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_implementation_loses_exactly_its_functions_points(variant_scores, student, name, cell_id, edits,
                                                                 function):
    got = variant_scores[(name, student)]
    assert any(_function_of(g) == function for g in got), f"{student}: no test cell of {function} was scored"
    for grade_id, (score, max_score, _) in got.items():
        if _function_of(grade_id) == function:
            assert score == 0, f"{student} keeps {score}/{max_score} in {grade_id}"
        elif function in USES.get(grade_id, ()):
            assert score in (0, max_score), f"{student} gets {score}/{max_score} in {grade_id}"
        else:
            assert score == max_score, f"{student} loses points in {grade_id}, which it did not break"


@pytest.mark.parametrize("name", assignments())
def test_release_leaks_no_solution_hidden_test_or_output(name):
    source = read_nb(ROOT / "solutions" / name / f"{name}.ipynb")
    release = read_nb(ROOT / "exercises" / name / f"{name}.ipynb")
    text = "\n".join(c.source for c in release.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    pattern = r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END (?:SOLUTION|HIDDEN TESTS)"
    public = {line.strip() for c in source.cells for line in re.sub(pattern, "", c.source, flags=re.S).splitlines()}
    secret = {line.strip() for c in source.cells for block in re.findall(pattern, c.source, flags=re.S)
              for line in block.splitlines()}
    for line in sorted(secret - public):
        if len(line) > 20 and not line.startswith("#"):
            assert line not in text, f"a solution or hidden-test line leaked into the release: {line!r}"
    for nb, where in ((source, "solutions"), (release, "exercises")):
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{where}/{name} holds outputs"
    assert [p.name for p in (ROOT / "exercises" / name).iterdir()] == [f"{name}.ipynb"]


def _def_and_docstring(source, func):
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            return ast.unparse(node.args), ast.get_docstring(node, clean=False)
    raise KeyError(func)


@pytest.mark.parametrize("name", assignments())
def test_graded_functions_keep_rnncore_names_signatures_and_docstrings(name):
    source = read_nb(ROOT / "solutions" / name / f"{name}.ipynb")
    from rnngrade.assign import cases

    package = {str(p): p.read_text() for p in cases.reference_modules()}  # rnncore's modules and the tasks
    for cell in _solution_cells(source):
        func = ast.parse(cell.source).body[0].name
        module = next(m for m, text in package.items() if re.search(rf"^def {func}\(", text, flags=re.M))
        assert _def_and_docstring(cell.source, func) == _def_and_docstring(package[module], func), func


@pytest.mark.parametrize("student,name,mistake,function", DIAGNOSED, ids=[d[0] for d in DIAGNOSED])
def test_visible_checks_name_the_mistake(variant_scores, student, name, mistake, function):
    from rnncore.mistakes import CATALOGUE
    from rnngrade.assign import tasks

    tasks.load()
    entries = CATALOGUE.get(function) or tasks.MISTAKES[function]
    message = next(m.message for m in entries if m.name == mistake)
    error = variant_scores[(name, student)][f"test_{function}_visible"][2]
    assert error, f"the visible checks of {function} did not fail for {student}"
    assert message in error, f"{student}: expected the diagnosis {mistake!r}, got {error!r}"


@pytest.mark.parametrize("name", assignments())
def test_one_kernel_scores_every_test_cell_as_nbgrader_autograde_does(course, variant_scores, name):
    for student in ("honest", "blank", PIPELINE[name]):
        real = scores(course, name, student)
        ours = {g: v[:2] for g, v in variant_scores[(name, student)].items()}
        assert ours == real, f"{student}: tests/variants.py scored {ours}, nbgrader autograde {real}"
        autograded = read_nb(course / "autograded" / student / name / f"{name}.ipynb")
        for grade_id, (_, _, error) in variant_scores[(name, student)].items():
            errors = [o for o in cell_by_id(autograded, grade_id).outputs if o.output_type == "error"]
            assert bool(error) == bool(errors), (student, grade_id, error, errors)
            assert not errors or errors[0].evalue in error, (student, grade_id, error, errors[0].evalue)
