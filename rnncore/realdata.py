"""Small real data sets shipped with rnncore, and the tools chapter 7 applies to them.

The files in rnncore/data (its README.md records each file's source, licence and how it was made) are read from
the package folder: nothing is downloaded. They are the text of Hamlet for a character-level language model, words
of five languages for sequence classification, and the yearly sunspot numbers for forecasting. The date-format
language of the translation example is made in code by `make_dates`. The vocabulary, sampling and windowing
functions are the ones the chapter-7 assignment asks students to write.
"""

import datetime
import numbers
from pathlib import Path

import numpy as np

from ._checks import as_float_array, check_ndim
from .gru import gru_backward, gru_forward
from .init import init_affine, init_recurrent
from .optim import Adam

DATA = Path(__file__).resolve().parent / "data"
LANGUAGES = ("en", "es", "nl", "pl", "pt")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _read(name):
    path = DATA / name
    if not path.is_file():
        raise FileNotFoundError(f"rnncore's data file {path} is missing: reinstall rnncore (it ships rnncore/data/*)")
    return path.read_text(encoding="utf-8")


def _check_int(value, name, func, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{func}: `{name}` must be an int >= {low}, got {value!r}")
    return int(value)


def _check_rng(rng, func):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")


def load_hamlet():
    """The text of Shakespeare's Hamlet (public domain), speaker names and speeches, as one string.

    Math: text = c_0 c_1 ... c_{L-1}, L = 170,533 characters from an alphabet of V = 62

    A speech is "NAME:" on its own line, then its lines, then a blank line, as in Karpathy's "tiny Shakespeare".

    Returns
    -------
    text : str   (the file rnncore/data/hamlet.txt; stage directions and act/scene headings removed)

    Book: chapter 7, section "The text and its vocabulary".
    """
    return _read("hamlet.txt")


def load_words(languages=LANGUAGES):
    """Words of several languages from Debian's word lists, with the index of each word's language as its label.

    Math: label_n = k  when word_n comes from the list of languages[k]

    Each language has 3,000 words of 3 to 12 letters a-z, lower-case in their source list, that appear in none of
    the other four lists (so no word has two labels). Words with accents or capitals were left out.

    Parameters
    ----------
    languages : sequence of codes from ("en", "es", "nl", "pl", "pt")  (English, Spanish, Dutch, Polish, Portuguese)

    Returns
    -------
    words : list of str, length n = 3000 * len(languages), grouped by language, alphabetical within each
    labels : ndarray of int64, shape (n,), the position of the word's language in `languages`
    languages : tuple of str, the language codes, in the order the labels count them

    Book: chapter 7, section "Which language is this word?".
    """
    func = "load_words"
    if isinstance(languages, str):
        languages = (languages,)
    languages = tuple(languages)
    unknown = [code for code in languages if code not in LANGUAGES]
    if not languages or unknown or len(set(languages)) != len(languages):
        raise ValueError(f"{func}: `languages` must be distinct codes from {LANGUAGES}, got {languages!r}")
    words, labels = [], []
    for k, code in enumerate(languages):
        batch = _read(f"words_{code}.txt").split()
        words += batch
        labels += [k] * len(batch)
    return words, np.array(labels, dtype=np.int64), languages


def load_sunspots():
    """The yearly mean sunspot number from 1700 to 2008 (NOAA's record, as shipped with statsmodels).

    Math: s_t = the year's mean sunspot number (an index made from counts of spots and groups), t = 1700 .. 2008

    Returns
    -------
    years : ndarray of int64, shape (309,)
    sunspots : ndarray of float64, shape (309,)

    Book: chapter 7, section "Forecasting a noisy signal".
    """
    rows = [line.split(",") for line in _read("sunspots.csv").split()[1:]]
    years = np.array([int(y) for y, _ in rows], dtype=np.int64)
    return years, np.array([float(s) for _, s in rows], dtype=np.float64)


def build_vocab(text):
    """The vocabulary of a text: its distinct characters in sorted order, and the maps between them and 0 .. V - 1.

    Math: itos = sorted(set(text));  stoi[itos[i]] = i  for i = 0 .. V - 1

    Sorting makes the indices depend only on which characters occur, not on where: the same text always gives
    the same vocabulary (a `set` alone has no fixed order).

    Parameters
    ----------
    text : str, non-empty

    Returns
    -------
    stoi : dict, character -> index, with V entries
    itos : list of str, length V, index -> character (itos[stoi[c]] == c)

    Book: chapter 7, section "The text and its vocabulary".
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"build_vocab: `text` must be a non-empty str, got {text!r:.40}")
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    return stoi, itos


def encode(text, stoi):
    """The index of every character of a text.

    Math: ids_t = stoi[text_t]  for t = 0 .. len(text) - 1

    Parameters
    ----------
    text : str
    stoi : dict, character -> index (from `build_vocab`)

    Returns
    -------
    ids : ndarray of int64, shape (len(text),)

    Book: chapter 7, section "The text and its vocabulary".
    """
    func = "encode"
    if not isinstance(text, str):
        raise ValueError(f"{func}: `text` must be a str, got {type(text).__name__}")
    if not isinstance(stoi, dict):
        raise ValueError(f"{func}: `stoi` must be a dict of character -> index, got {type(stoi).__name__}")
    unknown = sorted(set(text) - set(stoi))
    if unknown:
        raise ValueError(f"{func}: `text` has characters that are not in `stoi`: {unknown!r}")
    return np.array([stoi[c] for c in text], dtype=np.int64)


def decode(ids, itos):
    """The text whose characters have the given indices: the inverse of `encode`.

    Math: text = itos[ids_0] itos[ids_1] ... itos[ids_{T-1}]   (concatenated, no separator)

    Parameters
    ----------
    ids : sequence or ndarray of int, shape (T,), each in [0, V)
    itos : list of str, length V, index -> character (from `build_vocab`)

    Returns
    -------
    text : str of length T

    Book: chapter 7, section "The text and its vocabulary".
    """
    func = "decode"
    if not isinstance(itos, (list, tuple)) or not all(isinstance(c, str) for c in itos):
        raise ValueError(f"{func}: `itos` must be a list of characters, got {type(itos).__name__}")
    ids = np.asarray(ids)
    check_ndim("ids", ids, 1, "(T,)", func)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{func}: `ids` must hold integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= len(itos)):
        raise ValueError(f"{func}: `ids` must lie in [0, V) = [0, {len(itos)}), got values in "
                         f"[{ids.min()}, {ids.max()}]")
    return "".join(itos[i] for i in ids)


def sample_with_temperature(logits, temperature, rng):
    """Draw one index from softmax(logits / temperature) with a single uniform number, by inverting the CDF.

    Math: p_i = exp(z_i / tau) / sum_j exp(z_j / tau);  c_i = p_0 + ... + p_i;  u = rng.random();
          sample = the smallest i with u < c_i   (= number of c_i <= u, at most V - 1)

    The draw uses exactly one `rng.random()` per row, so a seeded Generator gives the same samples every time.
    As tau -> 0 the sample becomes the argmax; as tau -> infinity, a uniform draw.

    Parameters
    ----------
    logits : ndarray, shape (V,) or (N, V)   scores z (one row per example)
    temperature : number > 0, tau
    rng : numpy.random.Generator   (u = rng.random() for shape (V,); u = rng.random(N) for shape (N, V))

    Returns
    -------
    sample : int for logits of shape (V,); ndarray of int64, shape (N,), for shape (N, V)

    Book: chapter 7, section "Sampling from the model".
    """
    func = "sample_with_temperature"
    z = as_float_array("logits", logits, func).astype(np.float64)
    if z.ndim not in (1, 2) or z.shape[-1] < 1:
        raise ValueError(f"{func}: `logits` must have shape (V,) or (N, V), got {z.shape}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"{func}: `temperature` must be a number > 0, got {temperature!r}")
    _check_rng(rng, func)
    z = z / temperature
    z = z - z.max(axis=-1, keepdims=True)  # the largest becomes 0: exp cannot overflow
    p = np.exp(z)
    c = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)  # (.., V), the CDF
    if z.ndim == 1:
        u = rng.random()
        return int(min((c <= u).sum(), z.shape[-1] - 1))
    u = rng.random(z.shape[0])
    return np.minimum((c <= u[:, None]).sum(axis=-1), z.shape[-1] - 1).astype(np.int64)


def make_windows(series, window, horizon):
    """Cut a series into (input window, next values) pairs for forecasting, inputs time-major.

    Math: X[:, n, 0] = s[n : n + window];  Y[n] = s[n + window : n + window + horizon];
          n = 0 .. N - 1 with N = L - window - horizon + 1

    The targets start right after the window: no target value is ever inside its own input window.

    Parameters
    ----------
    series : ndarray, shape (L,)   the values s_0 .. s_{L-1}, oldest first
    window : int >= 1, T, the number of past values the forecaster sees
    horizon : int >= 1, how many future values it must predict

    Returns
    -------
    X : ndarray, shape (window, N, 1)   time-major input windows (X[-1] is the last value seen)
    Y : ndarray, shape (N, horizon)     the following `horizon` values of each window

    Book: chapter 7, section "Windows, scaling and baselines".
    """
    func = "make_windows"
    s = as_float_array("series", series, func)
    check_ndim("series", s, 1, "(L,)", func)
    window = _check_int(window, "window", func, 1)
    horizon = _check_int(horizon, "horizon", func, 1)
    L = s.shape[0]
    if L < window + horizon:
        raise ValueError(f"{func}: `series` has L = {L} values, fewer than window + horizon = {window + horizon}")
    N = L - window - horizon + 1
    idx = np.arange(N)[None, :] + np.arange(window)[:, None]  # (window, N)
    X = s[idx][..., None]  # (window, N, 1)
    Y = s[np.arange(N)[:, None] + window + np.arange(horizon)[None, :]]  # (N, horizon)
    return X, Y


def train_forecaster(X_train, Y_train, X_test, seed):
    """Fit a small GRU forecaster on training windows and forecast the test windows, within a fixed budget.

    Math: x' = (x - m) / s with m, s the mean and std of X_train;  h_T = GRU(x'_1 .. x'_T);
          y_hat = (h_T W^T + b) * s + m;  minimise mean (y_hat' - y')^2 over the training windows with Adam

    Only the training windows are used to fit anything, the scaling included. rnncore's reference trains a numpy
    GRU with H = 16 for 200 full-batch Adam steps (lr 0.02); any forecaster that honours the shapes and the seed
    will do, and the graded notebook asks for one in torch.

    Parameters
    ----------
    X_train : ndarray, shape (T, N, 1)     training input windows (from `make_windows`)
    Y_train : ndarray, shape (N, horizon)  their targets
    X_test : ndarray, shape (T, M, 1)      the windows to forecast
    seed : int, fixes the initialisation (the only randomness), so the same inputs give the same forecasts

    Returns
    -------
    Y_pred : ndarray of float64, shape (M, horizon)

    Book: chapter 7, section "A GRU forecaster".
    """
    func = "train_forecaster"
    X_train = as_float_array("X_train", X_train, func).astype(np.float64)
    Y_train = as_float_array("Y_train", Y_train, func).astype(np.float64)
    X_test = as_float_array("X_test", X_test, func).astype(np.float64)
    check_ndim("X_train", X_train, 3, "(T, N, 1)", func)
    check_ndim("Y_train", Y_train, 2, "(N, horizon)", func)
    check_ndim("X_test", X_test, 3, "(T, M, 1)", func)
    T, N, D = X_train.shape
    if D != 1 or Y_train.shape[0] != N:
        raise ValueError(f"{func}: `X_train` must have shape (T, N, 1) and `Y_train` (N, horizon) with the same N, "
                         f"got {X_train.shape} and {Y_train.shape}")
    if X_test.shape[0] != T or X_test.shape[2] != 1:
        raise ValueError(f"{func}: `X_test` must have shape (T, M, 1) = ({T}, M, 1), got {X_test.shape}")
    seed = _check_int(seed, "seed", func, 0)

    m, s = X_train.mean(), X_train.std() + 1e-12  # fitted on the training inputs only
    x, y = (X_train - m) / s, (Y_train - m) / s
    rng = np.random.default_rng(seed)
    H, horizon = 16, Y_train.shape[1]
    p = init_recurrent(rng, 1, H, cell="gru")
    out = init_affine(rng, H, horizon)
    p.update(W=out["W"], b=out["b"])
    opt = Adam(0.02)
    h0 = np.zeros((N, H))
    for _ in range(200):
        hs, cache = gru_forward(x, h0, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])
        err = hs[-1] @ p["W"].T + p["b"] - y  # (N, horizon)
        dy = 2 * err / err.size  # gradient of the mean squared error
        dhs = np.zeros_like(hs)
        dhs[-1] = dy @ p["W"]
        _, _, dW_ih, dW_hh, db_ih, db_hh = gru_backward(dhs, cache)
        grads = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "W": dy.T @ hs[-1], "b": dy.sum(0)}
        opt.step(p, grads)
    hs, _ = gru_forward((X_test - m) / s, np.zeros((X_test.shape[1], H)), p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])
    return (hs[-1] @ p["W"].T + p["b"]) * s + m


def _ordinal(day):
    return f"{day}{'th' if 11 <= day <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


DATE_FORMATS = (
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",  # 3 March 2021
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # 3 Mar 2021
    lambda d: f"{MONTHS[d.month - 1]} {_ordinal(d.day)}, {d.year}",  # March 3rd, 2021
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}",  # Mar 3, 2021
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",  # 03/03/21 (day first; 69-99 -> 19xx)
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",  # 03.03.2021
)


def make_dates(rng, n):
    """Random dates written in six human formats, each paired with its ISO 8601 form: a toy translation task.

    Math: d ~ uniform over the days 1969-01-01 .. 2068-12-31;  f ~ uniform over the 6 formats;
          source = f(d) (e.g. "3 March 2021", "3 Mar 2021", "March 3rd, 2021", "Mar 3, 2021", "03/03/21",
          "03.03.2021");  target = "YYYY-MM-DD"

    Two-digit years follow the POSIX rule (69-99 -> 19xx, 00-68 -> 20xx), so every source has one answer.
    The draws happen in the order: all n days, then all n formats.

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness
    n : int >= 1, the number of pairs

    Returns
    -------
    sources : list of n str   the dates as people write them
    targets : list of n str   the same dates as YYYY-MM-DD

    Book: chapter 7, section "Translating dates".
    """
    func = "make_dates"
    _check_rng(rng, func)
    n = _check_int(n, "n", func, 1)
    first, last = datetime.date(1969, 1, 1).toordinal(), datetime.date(2068, 12, 31).toordinal()
    days = rng.integers(first, last + 1, size=n)
    formats = rng.integers(0, len(DATE_FORMATS), size=n)
    dates = [datetime.date.fromordinal(int(o)) for o in days]
    return [DATE_FORMATS[f](d) for f, d in zip(formats, dates)], [d.isoformat() for d in dates]

