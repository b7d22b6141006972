"""The catalogue of known mistakes: every entry is recognised by name, and nothing else gets a diagnosis."""

import copy
import re

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


def _gated_inputs(rng, G, T=None, N=3, D=4, H=5, cell=False):
    """Inputs of an LSTM (G = 4, with `c_prev` if `cell`) or GRU (G = 3) step, or of a sequence when T is given."""
    x = rng.standard_normal((N, D) if T is None else (T, N, D))
    p = {"W_ih": rng.standard_normal((G * H, D)) / np.sqrt(D), "W_hh": rng.standard_normal((G * H, H)) / np.sqrt(H),
         "b_ih": rng.standard_normal(G * H), "b_hh": rng.standard_normal(G * H)}
    if T is not None:
        return {"x": x, "h0": rng.standard_normal((N, H)), **p}
    state = {"h_prev": rng.standard_normal((N, H))}
    if cell:
        state["c_prev"] = 2 * rng.standard_normal((N, H))
    return {"x_t": x, **state, **p}


def _lstm_backward_inputs(rng, N=3, D=4, H=5):
    _, _, cache = rnncore.lstm_step_forward(**_gated_inputs(rng, 4, N=N, D=D, H=H, cell=True))
    return {"dh_next": rng.standard_normal((N, H)), "dc_next": rng.standard_normal((N, H)), "cache": cache}


STEP_GRADS = ("dx_t", "dh_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")
LSTM_GRADS = ("dx_t", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")
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
    # chapter 5
    "lstm_step_forward": (("h_next", "c_next"), [lambda r: _gated_inputs(r, 4, cell=True),
                                                 lambda r: _gated_inputs(r, 4, N=1, D=2, H=3, cell=True)]),
    "lstm_step_backward": (LSTM_GRADS, [lambda r: _lstm_backward_inputs(r),
                                        lambda r: _lstm_backward_inputs(r, N=1, D=3, H=2)]),
    "gru_step_forward": (0, [lambda r: _gated_inputs(r, 3), lambda r: _gated_inputs(r, 3, N=1, D=2, H=3)]),
    "gru_forward": (0, [lambda r: _gated_inputs(r, 3, T=4), lambda r: _gated_inputs(r, 3, T=3, N=1, D=2, H=3)]),
    # chapter 8
    "linear_recurrence": (None, [lambda r: _scan_inputs(r, 5), lambda r: _scan_inputs(r, 4, h0=False)]),
    "parallel_scan": (None, [lambda r: _scan_inputs(r, 13), lambda r: _scan_inputs(r, 8),
                             lambda r: _scan_inputs(r, 6, h0=False, shape=(3,))]),
    "mingru_forward": (None, [lambda r: _mingru_inputs(r), lambda r: _mingru_inputs(r, D=4, parallel=False),
                              lambda r: _mingru_inputs(r, T=5, N=1, D=3, H=3)]),
}


def _outputs(function, out, index):
    """The values a check compares: [(name, index in the returned tuple or None, value)].

    A value is a float array, or, for a str, a list of tokens or a dict such as a vocabulary, the value itself (the
    checks compare those exactly). A returned dict of arrays (clipped gradients) is compared one array at a time, with
    the path to it as its index: "W" for `out["W"]`, (0, "W") for `out[0]["W"]`.
    """
    if isinstance(index, tuple):
        parts = [(name, i, out[i]) for i, name in enumerate(index)]
    else:
        parts = [("output", index, out if index is None else out[index])]
    compared = []
    for name, i, value in parts:
        if isinstance(value, dict) and all(isinstance(v, np.ndarray) for v in value.values()):
            compared += [(f"{name}[{key!r}]", key if i is None else (i, key), np.asarray(v, dtype=float))
                         for key, v in value.items()]
        else:
            exact = isinstance(value, (str, list, dict))
            compared.append((name, i, value if exact else np.asarray(value, dtype=float)))
    return compared


def _same(got, expected):
    if isinstance(expected, np.ndarray):
        return got.shape == expected.shape and np.allclose(got, expected)
    return got == expected


def _unrelated(right, rng):
    """Two wrong answers no known mistake gives: the right one slightly changed, and a constant."""
    if isinstance(right, str):
        return [right + "~", "<unrelated>"]
    if isinstance(right, list):
        return [right + [-1], [-1]]
    if isinstance(right, dict):
        return [{**right, "~": -1}, {"<unrelated>": -1}]
    noise = 0.01 * (1 + np.abs(right)) * rng.standard_normal(right.shape)
    return [right + noise, np.zeros_like(right) + 7]


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
            if _same(got, expected):
                continue  # the mistake does not show in this output
            names = [m.name for m in diagnose(function, got, inputs, i)]
            assert entry.name in names, f"{entry.name} not recognised in `{what}`, got {names}"
            with pytest.raises(AssertionError) as err:
                grading.check_output(function, what, got, expected, inputs, index=i)
            assert entry.message in str(err.value)
            recognised += 1
    assert recognised, f"{entry.name} never shows on the probe inputs: it cannot be diagnosed"


@pytest.mark.parametrize("function", sorted(CATALOGUE))
def test_correct_and_unrelated_wrong_answers_get_no_diagnosis(function):
    index, makers = PROBES[function]
    reference = getattr(rnncore, function)
    for k, make in enumerate(makers):
        rng = np.random.default_rng(100 + k)
        inputs = make(rng)
        for what, i, right in _outputs(function, reference(**copy.deepcopy(inputs)), index):
            grading.check_output(function, what, right, right, inputs, index=i)  # a correct answer passes
            for wrong in _unrelated(right, rng):
                assert diagnose(function, wrong, inputs, i) == [], f"unrelated wrong `{what}` got a diagnosis"
                with pytest.raises(AssertionError) as err:
                    grading.check_output(function, what, wrong, right, inputs, index=i)
                assert "is wrong" in str(err.value)
                assert not any(m.message in str(err.value) for m in CATALOGUE[function])


@pytest.mark.parametrize("function", ["rnn_step_backward", "rnn_backward", "lstm_step_backward"])
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
    helpers = ["_numerical_gradient", "_bptt_by_steps", "_doubling_scan", "_lstm_step", "_lstm_step_backward",
               "_gru_step", "_gru_sequence"]
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


# ----------------------------------------------------------------------------------------- chapters 4, 6 and 7
def _grads(rng, scale, shapes=(("W_ih", (4, 3)), ("W_hh", (4, 4)), ("b_ih", (4,)))):
    return {name: scale * rng.standard_normal(shape) for name, shape in shapes}


def _jacobian_inputs(rng, nonlinearity="tanh", T=4, N=2, H=3):
    a = 1.5 * rng.standard_normal((T, N, H))
    return {"hs": np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0), "W_hh": rng.standard_normal((H, H)),
            "nonlinearity": nonlinearity}


def _orthogonal(rng, H):
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return q * np.sign(np.diag(r))


def _bidirectional_inputs(rng, lengths, T=4, N=3, D=2, H=3, nonlinearity="tanh"):
    def params():
        return {"W_ih": rng.standard_normal((H, D)), "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
                "b_ih": rng.standard_normal(H), "b_hh": rng.standard_normal(H)}
    return {"x": rng.standard_normal((T, N, D)), "h0_fwd": rng.standard_normal((N, H)),
            "h0_bwd": rng.standard_normal((N, H)), "params_fwd": params(), "params_bwd": params(),
            "lengths": None if lengths is None else np.array(lengths), "nonlinearity": nonlinearity}


def _pool_inputs(rng, lengths, T=5, H=2, as_int=False):
    mask = np.arange(T)[:, None] < np.array(lengths)
    return {"hs": rng.standard_normal((T, len(lengths), H)), "mask": mask.astype(int) if as_int else mask}


def _decoder(rng, V, H, end, end_bias):
    """A random decoder step (embedding, tanh RNN step, log-softmax over V tokens); the start token is id V."""
    E, W, O = rng.standard_normal((V + 1, H)), rng.standard_normal((H, H)), 2 * rng.standard_normal((V, H))
    b = np.zeros(V)
    b[end] = end_bias

    def step(token, h):
        h = np.tanh(E[token] + h @ W.T)
        z = h @ O.T + b
        z = z - z.max()
        return z - np.log(np.exp(z).sum()), h
    return step


def _greedy_inputs(rng, V=4, H=3, end=0, end_bias=0.0, max_len=8):
    return {"step_fn": _decoder(rng, V, H, end, end_bias), "h0": rng.standard_normal(H), "start_token": V,
            "max_len": max_len, "end_token": end}


def _beam_inputs(rng, V=4, H=3, end=0, end_bias=0.0, beam_width=2, max_len=6, alpha=0.0):
    return {**_greedy_inputs(rng, V, H, end, end_bias, max_len), "beam_width": beam_width, "alpha": alpha}


def _table_step(table, fallback):
    """A decoder step whose state is the prefix read so far: table[prefix] holds the next token's probabilities."""
    def step(token, prefix):
        prefix = prefix + (token,)
        with np.errstate(divide="ignore"):
            return np.log(np.array(table.get(prefix, fallback), dtype=float)), prefix
    return step


# A finished hypothesis (<eos> = 0 after the start token 3) that would keep a slot of the beam if it competed again.
_FINISHED_EARLY = {(3,): [0.45, 0.4, 0.15], (3, 1): [0.05, 0.5, 0.45], (3, 1, 1): [0.2, 0.4, 0.4],
                   (3, 1, 2): [0.99, 0.005, 0.005]}


def _encode_inputs(rng, text):
    chars = sorted(set(text))
    values = rng.permutation(len(chars))
    return {"text": text, "stoi": {chars[i]: int(values[i]) for i in rng.permutation(len(chars))}}


PROBES.update({
    # chapter 4
    "clip_by_value": (None, [lambda r: {"grads": _grads(r, 2.0), "limit": 1.5},
                             lambda r: {"grads": _grads(r, 6.0), "limit": 5}]),
    "clip_by_global_norm": (("clipped", "total_norm"), [lambda r: {"grads": _grads(r, 2.0), "max_norm": 1.0},
                                                        lambda r: {"grads": _grads(r, 0.1), "max_norm": 10.0},
                                                        lambda r: {"grads": _grads(r, 0.3), "max_norm": 1.0,
                                                                   "eps": 0.5}]),
    "jacobian_product_norms": (None, [lambda r: _jacobian_inputs(r), lambda r: _jacobian_inputs(r, "relu", T=3)]),
    "gradient_regime": (("regime", "r"), [lambda r: {"W_hh": r.standard_normal((4, 4)) / 2, "gamma": 0.5},
                                          lambda r: {"W_hh": r.standard_normal((3, 3))},
                                          lambda r: {"W_hh": _orthogonal(r, 4)},
                                          lambda r: {"W_hh": (1 + 1e-10) * _orthogonal(r, 3)},
                                          lambda r: {"W_hh": np.eye(3), "tol": 0.0}]),
    # chapter 6
    "bidirectional_rnn_forward": (("out", "h_n"), [lambda r: _bidirectional_inputs(r, [4, 2, 1]),
                                                   lambda r: _bidirectional_inputs(r, None, N=2, nonlinearity="relu")]),
    "last_valid_state": (None, [lambda r: {"hs": r.standard_normal((5, 3, 2)), "lengths": np.array([2, 4, 1])},
                                lambda r: {"hs": r.standard_normal((4, 4, 2)), "lengths": np.array([2, 3, 1, 2])}]),
    "masked_mean_pool": (None, [lambda r: _pool_inputs(r, [5, 2, 3]), lambda r: _pool_inputs(r, [1, 4], as_int=True)]),
    "greedy_decode": (("tokens", "logp"), [lambda r: _greedy_inputs(r, end_bias=1.0),
                                           lambda r: _greedy_inputs(r, V=5, end=2, end_bias=0.5, max_len=10),
                                           lambda r: _greedy_inputs(r, V=3, end_bias=-8.0, max_len=4)]),
    "beam_search": (("tokens", "score"), [lambda r: _beam_inputs(r, end_bias=0.5, alpha=0.7),
                                          lambda r: _beam_inputs(r, V=3, end_bias=-0.5, beam_width=3, alpha=1.0),
                                          lambda r: _beam_inputs(r, V=5, end=1, end_bias=1.0, max_len=5),
                                          lambda r: _beam_inputs(r, V=3, end_bias=0.0, beam_width=2, alpha=0.3),
                                          lambda r: {"step_fn": _table_step(_FINISHED_EARLY, [1.0, 1e-9, 1e-9]),
                                                     "h0": (), "start_token": 3, "beam_width": 2, "max_len": 4,
                                                     "end_token": 0, "alpha": 1.0}]),
    # chapter 7 (train_forecaster trains a model, and has no known mistakes with a single output to compare)
    "build_vocab": (("stoi", "itos"), [lambda r: {"text": "the cat sat on the mat,\nand the hat"},
                                       lambda r: {"text": "To be, or not to be: that is the question."}]),
    "encode": (None, [lambda r: _encode_inputs(r, "banana and bandana"),
                      lambda r: _encode_inputs(r, "to be or not to be")]),
    "decode": (None, [lambda r: {"ids": [2, 1, 0, 3, 1, 1, 0], "itos": ["n", "a", "b", " ", "d"]},
                      lambda r: {"ids": np.array([3, 0, 2, 4, 1]), "itos": ["x", "e", "t", "s", "z"]}]),
    "sample_with_temperature": (None, [lambda r: {"logits": r.standard_normal(6), "temperature": 2.5,
                                                  "rng": np.random.default_rng(3)},
                                       lambda r: {"logits": 2 * r.standard_normal((30, 5)), "temperature": 0.5,
                                                  "rng": np.random.default_rng(4)},
                                       lambda r: {"logits": 2 * r.standard_normal((30, 5)), "temperature": 3.0,
                                                  "rng": np.random.default_rng(5)}]),
    "make_windows": (("X", "Y"), [lambda r: {"series": r.standard_normal(12), "window": 4, "horizon": 3},
                                  lambda r: {"series": r.standard_normal(9), "window": 3, "horizon": 1}]),
})


def test_helpers_of_chapters_4_6_and_7_are_locked():
    """Helpers that compute a mistaken variant could give the reference with the right keywords: they are locked."""
    helpers = ["_global_norm", "_rescaled", "_jacobian_norms", "_verdict", "_regime_with", "_bidirectional",
               "_gather", "_greedy", "_beam", "_vocab_of", "_sample"]
    with rnncore._lock.locked("some_function"):
        for name in helpers:
            with pytest.raises(rnncore._lock.ReferenceLockedError):
                getattr(rnncore.mistakes, name)()


def test_also_names_only_the_mistakes_that_give_the_other_outputs_too():
    """Two mistakes give the same `h_n`, but only one of them the right `out`: with `also`, only that one is named."""
    function = "bidirectional_rnn_forward"
    inputs = _bidirectional_inputs(np.random.default_rng(0), [4, 2, 1])
    right_out, right_h_n = rnncore.bidirectional_rnn_forward(**copy.deepcopy(inputs))
    entry = next(e for e in CATALOGUE[function] if e.name == "h_n backward at the last step")
    _, h_n = entry.compute(**copy.deepcopy(inputs))
    both = {entry.name, "backward states not put back in time order"}
    assert both <= {m.name for m in diagnose(function, h_n, inputs, 1)}
    assert [m.name for m in diagnose(function, h_n, inputs, 1, also={0: right_out})] == [entry.name]
    with pytest.raises(AssertionError) as err:
        grading.check_output(function, "h_n", h_n, right_h_n, inputs, index=1, also={0: right_out})
    assert entry.message in str(err.value) and " or: " not in str(err.value)


def test_name_known_mistake_fails_only_for_a_known_mistake():
    inputs = {"series": np.arange(10.0), "window": 3, "horizon": 2}
    X, Y = rnncore.make_windows(**copy.deepcopy(inputs))
    with pytest.raises(AssertionError, match="`make_windows`: `Y` is wrong on the case s: your `Y` starts at the last"):
        grading.name_known_mistake("make_windows", "Y", Y - 1, Y, inputs, index=1, also={0: X}, case="s")
    assert grading.name_known_mistake("make_windows", "Y", Y + 0.5, Y, inputs, index=1) is None
    with pytest.raises(AssertionError, match="joined with spaces"):
        grading.name_known_mistake("decode", "text", "b a n", "ban", {"ids": [2, 1, 0], "itos": ["n", "a", "b"]},
                                   index=None)


def test_exact_values_say_what_differs_when_no_mistake_matches():
    inputs = {"ids": [2, 1, 0], "itos": ["n", "a", "b"]}
    grading.check_output("decode", "text", "ban", "ban", inputs, index=None)
    with pytest.raises(AssertionError) as err:
        grading.check_output("decode", "text", "bax", "ban", inputs, index=None, reveal=True, case="by hand")
    assert str(err.value) == "`decode`: `text` is wrong on the case by hand\n  expected: 'ban'\n  got:      'bax'"
    with pytest.raises(AssertionError, match=r"`tokens` is wrong: 1 item instead of 3$"):
        grading.check_output("greedy_decode", "tokens", [7], [1, 1, 0], {}, index=0)


# What gives a fix away: the corrected expression or code, or an order to write it.
_FIX_VERB = (r"add|apply|call|carry|compute|copy|decode|divide|draw|feed|fold|gather|go|honour|join|keep|look|"
             r"multiply|normalise|pass|pick|push|put|read|restore|return|run|sort|stack|start|stop|store|sum|take|"
             r"test|transpose|update|use|weight|split|append|generate|drop|set|pass|backpropagate|square")
FIX_PATTERNS = {
    "an `instead of` with code": r"instead of `",
    "a `use ...`": r"\buse (?:`|the argument|np\.)",
    "a `should`/`must` rule": r"\b(?:should|must) (?:be|use|become|multiply|start|stay|pass)\b",
    "code in backticks": r"`[^`]*(?:@|np\.|\.T\b|\.sum\(|\[[^`\]]*:[^`\]]*\])[^`]*`",
    "a formula after a comma, colon or semicolon": r"[:;,] [a-z]{2,}\([^)]*\)(?:[,;:)]|$)",
    "an order after a comma": r", (?:add|divide|multiply|use|take|sum|apply) (?:both|by|the|it|them|each)\b",
    "a code equality": r"==",
    "an equation after a colon or semicolon": r"[:;][^:;]* = ",
    "an index expression after a colon or comma": r"[:;,] [^`:;]*\b[a-z]\w*\[[^\]`]+\]",
    "what to leave alone": r"\bas (?:they|it) (?:are|is)\b",
    "an order after a colon or semicolon": rf"[:;] (?:so |then |and )?(?:{_FIX_VERB})\b",
    "`so` and an order": rf"\bso (?:{_FIX_VERB}) ",
    "the corrected expression": r"\b(?:the (?:gradient|factor|derivative|score|interval|length|ids?|indices|norm|gate)"
                                r" (?:is|are)(?! cut| missing| left| ignored| lost)|is the sum|its gradient is|"
                                r"it flows back as|gives back as) ",
}


def fix_given(message):
    """The names of the patterns in FIX_PATTERNS that `message` matches (it gives the fix away)."""
    return [what for what, pattern in FIX_PATTERNS.items() if re.search(pattern, message)]


def _all_mistakes():
    """rnncore's catalogue and the instructor tasks' mistakes: {function: [Mistake, ...]}."""
    from rnngrade.assign import tasks

    tasks.load()
    return {**CATALOGUE, **tasks.MISTAKES}


@pytest.mark.parametrize("function", sorted(_all_mistakes()))
def test_messages_name_the_mistake_and_the_section_not_the_fix(function):
    for entry in _all_mistakes()[function]:
        assert not fix_given(entry.message), f"{function} / {entry.name}: {fix_given(entry.message)}: {entry.message}"
        assert re.search(r"\(chapter \d, section \"[^\"]+\"\)$", entry.message), \
            f"{function} / {entry.name} does not end with the section to reread: {entry.message}"


@pytest.mark.parametrize("message", [  # messages of the catalogue before it stopped printing fixes
    "it equals what you get with `h_prev @ W_hh` instead of `h_prev @ W_hh.T`: torch stores W_hh as (outputs, "
    "inputs), so with row vectors it is used transposed",
    "it equals the step without `b_hh`: torch has two biases, add both `b_ih` and `b_hh`",
    "it equals the step with the logistic sigmoid where tanh belongs: use `np.tanh`",
    "it equals the draw from softmax(z * temperature): the temperature divides the scores, softmax(z / tau), so "
    "that a high temperature flattens the distribution",
    "your `dh_prev` equals `da @ W_hh.T`: the forward pass computed `h_prev @ W_hh.T`, so the gradient flows back as "
    "`da @ W_hh`",
    "your bias gradient is the mean of `da` over the batch: the bias is added to every row, so its gradient is the "
    "sum, `da.sum(axis=0)`",
    "it equals the sequence started from zeros instead of from `h0`: the first step must use `h0`",
    "it is twice the gradient: the central difference spans 2h, from x - h to x + h, so divide by `2 * h`",
    "it equals the output that goes on after the end token until max_len tokens: stop right after producing "
    "`end_token` (and keep it)",
    "it equals hs[-1], the state after the padded end T, right only for the sequences of full length: take each "
    "sequence's state at its own last step, hs[lengths - 1, arange(N)]",
    "your `stoi` counts from 1: the indices are 0 .. V - 1, so that stoi[itos[i]] == i",
])
def test_the_fix_scan_catches_a_printed_fix(message):
    assert fix_given(message), message
