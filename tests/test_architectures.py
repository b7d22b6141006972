"""Bidirectional layers against torch (packed, float64), many-to-one readouts, greedy and beam search, bad input."""

import itertools

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import rnncore as rc

# ----------------------------------------------------------------------------------------- bidirectional


def _bi_module(pf, pb, nonlinearity):
    H, D = pf["W_ih"].shape
    m = torch.nn.RNN(D, H, nonlinearity=nonlinearity, bidirectional=True).double()
    with torch.no_grad():
        for sfx, p in (("", pf), ("_reverse", pb)):
            getattr(m, f"weight_ih_l0{sfx}").copy_(torch.from_numpy(p["W_ih"]))
            getattr(m, f"weight_hh_l0{sfx}").copy_(torch.from_numpy(p["W_hh"]))
            getattr(m, f"bias_ih_l0{sfx}").copy_(torch.from_numpy(p["b_ih"]))
            getattr(m, f"bias_hh_l0{sfx}").copy_(torch.from_numpy(p["b_hh"]))
    return m


def _bi_inputs(rng, T, N, D, H):
    x = rng.standard_normal((T, N, D))
    pf, pb = rc.init_recurrent(rng, D, H), rc.init_recurrent(rng, D, H)
    return x, rng.standard_normal((N, H)), rng.standard_normal((N, H)), pf, pb


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("T,N,D,H,lengths", [(6, 4, 3, 5, [6, 3, 1, 4]), (1, 1, 2, 3, [1]), (5, 3, 4, 2, [2, 5, 5]),
                                             (4, 2, 3, 3, [1, 1])])
def test_bidirectional_matches_torch_packed_sequence(rng, nonlinearity, T, N, D, H, lengths):
    x, h0f, h0b, pf, pb = _bi_inputs(rng, T, N, D, H)
    out, h_n = rc.bidirectional_rnn_forward(x, h0f, h0b, pf, pb, np.array(lengths), nonlinearity)
    m = _bi_module(pf, pb, nonlinearity)
    packed = pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths), enforce_sorted=False)
    out_t, h_n_t = m(packed, torch.from_numpy(np.stack([h0f, h0b])))
    out_t, _ = pad_packed_sequence(out_t, total_length=T)
    assert out.shape == (T, N, 2 * H) and h_n.shape == (2, N, H)
    assert np.max(np.abs(out - out_t.detach().numpy())) <= 1e-12
    assert np.max(np.abs(h_n - h_n_t.detach().numpy())) <= 1e-12


def test_bidirectional_without_lengths_matches_torch_and_stacked_forward(rng):
    T, N, D, H = 5, 3, 4, 6
    x, h0f, h0b, pf, pb = _bi_inputs(rng, T, N, D, H)
    out, h_n = rc.bidirectional_rnn_forward(x, h0f, h0b, pf, pb)
    out_t, h_n_t = _bi_module(pf, pb, "tanh")(torch.from_numpy(x), torch.from_numpy(np.stack([h0f, h0b])))
    assert np.max(np.abs(out - out_t.detach().numpy())) <= 1e-12
    assert np.max(np.abs(h_n - h_n_t.detach().numpy())) <= 1e-12
    params = {}
    for sfx, p in (("", pf), ("_reverse", pb)):
        params.update({f"weight_ih_l0{sfx}": p["W_ih"], f"weight_hh_l0{sfx}": p["W_hh"],
                       f"bias_ih_l0{sfx}": p["b_ih"], f"bias_hh_l0{sfx}": p["b_hh"]})
    out_s, h_n_s, _ = rc.stacked_forward(x, np.stack([h0f, h0b]), params)
    np.testing.assert_array_equal(out, out_s)
    np.testing.assert_array_equal(h_n, h_n_s)


def test_bidirectional_by_hand_and_padding_is_ignored(rng):
    # D = H = 1, weights 1 and 0.5, no bias: f_t = tanh(x_t + 0.5 f_{t-1}), b_t = tanh(x_t + 0.5 b_{t+1})
    one = {"W_ih": np.ones((1, 1)), "W_hh": 0.5 * np.ones((1, 1)), "b_ih": np.zeros(1), "b_hh": np.zeros(1)}
    x = np.array([1.0, -2.0, 99.0]).reshape(3, 1, 1)  # length 2: the 99 is padding
    out, h_n = rc.bidirectional_rnn_forward(x, np.zeros((1, 1)), np.zeros((1, 1)), one, one, np.array([2]))
    f1 = np.tanh(1.0)
    f2 = np.tanh(-2.0 + 0.5 * f1)
    b2 = np.tanh(-2.0)
    b1 = np.tanh(1.0 + 0.5 * b2)
    np.testing.assert_allclose(out[:, 0], [[f1, b1], [f2, b2], [0.0, 0.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(h_n[:, 0, 0], [f2, b1], rtol=0, atol=1e-15)
    x2 = x.copy()
    x2[2] = -5.0  # other padding: nothing changes
    out2, h_n2 = rc.bidirectional_rnn_forward(x2, np.zeros((1, 1)), np.zeros((1, 1)), one, one, np.array([2]))
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(h_n, h_n2)


def test_bidirectional_float32_keeps_dtype(rng):
    x, h0f, h0b, pf, pb = _bi_inputs(rng, 4, 2, 3, 5)
    f32 = {k: v.astype(np.float32) for k, v in pf.items()}
    b32 = {k: v.astype(np.float32) for k, v in pb.items()}
    out, h_n = rc.bidirectional_rnn_forward(x.astype(np.float32), h0f.astype(np.float32), h0b.astype(np.float32),
                                            f32, b32, np.array([4, 2]))
    assert out.dtype == np.float32 and h_n.dtype == np.float32


@pytest.mark.parametrize("change,message", [
    (dict(x=np.zeros((4, 2))), "bidirectional_rnn_forward: `x` must be 3-D with shape (T, N, D), got shape (4, 2)"),
    (dict(h0_fwd=np.zeros((3, 5))), "bidirectional_rnn_forward: `h0_fwd` must have shape (N, H) = (2, 5), got (3, 5)"),
    (dict(h0_bwd=np.zeros((2, 4))), "bidirectional_rnn_forward: `h0_bwd` must have shape (N, H) = (2, 5), got (2, 4)"),
    (dict(params_fwd={"W_ih": 0}), "bidirectional_rnn_forward: `params_fwd` must be a dict with keys"),
    (dict(params_bwd="weights"), "bidirectional_rnn_forward: `params_bwd` must be a dict with keys"),
    (dict(lengths=np.array([4, 5])), "bidirectional_rnn_forward: `lengths` must lie in [1, T] = [1, 4], got values in"),
    (dict(lengths=np.array([4, 0])), "bidirectional_rnn_forward: `lengths` must lie in [1, T] = [1, 4], got values in"),
    (dict(lengths=np.array([4.0, 2.0])), "bidirectional_rnn_forward: `lengths` must hold integers, got dtype float64"),
    (dict(lengths=np.array([4, 2, 1])), "bidirectional_rnn_forward: `lengths` must have shape (N,) = (2,), got (3,)"),
    (dict(nonlinearity="sigmoid"), "bidirectional_rnn_forward: `nonlinearity` must be 'tanh' or 'relu'"),
])
def test_bidirectional_bad_input_names_argument_and_shapes(rng, change, message):
    x, h0f, h0b, pf, pb = _bi_inputs(rng, 4, 2, 3, 5)
    args = dict(x=x, h0_fwd=h0f, h0_bwd=h0b, params_fwd=pf, params_bwd=pb, lengths=np.array([4, 2]))
    args.update(change)
    with pytest.raises(ValueError) as err:
        rc.bidirectional_rnn_forward(**args)
    assert str(err.value).startswith(message), str(err.value)


def test_bidirectional_bad_weight_shapes(rng):
    x, h0f, h0b, pf, pb = _bi_inputs(rng, 4, 2, 3, 5)
    bad = dict(pf, W_ih=np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"`params_fwd\['W_ih'\]` must have shape \(H, D\) = \(5, 3\), got \(5, 2\)"):
        rc.bidirectional_rnn_forward(x, h0f, h0b, bad, pb)
    small = rc.init_recurrent(rng, 3, 4)
    with pytest.raises(ValueError, match=r"`params_bwd\['W_hh'\]` must have shape \(H, H\), the same H in both"):
        rc.bidirectional_rnn_forward(x, h0f, h0b, pf, small)
    with pytest.raises(ValueError, match=r"`params_bwd\['b_hh'\]` must have shape \(H,\) = \(5,\), got \(4,\)"):
        rc.bidirectional_rnn_forward(x, h0f, h0b, pf, dict(pb, b_hh=np.zeros(4)))


# ----------------------------------------------------------------------------------------- many-to-one readouts


def test_last_valid_state_is_torch_packed_h_n(rng):
    T, N, D, H = 7, 5, 3, 4
    lengths = np.array([7, 1, 4, 2, 7])
    m = torch.nn.GRU(D, H).double()
    x = torch.from_numpy(rng.standard_normal((T, N, D)))
    hs, _ = m(x)
    _, h_n = m(pack_padded_sequence(x, torch.from_numpy(lengths), enforce_sorted=False))
    got = rc.last_valid_state(hs.detach().numpy(), lengths)
    assert got.shape == (N, H)
    assert np.max(np.abs(got - h_n[0].detach().numpy())) <= 1e-12
    # hs[-1] is right only for the sequences of full length
    wrong = np.abs(hs[-1].detach().numpy() - got).max(axis=1) > 1e-6
    np.testing.assert_array_equal(wrong, lengths < T)


def test_last_valid_state_by_hand():
    hs = np.arange(3 * 2 * 1, dtype=float).reshape(3, 2, 1)  # hs[t, n] = 2t + n
    np.testing.assert_array_equal(rc.last_valid_state(hs, np.array([1, 3])), [[0.0], [5.0]])
    np.testing.assert_array_equal(rc.last_valid_state(hs[:1], np.array([1, 1])), [[0.0], [1.0]])


def test_masked_mean_pool_by_hand_and_equals_unpadded_means(rng):
    hs = np.array([[[1.0, 2.0], [10.0, 0.0]], [[3.0, 4.0], [-7.0, 7.0]], [[5.0, 6.0], [99.0, 99.0]]])  # (3, 2, 2)
    mask = np.array([[True, True], [True, True], [True, False]])
    np.testing.assert_allclose(rc.masked_mean_pool(hs, mask), [[3.0, 4.0], [1.5, 3.5]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(rc.masked_mean_pool(hs, mask.astype(int)), [[3.0, 4.0], [1.5, 3.5]], atol=1e-15)
    T, N, H = 6, 4, 3
    hs = rng.standard_normal((T, N, H))
    lengths = np.array([6, 1, 3, 5])
    mask = np.arange(T)[:, None] < lengths
    expected = np.stack([hs[: lengths[n], n].mean(axis=0) for n in range(N)])
    np.testing.assert_allclose(rc.masked_mean_pool(hs, mask), expected, rtol=0, atol=1e-14)


def test_readouts_keep_float32(rng):
    hs = rng.standard_normal((4, 2, 3)).astype(np.float32)
    assert rc.last_valid_state(hs, np.array([1, 4])).dtype == np.float32
    assert rc.masked_mean_pool(hs, np.ones((4, 2), bool)).dtype == np.float32


def test_readouts_bad_input(rng):
    hs = rng.standard_normal((4, 2, 3))
    cases = [
        (lambda: rc.last_valid_state(hs[0], np.array([1, 2])),
         "last_valid_state: `hs` must be 3-D with shape (T, N, H), got shape (2, 3)"),
        (lambda: rc.last_valid_state(hs, np.array([1, 5])),
         "last_valid_state: `lengths` must lie in [1, T] = [1, 4], got values in [1, 5]"),
        (lambda: rc.last_valid_state(hs, np.array([1])),
         "last_valid_state: `lengths` must have shape (N,) = (2,), got (1,)"),
        (lambda: rc.masked_mean_pool(hs, np.ones((4, 3), bool)),
         "masked_mean_pool: `mask` must have shape (T, N) = (4, 2), got (4, 3)"),
        (lambda: rc.masked_mean_pool(hs, np.full((4, 2), 0.5)),
         "masked_mean_pool: `mask` must hold booleans (or 0 and 1), got dtype float64"),
        (lambda: rc.masked_mean_pool(hs, np.array([[True, False]] * 4)),
         "masked_mean_pool: `mask` must keep at least one step of every sequence, but column(s) [1] are all False"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value) == message


# ----------------------------------------------------------------------------------------- decoding


def _table_step(table):
    """A step function whose log-probabilities depend on the whole prefix: table[prefix] (default: a fallback)."""
    def step(token, prefix):
        prefix = prefix + (token,)
        return np.log(np.asarray(table[prefix], dtype=float)), prefix
    return step


# start 9; tokens 0 (= end), 1 (A), 2 (B). Greedy takes A (0.5) and then can only spread; B leads to a sure thing.
TREE = {(9,): [0.1, 0.5, 0.4], (9, 1): [0.3, 0.35, 0.35], (9, 2): [0.05, 0.05, 0.9],
        (9, 1, 1): [1.0, 0.0, 0.0], (9, 1, 2): [1.0, 0.0, 0.0], (9, 2, 1): [1.0, 0.0, 0.0],
        (9, 2, 2): [1.0, 0.0, 0.0]}


def test_greedy_fails_where_beam_search_succeeds():
    step = _table_step(TREE)
    with np.errstate(divide="ignore"):
        tokens, logp = rc.greedy_decode(step, (), 9, 5, 0)
        assert tokens == [1, 1, 0] and np.isclose(logp, np.log(0.5 * 0.35))
        tokens, score = rc.beam_search(step, (), 9, 2, 5, 0)
        assert tokens == [2, 2, 0] and np.isclose(score, np.log(0.4 * 0.9))
        tokens, _ = rc.beam_search(step, (), 9, 3, 1, 0)  # max_len 1: the unfinished A (0.5) beats "end" (0.1)
        assert tokens == [1]


def test_greedy_stops_at_end_token_and_at_max_len():
    table = {(5,): [0.2, 0.8], (5, 1): [0.6, 0.4], (5, 1, 0): [0.5, 0.5]}
    tokens, logp = rc.greedy_decode(_table_step(table), (), 5, 10, 0)
    assert tokens == [1, 0] and np.isclose(logp, np.log(0.8 * 0.6))
    tokens, logp = rc.greedy_decode(_table_step(table), (), 5, 1, 0)
    assert tokens == [1] and np.isclose(logp, np.log(0.8))
    # ties go to the smallest token id
    tokens, _ = rc.greedy_decode(_table_step({(5,): [0.5, 0.5]}), (), 5, 3, 0)
    assert tokens == [0]


def _rnn_step(rng, V, H, end_bias=0.0):
    E, W, O = rng.standard_normal((V + 1, H)), rng.standard_normal((H, H)), rng.standard_normal((V, H))
    b = np.zeros(V)
    b[0] = end_bias

    def step(token, h):
        h = np.tanh(E[token] + h @ W.T)
        z = h @ O.T + b
        return z - np.log(np.exp(z).sum()), h
    return step


def _brute_force(step, h0, start, V, max_len, end, alpha):
    """Score every possible output (ended by `end`, or max_len long) and return the best, first in this order."""
    best = None
    for k in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=k):
            if end in seq[:-1] or (k < max_len and seq[-1] != end):
                continue
            h, token, logp = h0, start, 0.0
            for s in seq:
                log_probs, h = step(token, h)
                logp, token = logp + log_probs[s], s
            score = logp / k**alpha
            if best is None or score > best[1]:
                best = (list(seq), score)
    return best


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0, 2.0])
@pytest.mark.parametrize("seed", range(4))
def test_wide_beam_is_exhaustive_search(alpha, seed):
    rng = np.random.default_rng(seed)
    V, H, max_len = 3, 4, 4
    step = _rnn_step(rng, V, H, end_bias=-1.0)
    h0 = rng.standard_normal(H)
    tokens, score = rc.beam_search(step, h0, V, V**max_len, max_len, 0, alpha)
    best, best_score = _brute_force(step, h0, V, V, max_len, 0, alpha)
    assert tokens == best and np.isclose(score, best_score, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_beam_width_one_is_greedy(seed):
    rng = np.random.default_rng(seed)
    step = _rnn_step(rng, 5, 4)
    h0 = rng.standard_normal(4)
    tokens, logp = rc.greedy_decode(step, h0, 5, 7, 0)
    for alpha in (0.0, 1.0):
        b_tokens, b_score = rc.beam_search(step, h0, 5, 1, 7, 0, alpha)
        assert b_tokens == tokens and np.isclose(b_score, logp / len(tokens) ** alpha, rtol=0, atol=1e-12)


def test_length_normalisation_picks_the_longer_output():
    # "end" at once has p = 0.3, "1 1 end" has 0.7 * 0.9 * 0.9 = 0.567: the longer output wins even unnormalised
    table = {(7,): [0.3, 0.7], (7, 1): [0.1, 0.9], (7, 1, 1): [0.9, 0.1], (7, 1, 1, 1): [1.0, 1e-300]}
    step = _table_step(table)
    tokens0, score0 = rc.beam_search(step, (), 7, 2, 4, 0, alpha=0.0)
    tokens1, score1 = rc.beam_search(step, (), 7, 2, 4, 0, alpha=1.0)
    assert tokens0 == [1, 1, 0] and np.isclose(score0, np.log(0.7 * 0.9 * 0.9))
    table[(7,)] = [0.6, 0.4]  # now ending at once is more probable than any longer output
    tokens0, _ = rc.beam_search(step, (), 7, 2, 4, 0, alpha=0.0)
    tokens1, score1 = rc.beam_search(step, (), 7, 2, 4, 0, alpha=1.0)
    assert tokens0 == [0]
    assert tokens1 == [1, 1, 0] and np.isclose(score1, np.log(0.4 * 0.9 * 0.9) / 3)


def test_finished_hypotheses_leave_the_beam():
    # width 2. Step 1 keeps "end" (finished, 0.45) and A (0.4). A's two best continuations, A A (0.4 * 0.5) and
    # A B (0.4 * 0.45), are both kept because "end" no longer takes a slot; only A B can then finish well.
    table = {(8,): [0.45, 0.4, 0.15], (8, 1): [0.05, 0.5, 0.45], (8, 1, 1): [0.2, 0.4, 0.4],
             (8, 1, 2): [0.99, 0.005, 0.005], (8, 1, 1, 1): [1.0, 1e-9, 1e-9], (8, 1, 1, 2): [1.0, 1e-9, 1e-9],
             (8, 1, 2, 1): [1.0, 1e-9, 1e-9], (8, 1, 2, 2): [1.0, 1e-9, 1e-9]}
    tokens, score = rc.beam_search(_table_step(table), (), 8, 2, 4, 0, alpha=1.0)
    assert tokens == [1, 2, 0] and np.isclose(score, np.log(0.4 * 0.45 * 0.99) / 3)


def test_beam_ties_go_to_the_earlier_hypothesis_and_smaller_token():
    table = {(3,): [0.25, 0.25, 0.5], (3, 2): [0.5, 0.5, 0.0], (3, 0): [1.0, 0.0, 0.0]}
    with np.errstate(divide="ignore"):
        tokens, score = rc.beam_search(_table_step(table), (), 3, 2, 2, 0)
    assert tokens == [0] and np.isclose(score, np.log(0.25))  # "0" (0.25), "2 0" and "2 1" (0.25 each): first wins


def test_unfinished_hypotheses_are_returned_at_max_len():
    tokens, score = rc.beam_search(_table_step({(4,): [0.1, 0.9], (4, 1): [0.1, 0.9]}), (), 4, 1, 2, 0)
    assert tokens == [1, 1] and np.isclose(score, np.log(0.81))


def test_decoders_bad_input():
    step = _table_step({(4,): [0.5, 0.5]})
    cases = [
        (lambda: rc.greedy_decode("step", (), 4, 3, 0), "greedy_decode: `step_fn` must be callable"),
        (lambda: rc.greedy_decode(step, (), 4, 0, 0), "greedy_decode: `max_len` must be an integer >= 1, got 0"),
        (lambda: rc.greedy_decode(step, (), -1, 3, 0),
         "greedy_decode: `start_token` must be a non-negative integer token id, got -1"),
        (lambda: rc.greedy_decode(step, (), 4, 3, 1.0),
         "greedy_decode: `end_token` must be a non-negative integer token id, got 1.0"),
        (lambda: rc.greedy_decode(lambda t, h: np.zeros(3), (), 4, 3, 0),
         "greedy_decode: `step_fn(token, h)` must return a pair (log_probs, h_next), got ndarray"),
        (lambda: rc.greedy_decode(lambda t, h: (np.zeros((1, 3)), h), (), 4, 3, 0),
         "greedy_decode: `step_fn` must return log_probs of shape (V,), got shape (1, 3)"),
        (lambda: rc.beam_search(step, (), 4, 0, 3, 0), "beam_search: `beam_width` must be an integer >= 1, got 0"),
        (lambda: rc.beam_search(step, (), 4, 2, True, 0), "beam_search: `max_len` must be an integer >= 1, got True"),
        (lambda: rc.beam_search(step, (), 4, 2, 3, 0, alpha=-0.5),
         "beam_search: `alpha` must be a number >= 0, got -0.5"),
        (lambda: rc.beam_search(None, (), 4, 2, 3, 0), "beam_search: `step_fn` must be callable"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value).startswith(message), str(err.value)
