"""Feedback leaks no hidden-test source: not in test cells, not in tracebacks, not in what a student prints.

ScrubFeedback (rnngrade.export.feedback, registered in nbgrader_config.py) is checked on a hand-made notebook,
then end to end: a submission that fails the hidden tests and tries every way of printing them (%xmode Verbose,
an exception quoting its caller's source, printing `_ih`) gets feedback with none of their lines; the same
notebook through nbgrader's default feedback (ClearHiddenTests only) shows them, so the test can fail.
"""

import html
import json
import re

import nbformat
import pytest
from instructor_course import ROOT, make_course
from nbformat.v4 import new_code_cell, new_output

from rnngrade import cli
from rnngrade.export.feedback import FinalGrade, ScrubFeedback, hidden_lines
from rnngrade.grade import sandbox
from rnngrade.grade.autograde import Course

A = "ch02_forward"


@pytest.mark.parametrize("gradebook", ["default", "elsewhere", "postgres"])
def test_graders_and_feedback_pages_find_the_same_ledger(tmp_path, gradebook):
    """The feedback page reads an override from where `rnn-grade --override` wrote it, wherever the gradebook is."""
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n")
    db_url = {"default": None, "elsewhere": f"sqlite:///{tmp_path / 'gradebooks' / 'gradebook.db'}",
              "postgres": "postgresql://grader@localhost:5432/course"}[gradebook]
    course = Course.load(tmp_path, db_url)
    expected = {"default": tmp_path / "verified.db", "elsewhere": tmp_path / "gradebooks" / "verified.db",
                "postgres": db_url}[gradebook]
    assert course.verified_db == expected
    assert FinalGrade().where(course.db_url) == str(expected)


def test_scrub_feedback_on_a_hand_made_notebook():
    secret = "expected = np.tanh(x @ W.T + 42.0)"
    test = new_code_cell(f"# hidden\n### BEGIN HIDDEN TESTS\n{secret}\nassert got == expected\n### END HIDDEN TESTS")
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_f_hidden", "points": 2}
    test.outputs = [new_output("stream", name="stdout", text=f"leak: {secret}\n"),
                    new_output("error", ename="AssertionError", evalue="`f` is wrong on the case T=1\nmore",
                               traceback=[f"----> 3 {secret}", "AssertionError: `f` is wrong"])]
    own = new_code_cell("print(_ih)")
    own.outputs = [new_output("stream", name="stdout", text=f"['', '{secret}']\n"),
                   new_output("execute_result", data={"text/plain": "fine"}, execution_count=1)]
    nb = nbformat.v4.new_notebook(cells=[test, own])
    nb, _ = ScrubFeedback().preprocess(nb, {})
    assert [o.output_type for o in nb.cells[0].outputs] == ["error"]
    assert nb.cells[0].outputs[0].traceback == ["AssertionError: `f` is wrong on the case T=1"]
    assert "withheld" in nb.cells[1].outputs[0].text and nb.cells[1].outputs[1].data["text/plain"] == "fine"
    assert secret not in json.dumps([c.outputs for c in nb.cells])  # the source is ClearHiddenTests' job


LEAKY_START = "%xmode Verbose\nimport inspect, sys"
LEAKY_END = "print('\\n'.join(_ih))\nprint(In[-3])\nprint(globals().get('expected'))"
QUOTE_CALLER = ("import inspect\nraise ValueError('\\n'.join(line for fr in inspect.stack()[1:6] "
                "for line in (fr.code_context or [])))")


def _leaky(course):
    """Every answer wrong (so every hidden test fails) and every printing trick there is."""
    nb = nbformat.read(str(course / "exercises" / A / f"{A}.ipynb"), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            head = cell.source.split("    # YOUR CODE HERE")[0]
            body = QUOTE_CALLER if meta["grade_id"] == "param_count" else "return None, None"
            cell.source = head + "\n".join("    " + line for line in body.splitlines()) + "\n"
    nb.cells.insert(2, new_code_cell(LEAKY_START))
    nb.cells.append(new_code_cell(LEAKY_END))
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("feedback"), [A])
    dest = course / "submitted" / "leaky" / A
    dest.mkdir(parents=True)
    nbformat.write(_leaky(course), dest / f"{A}.ipynb")
    cli.grade(course, [A], limits=sandbox.Limits(step_timeout=30), cell_timeout=30, progress=False)
    return course


def _secrets():
    source = nbformat.read(str(ROOT / "solutions" / A / f"{A}.ipynb"), as_version=4)
    return sorted(hidden_lines(source, min_length=10))


def _text(path):
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_feedback_holds_no_line_of_any_hidden_test(graded):
    page = graded / "feedback" / "leaky" / A / f"{A}.html"
    assert page.exists(), "no feedback was generated"
    text, raw = _text(page), page.read_text()
    leaked = [line for line in _secrets() if line in text or html.escape(line) in raw]
    assert not leaked, f"{len(leaked)} hidden lines leaked, e.g. {leaked[:3]}"
    assert "is wrong" in text or "must return" in text, "the one-line reasons for failing are gone too"


def test_nbgraders_default_feedback_does_leak_them(graded):
    """Without ScrubFeedback (nbgrader's ClearHiddenTests only) the same submission's feedback shows hidden lines."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(graded)).load_config())
    config.CourseDirectory.root = str(graded)
    config.CourseDirectory.feedback_directory = "feedback_default"
    config.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades",
                                             "nbgrader.preprocessors.ClearHiddenTests",
                                             "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    result = api.generate_feedback(A, "leaky", force=True)
    assert result["success"], result.get("error")
    text = _text(graded / "feedback_default" / "leaky" / A / f"{A}.html")
    assert [line for line in _secrets() if line in text], "the leaky submission shows nothing even without scrubbing"
