"""The shipped real data (sizes, contents, checksums of what the README records), the vocabulary, sampling and
windowing functions of chapter 7 (golden values, inverses, exact draws), the reference forecaster, the date
generator, and every bad-input error by message."""

import datetime
import hashlib
import re

import numpy as np
import pytest

import rnncore as rc
from rnncore import realdata

# ------------------------------------------------------------------------------------------------ the data files


def test_data_folder_holds_exactly_the_documented_files_and_is_small():
    files = sorted(p.name for p in realdata.DATA.iterdir())
    expected = ["README.md", "hamlet.txt", "sunspots.csv"] + [f"words_{c}.txt" for c in realdata.LANGUAGES]
    assert files == sorted(expected)
    total = sum(p.stat().st_size for p in realdata.DATA.iterdir())
    assert total < 2_000_000, f"rnncore/data holds {total} bytes; the budget is 2 MB"


def test_readme_records_size_and_sha256_of_every_data_file():
    readme = (realdata.DATA / "README.md").read_text(encoding="utf-8")
    for path in sorted(realdata.DATA.iterdir()):
        if path.name == "README.md":
            continue
        data = path.read_bytes()
        row = re.search(rf"^\| `{re.escape(path.name)}` \| ([\d,]+) \| `([0-9a-f]{{64}})` \|", readme, flags=re.M)
        assert row, f"README.md has no table row for {path.name}"
        assert int(row.group(1).replace(",", "")) == len(data), f"{path.name}: size in README.md is out of date"
        assert row.group(2) == hashlib.sha256(data).hexdigest(), f"{path.name}: sha256 in README.md is out of date"


def test_hamlet_text():
    text = rc.load_hamlet()
    assert isinstance(text, str) and len(text) == 170_533
    assert text.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\n")
    assert "To be, or not to be: that is the question:" in text
    assert len(set(text)) == 62 and set(text) <= set("\n !&',-.:;?") | set("abcdefghijklmnopqrstuvwxyz".upper()) | \
        set("abcdefghijklmnopqrstuvwxyz")
    assert "_" not in text and "*" not in text and "#" not in text and "\\" not in text  # no markdown left


def test_words_are_balanced_lowercase_ascii_and_never_in_two_languages():
    words, labels, languages = rc.load_words()
    assert languages == ("en", "es", "nl", "pl", "pt")
    assert len(words) == 15_000 and labels.shape == (15_000,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels), [3000] * 5)
    assert all(re.fullmatch(r"[a-z]{3,12}", w) for w in words)
    assert len(set(words)) == len(words)  # no word carries two labels
    for k in range(5):
        group = [w for w, label in zip(words, labels) if label == k]
        assert group == sorted(group)
    assert words[labels.tolist().index(1)] == "abadejo"


def test_words_subset_and_order_of_languages():
    words, labels, languages = rc.load_words(["pt", "en"])
    assert languages == ("pt", "en") and len(words) == 6000
    all_words, all_labels, _ = rc.load_words()
    assert words[:3000] == [w for w, label in zip(all_words, all_labels) if label == 4]
    np.testing.assert_array_equal(labels, [0] * 3000 + [1] * 3000)
    assert rc.load_words("es")[2] == ("es",)


def test_sunspots_golden_values():
    years, s = rc.load_sunspots()
    np.testing.assert_array_equal(years, np.arange(1700, 2009))
    assert years.dtype == np.int64 and s.dtype == np.float64 and s.shape == (309,)
    np.testing.assert_array_equal(s[:4], [5, 11, 16, 23])
    np.testing.assert_array_equal(s[-3:], [15.2, 7.5, 2.9])
    assert s.max() == 190.2 and years[s.argmax()] == 1957 and s.min() == 0


# ------------------------------------------------------------------------------------------------ vocabulary


def test_build_vocab_golden_and_sorted():
    stoi, itos = rc.build_vocab("hello, world")
    assert itos == [" ", ",", "d", "e", "h", "l", "o", "r", "w"]
    assert stoi == {c: i for i, c in enumerate(itos)}
    # the order of appearance does not matter, only the set of characters
    assert rc.build_vocab("dlrow ,olleh") == (stoi, itos)
    assert rc.build_vocab("a") == ({"a": 0}, ["a"])


def test_encode_decode_are_inverse_on_hamlet():
    text = rc.load_hamlet()
    stoi, itos = rc.build_vocab(text)
    ids = rc.encode(text[:5000], stoi)
    assert ids.dtype == np.int64 and ids.shape == (5000,)
    assert rc.decode(ids, itos) == text[:5000]
    assert rc.decode(list(ids[:8]), itos) == "BERNARDO"
    np.testing.assert_array_equal(rc.encode("BE", stoi), [stoi["B"], stoi["E"]])
    assert rc.encode("", stoi).shape == (0,) and rc.decode([], itos) == ""


def test_vocab_functions_agree_with_charlm_vocab():
    text = rc.load_hamlet()[:3000]
    stoi, itos = rc.build_vocab(text)
    vocab = rc.Vocab.from_text(text)
    assert vocab.chars == itos
    np.testing.assert_array_equal(vocab.encode(text), rc.encode(text, stoi))


@pytest.mark.parametrize("call,message", [
    (lambda: rc.build_vocab(""), "build_vocab: `text` must be a non-empty str"),
    (lambda: rc.build_vocab(["a", "b"]), "build_vocab: `text` must be a non-empty str"),
    (lambda: rc.encode(["a"], {"a": 0}), "encode: `text` must be a str, got list"),
    (lambda: rc.encode("ab", ["a", "b"]), "encode: `stoi` must be a dict of character -> index, got list"),
    (lambda: rc.encode("abz", {"a": 0, "b": 1}), "encode: `text` has characters that are not in `stoi`: ['z']"),
    (lambda: rc.decode([0, 2], ["a", "b"]), "decode: `ids` must lie in [0, V) = [0, 2), got values in [0, 2]"),
    (lambda: rc.decode([-1], ["a", "b"]), "decode: `ids` must lie in [0, V) = [0, 2), got values in [-1, -1]"),
    (lambda: rc.decode([0.0], ["a"]), "decode: `ids` must hold integers, got dtype float64"),
    (lambda: rc.decode([[0]], ["a"]), "decode: `ids` must be 1-D with shape (T,), got shape (1, 1)"),
    (lambda: rc.decode([0], {"a": 0}), "decode: `itos` must be a list of characters, got dict"),
])
def test_vocab_bad_input(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(message)


# ------------------------------------------------------------------------------------------------ sampling


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_sample_with_temperature_is_inverse_cdf_with_one_uniform_draw():
    logits = np.array([1.0, 2.0, 0.5, -1.0])
    for tau in (0.3, 1.0, 2.5):
        rng, twin = np.random.default_rng(7), np.random.default_rng(7)
        for _ in range(50):
            got = rc.sample_with_temperature(logits, tau, rng)
            u = twin.random()
            c = np.cumsum(_softmax(logits / tau))
            assert type(got) is int and got == int(np.searchsorted(c, u, side="right"))
        assert rng.random() == twin.random()  # exactly one draw per call


def test_sample_with_temperature_golden_case():
    # u = default_rng(0).random() = 0.6369616873214543; softmax([0, ln 2, ln 5]) = [1/8, 2/8, 5/8], CDF [.125, .375, 1]
    logits = np.log([1.0, 2.0, 5.0])
    assert np.random.default_rng(0).random() == pytest.approx(0.6369616873214543, abs=1e-16)
    assert rc.sample_with_temperature(logits, 1.0, np.random.default_rng(0)) == 2
    # at tau = 2 the probabilities are proportional to [1, sqrt 2, sqrt 5]: CDF [.216, .521, 1] -> index 2
    assert rc.sample_with_temperature(logits, 2.0, np.random.default_rng(0)) == 2
    # at tau = 0.25 they are proportional to [1, 16, 625]: CDF [.0016, .0265, 1] -> 2; u = 0.02 picks 1
    assert rc.sample_with_temperature(logits, 0.25, np.random.default_rng(0)) == 2


def test_sample_with_temperature_batched_rows_use_one_draw_each(rng):
    logits = rng.standard_normal((6, 5)) * 3
    got = rc.sample_with_temperature(logits, 0.7, np.random.default_rng(3))
    u = np.random.default_rng(3).random(6)
    c = np.cumsum(_softmax(logits / 0.7), axis=-1)
    expected = [int(np.searchsorted(c[n], u[n], side="right")) for n in range(6)]
    assert got.dtype == np.int64 and got.shape == (6,)
    np.testing.assert_array_equal(got, expected)


def test_temperature_limits_argmax_and_uniform(rng):
    logits = np.array([0.5, 3.0, 2.9, -4.0])
    picks = [rc.sample_with_temperature(logits, 1e-3, rng) for _ in range(200)]
    assert set(picks) == {1}
    counts = np.bincount([rc.sample_with_temperature(logits, 1e6, rng) for _ in range(8000)], minlength=4)
    assert np.all(np.abs(counts / 8000 - 0.25) < 0.03)
    assert rc.sample_with_temperature(np.array([1e4, 0.0]), 1.0, rng) == 0  # no overflow
    assert rc.sample_with_temperature(np.array([2.0]), 1.0, rng) == 0


def test_sample_with_temperature_frequencies_match_the_probabilities(rng):
    logits = np.array([0.0, 1.0, 2.0])
    draws = [rc.sample_with_temperature(logits, 1.5, rng) for _ in range(20000)]
    freq = np.bincount(draws, minlength=3) / 20000
    np.testing.assert_allclose(freq, _softmax(logits / 1.5), atol=0.015)


@pytest.mark.parametrize("call,message", [
    (lambda g: rc.sample_with_temperature(np.zeros((2, 2, 2)), 1.0, g),
     "sample_with_temperature: `logits` must have shape (V,) or (N, V), got (2, 2, 2)"),
    (lambda g: rc.sample_with_temperature(np.zeros(3), 0.0, g),
     "sample_with_temperature: `temperature` must be a number > 0, got 0.0"),
    (lambda g: rc.sample_with_temperature(np.zeros(3), -1, g),
     "sample_with_temperature: `temperature` must be a number > 0, got -1"),
    (lambda g: rc.sample_with_temperature(np.zeros(3), 1.0, 0),
     "sample_with_temperature: `rng` must be a numpy.random.Generator, got int"),
    (lambda g: rc.sample_with_temperature(["a", "b"], 1.0, g),
     "sample_with_temperature: `logits` must be a numeric array"),
])
def test_sample_with_temperature_bad_input(rng, call, message):
    with pytest.raises(ValueError) as err:
        call(rng)
    assert str(err.value).startswith(message)


# ------------------------------------------------------------------------------------------------ windows


def test_make_windows_golden():
    X, Y = rc.make_windows(np.arange(10.0), 3, 2)
    assert X.shape == (3, 6, 1) and Y.shape == (6, 2)
    np.testing.assert_array_equal(X[:, 0, 0], [0, 1, 2])
    np.testing.assert_array_equal(Y[0], [3, 4])
    np.testing.assert_array_equal(X[:, -1, 0], [5, 6, 7])
    np.testing.assert_array_equal(Y[-1], [8, 9])
    X1, Y1 = rc.make_windows(np.array([4.0, 7.0]), 1, 1)
    np.testing.assert_array_equal(X1, [[[4.0]]])
    np.testing.assert_array_equal(Y1, [[7.0]])


def test_make_windows_no_leakage_and_dtype(rng):
    s = rng.standard_normal(50).astype(np.float32)
    X, Y = rc.make_windows(s, 7, 4)
    assert X.dtype == Y.dtype == np.float32 and X.shape == (7, 40, 1) and Y.shape == (40, 4)
    for n in range(40):
        np.testing.assert_array_equal(X[:, n, 0], s[n : n + 7])
        np.testing.assert_array_equal(Y[n], s[n + 7 : n + 11])
    # exactly one window when L = window + horizon
    X, Y = rc.make_windows(s[:11], 7, 4)
    assert X.shape == (7, 1, 1) and Y.shape == (1, 4)


@pytest.mark.parametrize("call,message", [
    (lambda: rc.make_windows(np.zeros((5, 2)), 2, 1),
     "make_windows: `series` must be 1-D with shape (L,), got shape (5, 2)"),
    (lambda: rc.make_windows(np.zeros(5), 0, 1), "make_windows: `window` must be an int >= 1, got 0"),
    (lambda: rc.make_windows(np.zeros(5), 2, 1.0), "make_windows: `horizon` must be an int >= 1, got 1.0"),
    (lambda: rc.make_windows(np.zeros(5), 4, 2),
     "make_windows: `series` has L = 5 values, fewer than window + horizon = 6"),
])
def test_make_windows_bad_input(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


# ------------------------------------------------------------------------------------------------ forecaster


def _split_windows(series, split, window, horizon):
    Xtr, Ytr = rc.make_windows(series[:split], window, horizon)
    Xte, Yte = rc.make_windows(series[split - window :], window, horizon)
    return Xtr, Ytr, Xte, Yte


def test_train_forecaster_beats_persistence_and_the_mean_on_sunspots():
    years, s = rc.load_sunspots()
    split = int(np.searchsorted(years, 1921))
    Xtr, Ytr, Xte, Yte = _split_windows(s, split, 20, 3)
    pred = rc.train_forecaster(Xtr, Ytr, Xte, 0)
    assert pred.shape == Yte.shape and pred.dtype == np.float64
    mse = np.mean((pred - Yte) ** 2)
    persistence = np.mean((Xte[-1, :, 0][:, None] - Yte) ** 2)
    mean = np.mean((Ytr.mean() - Yte) ** 2)
    assert mse < 0.6 * min(persistence, mean)


def test_train_forecaster_scales_with_the_training_windows_only():
    # a series far from zero: only a forecaster that scales its inputs learns it in the budget
    rng = np.random.default_rng(5)
    t = np.arange(300)
    s = 1000 + 50 * np.sin(2 * np.pi * t / 17) + 5 * rng.standard_normal(300)
    Xtr, Ytr, Xte, Yte = _split_windows(s, 220, 12, 3)
    pred = rc.train_forecaster(Xtr, Ytr, Xte, 3)
    assert np.mean((pred - Yte) ** 2) < 0.3 * np.mean((Xte[-1, :, 0][:, None] - Yte) ** 2)


def test_train_forecaster_is_seeded_and_forecasts_each_window_on_its_own():
    s = np.sin(np.arange(40) / 3.0)
    Xtr, Ytr, Xte, _ = _split_windows(s, 30, 5, 2)
    pred = rc.train_forecaster(Xtr, Ytr, Xte, 0)
    assert pred.shape == (Xte.shape[1], 2)
    np.testing.assert_array_equal(pred, rc.train_forecaster(Xtr, Ytr, Xte, 0))  # the same seed, the same forecasts
    assert not np.array_equal(pred, rc.train_forecaster(Xtr, Ytr, Xte, 1))
    # nothing is fitted to X_test: forecasting fewer windows gives the same forecasts for those
    np.testing.assert_allclose(rc.train_forecaster(Xtr, Ytr, Xte[:, :2], 0), pred[:2], rtol=1e-12)


@pytest.mark.parametrize("args,message", [
    ((np.zeros((5, 4)), np.zeros((4, 2)), np.zeros((5, 3, 1)), 0),
     "train_forecaster: `X_train` must be 3-D with shape (T, N, 1), got shape (5, 4)"),
    ((np.zeros((5, 4, 1)), np.zeros((3, 2)), np.zeros((5, 3, 1)), 0),
     "train_forecaster: `X_train` must have shape (T, N, 1) and `Y_train` (N, horizon) with the same N, "
     "got (5, 4, 1) and (3, 2)"),
    ((np.zeros((5, 4, 1)), np.zeros((4, 2)), np.zeros((6, 3, 1)), 0),
     "train_forecaster: `X_test` must have shape (T, M, 1) = (5, M, 1), got (6, 3, 1)"),
    ((np.zeros((5, 4, 1)), np.zeros((4, 2)), np.zeros((5, 3, 1)), -1),
     "train_forecaster: `seed` must be an int >= 0, got -1"),
])
def test_train_forecaster_bad_input(args, message):
    with pytest.raises(ValueError) as err:
        rc.train_forecaster(*args)
    assert str(err.value) == message


# ------------------------------------------------------------------------------------------------ dates


def test_make_dates_parse_back_to_their_targets(rng):
    sources, targets = rc.make_dates(rng, 3000)
    assert len(sources) == len(targets) == 3000
    months = {m[:3]: i + 1 for i, m in enumerate(realdata.MONTHS)}
    kinds = set()
    for src, tgt in zip(sources, targets):
        d = datetime.date.fromisoformat(tgt)
        assert datetime.date(1969, 1, 1) <= d <= datetime.date(2068, 12, 31)
        if m := re.fullmatch(r"(\d{1,2}) ([A-Z][a-z]+) (\d{4})", src):
            day, month, year, kind = int(m[1]), months[m[2][:3]], int(m[3]), "long" if len(m[2]) > 3 else "short"
            assert m[2] in realdata.MONTHS or len(m[2]) == 3
        elif m := re.fullmatch(r"([A-Z][a-z]+) (\d{1,2})(st|nd|rd|th), (\d{4})", src):
            day, month, year, kind = int(m[2]), months[m[1][:3]], int(m[4]), "ordinal"
            assert m[3] == {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day, "th")
        elif m := re.fullmatch(r"([A-Z][a-z]{2}) (\d{1,2}), (\d{4})", src):
            day, month, year, kind = int(m[2]), months[m[1]], int(m[3]), "us"
        elif m := re.fullmatch(r"(\d{2})/(\d{2})/(\d{2})", src):
            day, month, yy, kind = int(m[1]), int(m[2]), int(m[3]), "slash"
            year = 1900 + yy if yy >= 69 else 2000 + yy
        elif m := re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})", src):
            day, month, year, kind = int(m[1]), int(m[2]), int(m[3]), "dots"
        else:
            raise AssertionError(f"unexpected format {src!r}")
        assert datetime.date(year, month, day) == d, (src, tgt)
        kinds.add(kind)
    assert kinds == {"long", "short", "ordinal", "us", "slash", "dots"}


def test_make_dates_golden_and_seeded():
    assert rc.make_dates(np.random.default_rng(0), 3) == (
        ["24 Jan 2054", "12 Sep 2032", "12 February 2020"], ["2054-01-24", "2032-09-12", "2020-02-12"])
    assert rc.make_dates(np.random.default_rng(9), 5) == rc.make_dates(np.random.default_rng(9), 5)


@pytest.mark.parametrize("args,message", [
    ((0, 3), "make_dates: `rng` must be a numpy.random.Generator, got int"),
    ((np.random.default_rng(0), 0), "make_dates: `n` must be an int >= 1, got 0"),
])
def test_make_dates_bad_input(args, message):
    with pytest.raises(ValueError) as err:
        rc.make_dates(*args)
    assert str(err.value) == message


def test_load_words_bad_input():
    with pytest.raises(ValueError) as err:
        rc.load_words(["en", "de"])
    assert str(err.value) == "load_words: `languages` must be distinct codes from ('en', 'es', 'nl', 'pl', 'pt'), " \
        "got ('en', 'de')"
    with pytest.raises(ValueError):
        rc.load_words(["en", "en"])
    with pytest.raises(ValueError):
        rc.load_words([])
