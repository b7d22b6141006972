"""Synthetic sequence tasks made in code from a numpy Generator: the adding problem, copy memory and a noisy sine.

Every array is time-major (time on axis 0, the n examples on axis 1). Nothing is downloaded.
"""

import numbers

import numpy as np


def _check_rng(rng, func):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")


def _check_int(value, name, func, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{func}: `{name}` must be an int >= {low}, got {value!r}")
    return int(value)


def adding_problem(rng, n, T, dtype=np.float64):
    """The adding problem in the form of Le et al. (2015): add the two values marked in a long sequence.

    Math: x[t, k] = (u_t, m_t) with u_t ~ U[0, 1] and m_t = 1 at exactly two steps a < T // 2 <= b (each uniform
          in its half), 0 elsewhere;  y[k] = u_a + u_b

    The target has mean 1 and variance 2/12 = 1/6 (a sum of two independent U[0, 1]), so always predicting 1 gives
    mean squared error 1/6 ~ 0.167: a model has learned something only when its MSE is well below that.
    For odd T the first half is steps [0, T // 2) and the second [T // 2, T).

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness
    n : int >= 1, the number of sequences
    T : int >= 2, the sequence length
    dtype : float dtype of the arrays

    Returns
    -------
    x : ndarray, shape (T, n, 2)   channel 0: the values u_t; channel 1: the two markers
    y : ndarray, shape (n,)        the sum of the two marked values

    Book: chapter 4, section "Tasks that need a long memory".
    """
    func = "adding_problem"
    _check_rng(rng, func)
    n = _check_int(n, "n", func, 1)
    T = _check_int(T, "T", func, 2)
    u = rng.uniform(0.0, 1.0, size=(T, n))
    a = rng.integers(0, T // 2, size=n)  # first marker, in the first half
    b = rng.integers(T // 2, T, size=n)  # second marker, in the second half
    k = np.arange(n)
    m = np.zeros((T, n))
    m[a, k] = m[b, k] = 1.0
    x = np.stack([u, m], axis=-1).astype(dtype)  # (T, n, 2)
    y = (u[a, k] + u[b, k]).astype(dtype)  # (n,)
    return x, y


def copy_memory(rng, n, T, n_symbols=8, length=10):
    """The copy-memory task (Hochreiter & Schmidhuber, 1997; Arjovsky et al., 2016): recall symbols after a delay.

    Math: with K = n_symbols, blank = K, delimiter = K + 1 (V = K + 2 classes) and total length T + 2 * length:
          x = [s_1 .. s_length, blank x (T - 1), delimiter, blank x length],  s_i ~ U{0, .., K - 1};
          y = [blank x (T + length), s_1 .. s_length]

    The inputs and targets are class indices at every step, ready for one-hot or `embedding_forward` and for
    `softmax_cross_entropy` (mean over all T + 2 * length steps). A memoryless baseline that outputs blank for the
    first T + length steps and the uniform distribution over the K symbols for the last `length` steps has
    cross-entropy `copy_memory_baseline(T, K, length)` = length * ln(K) / (T + 2 * length), which is
    10 ln 8 / (T + 20) for the defaults: a model beats it only by remembering the symbols.

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness
    n : int >= 1, the number of sequences
    T : int >= 1, the delay: the delimiter comes T steps after the last symbol
    n_symbols : int >= 1, K, the number of distinct symbols to remember
    length : int >= 1, how many symbols to remember

    Returns
    -------
    x : ndarray of int64, shape (T + 2 * length, n)   input classes in [0, K + 2)
    y : ndarray of int64, shape (T + 2 * length, n)   target classes in [0, K + 1)

    Book: chapter 4, section "Tasks that need a long memory".
    """
    func = "copy_memory"
    _check_rng(rng, func)
    n = _check_int(n, "n", func, 1)
    T = _check_int(T, "T", func, 1)
    K = _check_int(n_symbols, "n_symbols", func, 1)
    length = _check_int(length, "length", func, 1)
    blank, delimiter = K, K + 1
    s = rng.integers(0, K, size=(length, n))  # the symbols to remember
    x = np.full((T + 2 * length, n), blank, dtype=np.int64)
    x[:length] = s
    x[length + T - 1] = delimiter  # the cue to start copying
    y = np.full((T + 2 * length, n), blank, dtype=np.int64)
    y[T + length :] = s
    return x, y


def copy_memory_baseline(T, n_symbols=8, length=10):
    """Cross-entropy of the memoryless baseline on `copy_memory`: blank, then uniform guesses over the symbols.

    Math: CE = length * ln(n_symbols) / (T + 2 * length)

    Book: chapter 4, section "Tasks that need a long memory".
    """
    func = "copy_memory_baseline"
    T = _check_int(T, "T", func, 1)
    K = _check_int(n_symbols, "n_symbols", func, 1)
    length = _check_int(length, "length", func, 1)
    return float(length * np.log(K) / (T + 2 * length))


def noisy_sine(rng, n, T, horizon=1, noise=0.1, periods=(10.0, 40.0), dtype=np.float64):
    """Sine waves with random periods and phases plus Gaussian noise, for forecasting `horizon` steps ahead.

    Math: z_t = sin(2 pi t / P + phi) + noise * e_t,  P ~ U[periods],  phi ~ U[0, 2 pi),  e_t ~ N(0, 1);
          x_t = z_t,  y_t = z_{t + horizon}   for t = 0 .. T - 1

    The noise in y_t is independent of everything up to step t, so no forecaster can reach a mean squared error
    below noise^2. The draws happen in the order P, phi, e: with the same seed and noise=0 you get the clean waves.

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness
    n : int >= 1, the number of series
    T : int >= 1, the number of input steps
    horizon : int >= 1, how far ahead the target is
    noise : number >= 0, the standard deviation of the noise
    periods : (low, high) with 0 < low <= high, the range of the periods in steps
    dtype : float dtype of the arrays

    Returns
    -------
    x : ndarray, shape (T, n, 1)   the observed series
    y : ndarray, shape (T, n, 1)   the same series `horizon` steps later: y[t] = x[t + horizon] where both exist

    Book: chapter 7, section "Forecasting a noisy signal".
    """
    func = "noisy_sine"
    _check_rng(rng, func)
    n = _check_int(n, "n", func, 1)
    T = _check_int(T, "T", func, 1)
    horizon = _check_int(horizon, "horizon", func, 1)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"{func}: `noise` must be a number >= 0, got {noise!r}")
    ok = isinstance(periods, (tuple, list)) and len(periods) == 2 and all(
        isinstance(p, numbers.Real) and not isinstance(p, bool) for p in periods)
    if not ok or not 0 < periods[0] <= periods[1]:
        raise ValueError(f"{func}: `periods` must be a pair (low, high) with 0 < low <= high, got {periods!r}")
    P = rng.uniform(periods[0], periods[1], size=n)
    phi = rng.uniform(0.0, 2 * np.pi, size=n)
    t = np.arange(T + horizon)[:, None]  # (T + horizon, 1)
    z = np.sin(2 * np.pi * t / P + phi) + noise * rng.standard_normal((T + horizon, n))  # (T + horizon, n)
    return z[:T, :, None].astype(dtype), z[horizon:, :, None].astype(dtype)
