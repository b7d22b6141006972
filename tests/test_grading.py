"""The helpers behind every notebook check: messages that say what is wrong, coercion, and the reference lock."""

import nbformat
import numpy as np
import pytest
from course import ROOT, assignments

import rnncore
from rnncore import grading
from rnncore._lock import ReferenceLockedError


def test_unpack_names_the_expected_outputs():
    with pytest.raises(AssertionError, match=r"`rnn_forward` must return a tuple of 2 values \(hs, cache\); "
                                             r"it returned ndarray"):
        grading.unpack("rnn_forward", np.zeros(3), ["hs", "cache"])
    with pytest.raises(AssertionError, match="it returned a tuple of 3 values"):
        grading.unpack("rnn_forward", (1, 2, 3), ["hs", "cache"])
    assert grading.unpack("f", (1, 2), ["a", "b"]) == (1, 2)


def test_as_array_refuses_impostors_and_copies():
    class Sneaky(np.ndarray):
        def __eq__(self, other):
            return True

    with pytest.raises(AssertionError, match="`hs` must be a numpy array"):
        grading.as_array("rnn_forward", "hs", np.zeros(3).view(Sneaky))
    with pytest.raises(AssertionError, match="got list"):
        grading.as_array("rnn_forward", "hs", [1.0, 2.0])
    with pytest.raises(AssertionError, match="must hold numbers"):
        grading.as_array("f", "y", np.array(["a"]))
    a = np.arange(3, dtype=np.float32)
    b = grading.as_array("f", "y", a)
    assert b.dtype == np.float64 and b is not a
    assert grading.as_array("f", "loss", 1.5, allow_scalar=True) == 1.5
    with pytest.raises(AssertionError, match="must be a number"):
        grading.as_array("f", "loss", True, allow_scalar=True)


def test_check_shape_message_has_letters_and_both_shapes():
    with pytest.raises(AssertionError, match=r"`hs` has shape \(3, 5\); expected \(T, N, H\) = \(4, 3, 5\)"):
        grading.check_shape("rnn_forward", "hs", np.zeros((3, 5)), (4, 3, 5), "(T, N, H)")


def test_check_close_names_first_wrong_time_step_and_hides_values():
    expected = np.zeros((4, 2, 3))
    got = expected.copy()
    got[2, 1, 0] = 0.5
    with pytest.raises(AssertionError) as err:
        grading.check_close("rnn_forward", "hs", got, expected, time_axis=0, case="T=4")
    msg = str(err.value)
    assert "`hs` is wrong on the case T=4: 1 of 24 entries differ" in msg
    assert "first goes wrong at `hs[2, :, :]`, time step 2" in msg
    assert "expected:" not in msg
    with pytest.raises(AssertionError, match="expected:"):
        grading.check_close("f", "y", got, expected, reveal=True)
    with pytest.raises(AssertionError, match="contains NaN or inf"):
        grading.check_close("f", "y", np.array([np.nan]), np.array([0.0]))
    grading.check_close("f", "y", expected + 1e-12, expected)


def test_run_student_copies_inputs_silences_warnings_and_locks_reference():
    x = np.ones(3)

    def mutating(v):
        v[0] = 99.0
        return v

    grading.run_student("f", mutating, x)
    assert x[0] == 1.0

    def warns(v):
        return np.log(v - 1)  # RuntimeWarning: divide by zero

    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        grading.run_student("f", warns, x)

    def cheat(*args):
        return rnncore.rnn_forward(*args)

    args = (np.zeros((2, 1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.zeros(1))
    rnncore.rnn_forward(*args)  # fine outside grading
    with pytest.raises(ReferenceLockedError, match="rnncore.rnn_forward is part of the reference solution"):
        grading.run_student("rnn_forward", cheat, *args)
    rnncore.rnn_forward(*args)  # and unlocked again afterwards
    with pytest.raises(AssertionError, match="must be a function"):
        grading.run_student("rnn_forward", None)


def test_ready_says_to_run_the_set_up_cell_first():
    with pytest.raises(grading.NotReadyError, match=r"^Run the set-up cell at the top of the notebook first"):
        grading.ready({"rnn_forward": print}, "rnn_forward")
    assert not issubclass(grading.NotReadyError, (NameError, ImportError))


def test_ready_names_the_function_that_is_not_defined_yet():
    namespace = {}
    grading.setup_done(namespace)
    with pytest.raises(grading.NotReadyError, match=r"^`rnn_forward` is not defined yet: run the cell where you "
                                                    r"wrote it \(above this one\) first"):
        grading.ready(namespace, "rnn_forward")
    with pytest.raises(grading.NotReadyError, match=r"^`rnn_backward`, `rnn_forward` are not defined yet"):
        grading.ready(namespace, "rnn_backward", "rnn_forward")
    namespace["rnn_forward"] = print
    grading.ready(namespace, "rnn_forward")  # ready: no error


def test_import_torch_explains_what_is_missing(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(grading.NotReadyError, match=r"^Part 6 needs PyTorch, which is not installed .* pip install "
                                                    r"torch .* The other parts of the notebook need numpy only"):
        grading.import_torch("part 6")


def test_import_torch_returns_torch():
    torch = pytest.importorskip("torch")
    assert grading.import_torch("part 6") is torch


def test_given_functions_work_for_later_chapters_but_not_for_chapter_2s_own():
    from rnncore import _lock

    (rnn_forward,) = grading.given("rnn_forward")
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 5)), rng.standard_normal((5, 4)),
            rng.standard_normal((5, 5)), rng.standard_normal(5), rng.standard_normal(5))
    expected = rnncore.rnn_forward(*args)[0]
    with _lock.locked("rnn_tbptt"):
        np.testing.assert_allclose(rnn_forward(*args)[0], expected)
        assert _lock.is_locked()  # the lock is back once the given function returns
        with pytest.raises(ReferenceLockedError):
            rnncore.rnn_forward(*args)
    for graded in ("rnn_forward", "rnn_step_forward", "softmax_cross_entropy"):
        with _lock.locked(graded), pytest.raises(ReferenceLockedError, match="cannot be used while your"):
            rnn_forward(*args)
    with pytest.raises(ValueError, match="not one of the functions"):
        grading.given("rnn_backward")


def test_reference_cache_is_rnncores_cache_and_locked_while_grading():
    from rnncore import _lock

    rng = np.random.default_rng(1)
    args = (rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4)),
            rng.standard_normal((16, 3)), rng.standard_normal((16, 4)), rng.standard_normal(16),
            rng.standard_normal(16))
    cache = grading.reference_cache("lstm_step_forward", *args)
    for got, expected in zip(cache, rnncore.lstm_step_forward(*args)[2]):
        np.testing.assert_array_equal(got, expected)
    with _lock.locked("lstm_step_forward"), pytest.raises(ReferenceLockedError):
        grading.reference_cache("lstm_step_forward", *args)
    with pytest.raises(ValueError, match="not a forward function"):
        grading.reference_cache("lstm_step_backward", *args)


# -- the helper-code rule: a graded function may use only names its notebook's answer and locked cells define ------

def _notebook_file(folder, cells):
    """A notebook in `folder` with cells [(kind, grade_id, source)], kind "answer", "locked" or "own"."""
    nb = nbformat.v4.new_notebook()
    for kind, grade_id, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        if kind != "own":
            cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": kind == "answer", "locked": kind == "locked",
                                         "grade": False, "schema_version": 3}
        nb.cells.append(cell)
    nbformat.write(nb, str(folder / "assignment.ipynb"))


CELLS = [("locked", "setup", "import numpy as np\nfrom rnncore import grading\nSCALE = 2.0"),
         ("answer", "f", "def f(x):\n    return g(x) + inner(x) + np.tanh(x) * SCALE + len([x])\n\n"
                         "def inner(x):\n    return x"),
         ("own", None, "def helper(x):\n    return 3 * x\nOFFSET = 1"),
         ("answer", "g", "def g(x):\n    return 2 * x")]


def test_a_name_from_a_cell_of_ones_own_is_reported_and_the_rest_is_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _notebook_file(tmp_path, CELLS)
    ns = {}
    for _, _, source in CELLS:
        exec(source, ns)
    # f uses g (another answer cell), inner (its own cell), np and SCALE (a locked cell), len (a builtin): all fine
    assert grading.outside_names("f", ns["f"], own=set()) == []
    exec("def f(x):\n    return helper(x) + OFFSET + g(x)", ns)  # now it uses the student's own cell
    assert grading.outside_names("f", ns["f"], own=set()) == ["OFFSET", "helper"]
    # defined in f's own cell (newer than the saved notebook, as IPython's history shows): fine
    assert grading.outside_names("f", ns["f"], own={"f", "helper", "OFFSET"}) == []
    # no notebook with an answer cell for this function in the working directory: nothing is claimed
    assert grading.outside_names("no_such_function", ns["f"], own=set()) == []


def test_run_student_warns_once_and_still_runs_the_function(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _notebook_file(tmp_path, CELLS)
    ns = {}
    for _, _, source in CELLS:
        exec(source, ns)
    exec("def f(x):\n    return helper(x)", ns)
    grading._WARNED.clear()
    assert grading.run_student("f", ns["f"], 2) == 6
    assert grading.run_student("f", ns["f"], 1) == 3
    out = capsys.readouterr().out
    assert out.count("WARNING: `f` uses `helper`, defined outside the answer cells.") == 1, out
    assert "put any helper function, constant or import your answer needs inside that function's answer cell" in out
    exec("def f(x):\n    return g(x)", ns)
    assert grading.run_student("f", ns["f"], 2) == 4 and "WARNING" not in capsys.readouterr().out


@pytest.mark.parametrize("name", assignments())
def test_every_notebook_states_the_helper_rule_right_after_its_title(name):
    for folder in ("solutions", "exercises"):
        nb = nbformat.read(str(ROOT / folder / name / f"{name}.ipynb"), as_version=4)
        cell = nb.cells[1]
        assert cell.cell_type == "markdown" and cell.metadata["nbgrader"]["grade_id"] == "grading_rules"
        assert "**Only the answer cells are graded**" in cell.source
        assert "**Put every helper your\n  answer needs inside that function's answer cell**" in cell.source
        assert "print a `WARNING`" in cell.source
        manual = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                  and c.cell_type == "markdown"]
        assert len(manual) == 2 and all(c.metadata["nbgrader"]["points"] == 1 for c in manual)
        assert nb.cells[-1] is manual[-1]  # the interpretation questions are the notebook's last cells


def test_the_instructor_guide_quotes_the_notebooks_helper_rule_word_for_word():
    nb = nbformat.read(str(ROOT / "solutions" / "ch02_forward" / "ch02_forward.ipynb"), as_version=4)
    rule = nb.cells[1].source.split("\n- ")[1]  # the first bullet: the helper-code rule

    def words(text):
        return " ".join(text.replace("\n>", "\n").split())

    guide = (ROOT / "book" / "instructor_guide.md").read_text()
    assert words(rule) in words(guide)
    assert len({c.source for name in assignments()
                for c in nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), as_version=4).cells[1:2]
                if "grading_rules" == c.metadata["nbgrader"]["grade_id"]}) == 1  # the same words in every notebook
