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

import pytest
from course import ROOT, assignments, autograde_all, canonical, cell_by_id, make_course, read_nb, scores, submit

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


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"))
    for name in assignments():
        source = read_nb(ROOT / "solutions" / name / f"{name}.ipynb")
        submit(course, "honest", name, source)
        submit(course, "blank", name, read_nb(course / "exercises" / name / f"{name}.ipynb"))
    for student, name, cell_id, edits, _ in WRONG:
        nb = copy.deepcopy(read_nb(ROOT / "solutions" / name / f"{name}.ipynb"))
        cell = cell_by_id(nb, cell_id)
        for old, new in edits:
            assert old in cell.source, f"{student}: {old!r} not in the solution of {cell_id}"
            cell.source = cell.source.replace(old, new)
        submit(course, student, name, nb)
    autograde_all(course, assignments())  # two at a time on two cores, each into its own gradebook copy
    return course


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
def test_wrong_implementation_loses_exactly_its_functions_points(course, student, name, cell_id, edits, function):
    got = scores(course, name, student)
    for grade_id, (score, max_score) in got.items():
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
def test_visible_checks_name_the_mistake(course, student, name, mistake, function):
    from rnncore.mistakes import CATALOGUE
    from rnngrade.assign import tasks

    tasks.load()
    entries = CATALOGUE.get(function) or tasks.MISTAKES[function]
    message = next(m.message for m in entries if m.name == mistake)
    nb = read_nb(course / "autograded" / student / name / f"{name}.ipynb")
    errors = [o for o in cell_by_id(nb, f"test_{function}_visible").outputs if o.output_type == "error"]
    assert errors, f"the visible checks of {function} did not fail for {student}"
    assert message in errors[0].evalue, f"{student}: expected the diagnosis {mistake!r}, got {errors[0].evalue!r}"
