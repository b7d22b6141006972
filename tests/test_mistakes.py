"""The catalogue of known mistakes: every entry is recognised by name, and nothing else gets a diagnosis."""

import numpy as np
import pytest

import rnncore
from rnncore import grading
from rnncore.mistakes import CATALOGUE, diagnose


def _rnn_inputs(rng, T=None, N=3, D=4, H=5, nonlinearity="tanh"):
    x = rng.standard_normal((N, D) if T is None else (T, N, D))
    h = rng.standard_normal((N, H))
    p = {"W_ih": rng.standard_normal((H, D)) / 2, "W_hh": rng.standard_normal((H, H)) / 2,
         "b_ih": rng.standard_normal(H), "b_hh": rng.standard_normal(H)}
    if T is None:
        return {"x_t": x, "h_prev": h, **p, "nonlinearity": nonlinearity}
    return {"x": x, "h0": h, **p, "nonlinearity": nonlinearity}


def _ce_inputs(rng, masked):
    T, N, V = 4, 3, 5
    mask = None
    if masked:
        mask = rng.random((T, N)) < 0.6
        mask[0, 0] = True
        mask[-1, -1] = False
    return {"logits": 2 * rng.standard_normal((T, N, V)), "y": rng.integers(0, V, (T, N)), "mask": mask}


# function -> (index of the graded output, [probe input makers]); index None: the function returns one value
PROBES = {
    "rnn_step_forward": (0, [lambda r: _rnn_inputs(r), lambda r: _rnn_inputs(r, nonlinearity="relu")]),
    "rnn_forward": (0, [lambda r: _rnn_inputs(r, T=4), lambda r: _rnn_inputs(r, T=3, nonlinearity="relu")]),
    "affine_forward": (0, [lambda r: {"h": r.standard_normal((3, 2, 4)), "W": r.standard_normal((5, 4)),
                                      "b": r.standard_normal(5)}]),
    "softmax_cross_entropy": (None, [lambda r: _ce_inputs(r, False), lambda r: _ce_inputs(r, True)]),
    "param_count": (None, [lambda r: {"D": 3, "H": 4}, lambda r: {"D": 3, "H": 4, "V": 7, "cell": "lstm"},
                           lambda r: {"D": 5, "H": 2, "V": 3, "cell": "gru"}]),
}


def _outputs(function, out, index):
    """The arrays a check compares: one output, or (for the loss) both the loss and the gradient."""
    if function == "softmax_cross_entropy":
        return [("loss", 0, np.asarray(out[0], dtype=float)), ("dlogits", 1, np.asarray(out[1], dtype=float))]
    if index is None:
        return [("count", None, np.asarray(out, dtype=float))]
    return [("output", index, np.asarray(out[index], dtype=float))]


def _cases():
    for function, entries in CATALOGUE.items():
        for entry in entries:
            yield pytest.param(function, entry, id=f"{function}: {entry.name}")


def test_every_graded_function_with_a_catalogue_has_at_least_five_mistakes():
    for function, entries in CATALOGUE.items():
        assert len(entries) >= 5, f"{function} has only {len(entries)} catalogued mistakes"
        assert len({e.name for e in entries}) == len(entries), f"{function}: duplicate names"
        assert function in PROBES, f"no probe inputs for {function}: add them to this test"


@pytest.mark.parametrize("function,entry", list(_cases()))
def test_each_mistake_is_recognised_by_name(function, entry):
    index, makers = PROBES[function]
    reference = getattr(rnncore, function)
    recognised = 0
    for k, make in enumerate(makers):
        inputs = make(np.random.default_rng(k))
        try:
            mistaken = entry.compute(**inputs)
        except Exception:
            continue  # this mistake does not apply to these inputs
        right = reference(**inputs)
        for what, i, got in _outputs(function, mistaken, index):
            expected = _outputs(function, right, index)[[o[0] for o in _outputs(function, right, index)].index(what)][2]
            if got.shape == expected.shape and np.allclose(got, expected):
                continue  # the mistake does not show in this output
            names = [m.name for m in diagnose(function, got, inputs, i)]
            assert entry.name in names, f"{entry.name} not recognised in `{what}`, got {names}"
            with pytest.raises(AssertionError) as err:
                grading.check_output(function, what, got, expected, inputs, index=i)
            assert entry.message in str(err.value)
            recognised += 1
    assert recognised, f"{entry.name} never shows on the probe inputs: it cannot be diagnosed"


@pytest.mark.parametrize("function", sorted(PROBES))
def test_correct_and_unrelated_wrong_answers_get_no_diagnosis(function):
    index, makers = PROBES[function]
    reference = getattr(rnncore, function)
    for k, make in enumerate(makers):
        rng = np.random.default_rng(100 + k)
        inputs = make(rng)
        for what, i, right in _outputs(function, reference(**inputs), index):
            grading.check_output(function, what, right, right, inputs, index=i)  # a correct answer passes
            noise = 0.01 * (1 + np.abs(right)) * rng.standard_normal(right.shape)
            for wrong in (right + noise, np.zeros_like(right) + 7):
                assert diagnose(function, wrong, inputs, i) == [], f"unrelated wrong `{what}` got a diagnosis"
                with pytest.raises(AssertionError) as err:
                    grading.check_output(function, what, wrong, right, inputs, index=i)
                assert "is wrong" in str(err.value)
                assert not any(m.message in str(err.value) for m in CATALOGUE[function])


def test_mistakes_are_locked_like_the_reference():
    entry = CATALOGUE["rnn_forward"][0]
    inputs = _rnn_inputs(np.random.default_rng(0), T=2)
    with pytest.raises(rnncore._lock.ReferenceLockedError):
        grading.run_student("rnn_forward", lambda **kw: entry.compute(**kw), **inputs)
    with pytest.raises(rnncore._lock.ReferenceLockedError):
        grading.run_student("rnn_forward", lambda **kw: rnncore.mistakes.rnn_forward(**kw), **inputs)


def test_gate_blocks_are_named_when_no_mistake_matches():
    H = 2
    expected = np.zeros((4 * H, 3))
    got = expected.copy()
    got[2 * H, 0] = 1.0  # only the g block
    with pytest.raises(AssertionError, match=r"only the block of gate `g` \(rows 2H:3H\) of `dW_ih` is wrong"):
        grading.check_output("lstm_step_backward", "dW_ih", got, expected, {}, gate_axis=0, gates="ifgo")
