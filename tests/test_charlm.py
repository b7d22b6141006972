"""The character-level language model: vocabulary, gradient check over the params dict, training, sampling."""

import numpy as np
import pytest

import rnncore as rc

TEXT = "hello world " * 10


def test_vocab_round_trip_and_sorted_indices():
    vocab = rc.Vocab.from_text("banana bread")
    assert vocab.chars == [" ", "a", "b", "d", "e", "n", "r"] and len(vocab) == 7
    idx = vocab.encode("bad bread")
    assert idx.dtype == np.int64 and list(idx[:3]) == [2, 1, 3]
    assert vocab.decode(idx) == "bad bread"
    assert vocab.decode([]) == "" and vocab.encode("").shape == (0,)
    assert repr(rc.Vocab("xy")) == "Vocab('xy')"


def test_vocab_bad_input():
    with pytest.raises(ValueError, match=r"Vocab.encode: `text` has characters not in the vocabulary: \['z'\]"):
        rc.Vocab.from_text("abc").encode("abz")
    with pytest.raises(ValueError, match=r"Vocab.decode: `idx` must be integers in \[0, V\) = \[0, 3\)"):
        rc.Vocab.from_text("abc").decode([0, 3])
    with pytest.raises(ValueError, match="Vocab: `chars` must be distinct, got repeats \\['a'\\]"):
        rc.Vocab("aba")
    with pytest.raises(ValueError, match="Vocab: `chars` must be a non-empty sequence of single characters"):
        rc.Vocab(["ab", "c"])
    with pytest.raises(ValueError, match="Vocab.from_text: `text` must be a non-empty str"):
        rc.Vocab.from_text("")


@pytest.mark.parametrize("E", [None, 3])
def test_charlm_gradients_match_numerical_over_the_params_dict(E):
    rng = np.random.default_rng(0)
    V, H, T, N = 5, 4, 6, 2
    params = rc.init_charlm(rng, V, H, E=E)
    inputs = rng.integers(0, V, size=(T, N))
    targets = rng.integers(0, V, size=(T, N))
    h0 = rng.standard_normal((N, H)) * 0.5
    loss, grads, h_last = rc.charlm_loss_and_grads(params, inputs, targets, h0)
    assert list(grads) == list(params) and all(grads[k].shape == params[k].shape for k in params)
    assert ("W_emb" in params) == (E is not None)
    errors = rc.check_gradients(params, grads, lambda: rc.charlm_loss_and_grads(params, inputs, targets, h0)[0])
    assert max(errors.values()) < 1e-6, errors
    assert h_last.shape == (N, H)
    clipped = rc.clip_by_value(grads, 5.0)  # clipping is the same one loop
    assert set(clipped) == set(params)


def test_charlm_loss_is_the_layers_composed(rng):
    V, H = 6, 5
    params = rc.init_charlm(rng, V, H)
    inputs = np.array([[0, 1], [2, 3], [4, 5]])
    targets = np.array([[1, 2], [3, 4], [5, 0]])
    h0 = np.zeros((2, H))
    loss, _, h_last = rc.charlm_loss_and_grads(params, inputs, targets, h0)
    hs, _ = rc.rnn_forward(np.eye(V)[inputs], h0, params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"])
    y = hs @ params["W_hy"].T + params["b_y"]
    logp = y - np.log(np.exp(y).sum(-1, keepdims=True))
    expected = -np.mean(np.take_along_axis(logp, targets[..., None], -1))
    assert abs(loss - expected) < 1e-12
    np.testing.assert_array_equal(h_last, hs[-1])
    # an untrained model is close to uniform: about ln V nats per character
    assert abs(loss - np.log(V)) < 0.5


def test_train_charlm_loss_falls_and_low_temperature_sampling_repeats_the_text():
    H = 32
    params, losses = rc.train_charlm(TEXT, np.random.default_rng(0), H=H, seq_len=10, steps=300, lr=1e-2)
    vocab = rc.Vocab.from_text(TEXT)
    assert losses.shape == (300,)
    assert abs(losses[0] - np.log(len(vocab))) < 0.3  # starts near a uniform guess over 8 characters
    assert losses[-20:].mean() < 0.05  # the text is memorised
    out = rc.sample(params, np.zeros(H), vocab.encode("h")[0], 35, np.random.default_rng(1), temperature=0.1)
    assert vocab.decode(out) == "ello world hello world hello world "
    # a longer prime: the model continues from where it leaves off
    out = rc.sample(params, np.zeros(H), vocab.encode("hello wo"), 9, np.random.default_rng(1), temperature=0.1)
    assert vocab.decode(out) == "rld hello"


def test_train_charlm_with_embedding_batches_and_sgd():
    params, losses = rc.train_charlm(TEXT * 2, np.random.default_rng(0), H=24, seq_len=8, steps=250, batch_size=3,
                                     E=6, lr=1e-2)
    assert params["W_emb"].shape == (8, 6)
    assert losses[-20:].mean() < 0.25 * losses[:5].mean()
    _, sgd_losses = rc.train_charlm(TEXT, np.random.default_rng(0), H=16, seq_len=8, steps=200, lr=0.5,
                                    optimizer="sgd", clip=None)
    assert sgd_losses[-20:].mean() < sgd_losses[:5].mean() - 0.5


def test_train_charlm_is_truncated_bptt_over_side_by_side_streams():
    # the documented schedule written out: 2 streams of (40 - 1) // 2 = 19 characters, chunks of 6 at 0, 6, 12,
    # then back to the start with a zero state; the state is carried between the chunks in between
    text = "the cat sat on the mat, the dog sat too."
    params, losses = rc.train_charlm(text, np.random.default_rng(2), H=5, seq_len=6, steps=7, lr=0.01, batch_size=2)
    vocab = rc.Vocab.from_text(text)
    data = vocab.encode(text)
    X, Y = data[:38].reshape(2, 19), data[1:39].reshape(2, 19)
    ref = rc.init_charlm(np.random.default_rng(2), len(vocab), 5)
    opt, h, expected = rc.Adam(0.01), np.zeros((2, 5)), []
    for pos in [0, 6, 12, 0, 6, 12, 0]:
        if pos == 0:
            h = np.zeros((2, 5))
        loss, grads, h = rc.charlm_loss_and_grads(ref, X[:, pos : pos + 6].T, Y[:, pos : pos + 6].T, h)
        opt.step(ref, rc.clip_by_value(grads, 5.0))
        expected.append(loss)
    np.testing.assert_allclose(losses, expected, rtol=0, atol=1e-14)
    for k in ref:
        np.testing.assert_allclose(params[k], ref[k], rtol=0, atol=1e-14)


def test_seeds_make_training_and_sampling_deterministic():
    a, la = rc.train_charlm(TEXT, np.random.default_rng(5), H=8, seq_len=7, steps=20)
    b, lb = rc.train_charlm(TEXT, np.random.default_rng(5), H=8, seq_len=7, steps=20)
    c, lc = rc.train_charlm(TEXT, np.random.default_rng(6), H=8, seq_len=7, steps=20)
    np.testing.assert_array_equal(la, lb)
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.array_equal(la, lc)
    s1 = rc.sample(a, np.zeros(8), 0, 30, np.random.default_rng(9))
    s2 = rc.sample(a, np.zeros(8), 0, 30, np.random.default_rng(9))
    s3 = rc.sample(a, np.zeros(8), 0, 30, np.random.default_rng(10))
    np.testing.assert_array_equal(s1, s2)
    assert s1.dtype == np.int64 and s1.shape == (30,) and not np.array_equal(s1, s3)
    assert rc.sample(a, np.zeros(8), 0, 0, np.random.default_rng(9)).shape == (0,)


def test_sample_temperature_sharpens_the_distribution(rng):
    V, H = 4, 3
    params = rc.init_charlm(rng, V, H)
    params["b_y"] = np.array([2.0, 1.0, 0.0, -1.0])  # the next character depends mostly on this bias
    params["W_hy"] *= 0.0
    counts = {t: np.bincount(rc.sample(params, np.zeros(H), 0, 2000, np.random.default_rng(0), temperature=t),
                             minlength=V) / 2000 for t in (0.05, 1.0)}
    assert counts[0.05][0] == 1.0
    expected = np.exp(params["b_y"]) / np.exp(params["b_y"]).sum()
    np.testing.assert_allclose(counts[1.0], expected, atol=0.03)


def test_charlm_bad_input(rng):
    params = rc.init_charlm(rng, 5, 4)
    x = np.zeros((3, 2), dtype=int)
    h0 = np.zeros((2, 4))
    cases = [
        (lambda: rc.charlm_loss_and_grads(params, np.zeros(3, int), np.zeros(3, int), h0),
         "charlm_loss_and_grads: `inputs` must be 2-D with shape (T, N), got shape (3,)"),
        (lambda: rc.charlm_loss_and_grads(params, x, np.zeros((2, 3), int), h0),
         "charlm_loss_and_grads: `targets` must have shape (T, N) = (3, 2), got (2, 3)"),
        (lambda: rc.charlm_loss_and_grads(params, x, x, np.zeros((3, 4))),
         "charlm_loss_and_grads: `h0` must have shape (N, H) = (2, 4), got (3, 4)"),
        (lambda: rc.charlm_loss_and_grads(params, x + 5, x, h0),
         "charlm_loss_and_grads: `inputs` must lie in [0, V) = [0, 5), got values in [5, 5]"),
        (lambda: rc.charlm_loss_and_grads(params, x * 1.0, x, h0),
         "charlm_loss_and_grads: `inputs` must hold integer character indices, got dtype float64"),
        (lambda: rc.charlm_loss_and_grads({"W_ih": 1}, x, x, h0),
         "charlm_loss_and_grads: `params` must have the keys ['W_hh', 'W_hy', 'W_ih', 'b_hh', 'b_ih', 'b_y']"),
        (lambda: rc.sample(params, np.zeros(4), 0, 5, rng, temperature=0),
         "sample: `temperature` must be a number > 0, got 0"),
        (lambda: rc.sample(params, np.zeros((1, 4)), 0, 5, rng), "sample: `h` must have shape (H,) = (4,), got (1, 4)"),
        (lambda: rc.sample(params, np.zeros(4), 7, 5, rng), "sample: `seed_idx` must lie in [0, V) = [0, 5)"),
        (lambda: rc.sample(params, np.zeros(4), [], 5, rng), "sample: `seed_idx` must hold at least one"),
        (lambda: rc.sample(params, np.zeros(4), 0, -1, rng), "sample: `n` must be an int >= 0, got -1"),
        (lambda: rc.sample(params, np.zeros(4), 0, 5, 42), "sample: `rng` must be a numpy.random.Generator, got int"),
        (lambda: rc.init_charlm(rng, 5, 0), "init_charlm: `H` must be a positive int, got 0"),
        (lambda: rc.train_charlm("abc", rng, seq_len=5),
         "train_charlm: `text` is too short: 3 characters give 1 stream(s) of 2, fewer than seq_len = 5"),
        (lambda: rc.train_charlm(TEXT, rng, optimizer="adagrad"),
         "train_charlm: `optimizer` must be 'adam' or 'sgd', got 'adagrad'"),
        (lambda: rc.train_charlm(TEXT, rng, clip=0), "train_charlm: `clip` must be a positive number or None, got 0"),
        (lambda: rc.train_charlm(["a"], rng), "train_charlm: `text` must be a non-empty str"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as err:
            call()
        assert message in str(err.value)
