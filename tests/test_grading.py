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
