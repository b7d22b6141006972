"""The catalogue of known mistakes: every entry is recognised by name, and nothing else gets a diagnosis."""

import copy

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


def _step_backward_inputs(rng, nonlinearity="tanh", N=3, D=4, H=5):
    _, cache = rnncore.rnn_step_forward(**_rnn_inputs(rng, N=N, D=D, H=H, nonlinearity=nonlinearity))
    return {"dh_next": rng.standard_normal((N, H)), "cache": cache}


def _backward_inputs(rng, nonlinearity="tanh", T=4, N=3, D=4, H=5):
    _, cache = rnncore.rnn_forward(**_rnn_inputs(rng, T=T, N=N, D=D, H=H, nonlinearity=nonlinearity))
    return {"dhs": rng.standard_normal((T, N, H)), "cache": cache}


def _sgd(params, grads):
    """An optimiser step that replaces the entries of `params` (as a graded notebook's update may)."""
    for name in grads:
        params[name] = params[name] - 0.5 * grads[name]


def _tbptt_inputs(rng, update=None, T=5, N=2, D=3, H=4, V=3, k=2):
    params = {"W_ih": rng.standard_normal((H, D)), "W_hh": 1.5 * rng.standard_normal((H, H)) / np.sqrt(H),
              "b_ih": rng.standard_normal(H), "b_hh": rng.standard_normal(H),
              "W": rng.standard_normal((V, H)), "b": rng.standard_normal(V)}
    return {"x": rng.standard_normal((T, N, D)), "y": rng.integers(0, V, (T, N)), "h0": rng.standard_normal((N, H)),
            "params": params, "k": k, "update": update}


def _gradcheck_inputs(rng, kind):
    """Probes for the numerical gradient checker: a coupled f, a view of x, and an f shaped like x."""
    if kind == "coupled":
        A = rng.standard_normal((3, 4))
        return {"f": lambda v: np.tanh(v @ A), "x": rng.standard_normal((2, 3)), "df": rng.standard_normal((2, 4)),
                "h": 1e-2}
    if kind == "view":
        return {"f": lambda v: v[::-1], "x": rng.standard_normal(3), "df": rng.standard_normal(3)}
    B = rng.standard_normal((3, 3))
    return {"f": lambda v: np.sin(v @ B), "x": rng.standard_normal((2, 3)), "df": rng.standard_normal((2, 3)),
            "h": 1e-3}


def _scan_inputs(rng, T, h0=True, shape=(2, 3)):
    return {"a": rng.uniform(-1, 1, (T, *shape)), "b": rng.standard_normal((T, *shape)),
            "h0": rng.standard_normal(shape) if h0 else None}


def _mingru_inputs(rng, T=6, N=2, D=3, H=4, parallel=True):
    return {"x": rng.standard_normal((T, N, D)), "h0": rng.standard_normal((N, H)),
            "W_z": rng.standard_normal((H, D)), "b_z": rng.standard_normal(H),
            "W_h": rng.standard_normal((H, D)), "b_h": rng.standard_normal(H), "parallel": parallel}


STEP_GRADS = ("dx_t", "dh_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")
SEQ_GRADS = ("dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh")

# function -> (which outputs a check compares, [probe input makers]). The first element is the index of the graded
# output in the returned tuple, None if the function returns one value, or a tuple of names when the checks compare
# every element of the returned tuple (each mistake is then diagnosed in every output where it shows).
PROBES = {
    "rnn_step_forward": (0, [lambda r: _rnn_inputs(r), lambda r: _rnn_inputs(r, nonlinearity="relu")]),
    "rnn_forward": (0, [lambda r: _rnn_inputs(r, T=4), lambda r: _rnn_inputs(r, T=3, nonlinearity="relu")]),
    "affine_forward": (0, [lambda r: {"h": r.standard_normal((3, 2, 4)), "W": r.standard_normal((5, 4)),
                                      "b": r.standard_normal(5)}]),
    "softmax_cross_entropy": (("loss", "dlogits"), [lambda r: _ce_inputs(r, False), lambda r: _ce_inputs(r, True)]),
    "param_count": (None, [lambda r: {"D": 3, "H": 4}, lambda r: {"D": 3, "H": 4, "V": 7, "cell": "lstm"},
                           lambda r: {"D": 5, "H": 2, "V": 3, "cell": "gru"}]),
    # chapter 3: D != H everywhere, so that no transpose of one weight's gradient passes for another's
    "eval_numerical_gradient_array": (None, [lambda r: _gradcheck_inputs(r, "coupled"),
                                             lambda r: _gradcheck_inputs(r, "view"),
                                             lambda r: _gradcheck_inputs(r, "square")]),
    "rnn_step_backward": (STEP_GRADS, [lambda r: _step_backward_inputs(r),
                                       lambda r: _step_backward_inputs(r, "relu")]),
    "rnn_backward": (SEQ_GRADS, [lambda r: _backward_inputs(r), lambda r: _backward_inputs(r, "relu", T=3)]),
    "rnn_tbptt": (("losses", "h_last"), [lambda r: _tbptt_inputs(r), lambda r: _tbptt_inputs(r, update=_sgd),
                                         lambda r: _tbptt_inputs(r, update=_sgd, T=7, k=3)]),
    # chapter 8
    "linear_recurrence": (None, [lambda r: _scan_inputs(r, 5), lambda r: _scan_inputs(r, 4, h0=False)]),
    "parallel_scan": (None, [lambda r: _scan_inputs(r, 13), lambda r: _scan_inputs(r, 8),
                             lambda r: _scan_inputs(r, 6, h0=False, shape=(3,))]),
    "mingru_forward": (None, [lambda r: _mingru_inputs(r), lambda r: _mingru_inputs(r, D=4, parallel=False),
                              lambda r: _mingru_inputs(r, T=5, N=1, D=3, H=3)]),
}


def _outputs(function, out, index):
    """The arrays a check compares: [(name, index in the returned tuple or None, array)]."""
    if isinstance(index, tuple):
        return [(name, i, np.asarray(out[i], dtype=float)) for i, name in enumerate(index)]
    if index is None:
        return [("output", None, np.asarray(out, dtype=float))]
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
        try:  # on copies: a function may change its inputs in place (x in a gradient checker, params via update)
            mistaken = entry.compute(**copy.deepcopy(inputs))
        except Exception:
            continue  # this mistake does not apply to these inputs
        right = reference(**copy.deepcopy(inputs))
        for (what, i, got), (_, _, expected) in zip(_outputs(function, mistaken, index),
                                                    _outputs(function, right, index)):
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
        for what, i, right in _outputs(function, reference(**copy.deepcopy(inputs)), index):
            grading.check_output(function, what, right, right, inputs, index=i)  # a correct answer passes
            noise = 0.01 * (1 + np.abs(right)) * rng.standard_normal(right.shape)
            for wrong in (right + noise, np.zeros_like(right) + 7):
                assert diagnose(function, wrong, inputs, i) == [], f"unrelated wrong `{what}` got a diagnosis"
                with pytest.raises(AssertionError) as err:
                    grading.check_output(function, what, wrong, right, inputs, index=i)
                assert "is wrong" in str(err.value)
                assert not any(m.message in str(err.value) for m in CATALOGUE[function])


@pytest.mark.parametrize("function", ["rnn_step_backward", "rnn_backward"])
def test_backward_mistakes_accept_the_plain_tuple_caches_of_the_notebooks(function):
    """The graded notebooks give their own forward functions, whose caches are plain tuples in rnncore's order."""
    _, makers = PROBES[function]
    for k, make in enumerate(makers):
        inputs = make(np.random.default_rng(200 + k))
        plain = {**inputs, "cache": tuple(inputs["cache"])}
        for entry in CATALOGUE[function]:
            try:
                expected = entry.compute(**copy.deepcopy(inputs))
            except Exception:
                continue
            for a, b in zip(entry.compute(**plain), expected):
                np.testing.assert_array_equal(a, b)


def test_mistakes_are_locked_like_the_reference():
    entry = CATALOGUE["rnn_forward"][0]
    inputs = _rnn_inputs(np.random.default_rng(0), T=2)
    with pytest.raises(rnncore._lock.ReferenceLockedError):
        grading.run_student("rnn_forward", lambda **kw: entry.compute(**kw), **inputs)
    with pytest.raises(rnncore._lock.ReferenceLockedError):
        grading.run_student("rnn_forward", lambda **kw: rnncore.mistakes.rnn_forward(**kw), **inputs)


def test_every_mistake_and_helper_is_locked_under_its_own_name_too():
    """Each catalogued variant, its module-level name and the helpers that could compute the reference all raise."""
    helpers = ["_numerical_gradient", "_bptt_by_steps", "_doubling_scan"]
    with rnncore._lock.locked("some_function"):
        for entries in CATALOGUE.values():
            for entry in entries:
                assert getattr(rnncore.mistakes, entry.compute.__name__) is entry.compute, entry.name
                with pytest.raises(rnncore._lock.ReferenceLockedError):
                    entry.compute()
        for name in helpers:
            with pytest.raises(rnncore._lock.ReferenceLockedError):
                getattr(rnncore.mistakes, name)()


def test_gate_blocks_are_named_when_no_mistake_matches():
    H = 2
    expected = np.zeros((4 * H, 3))
    got = expected.copy()
    got[2 * H, 0] = 1.0  # only the g block
    with pytest.raises(AssertionError, match=r"only the block of gate `g` \(rows 2H:3H\) of `dW_ih` is wrong"):
        grading.check_output("lstm_step_backward", "dW_ih", got, expected, {}, gate_axis=0, gates="ifgo")
