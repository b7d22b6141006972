"""The helpers behind every notebook check: messages that say what is wrong, coercion, and the reference lock."""

import numpy as np
import pytest

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
