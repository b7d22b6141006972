"""The synthetic tasks: exact layouts, the baselines they document, seeds, and bad input."""

import numpy as np
import pytest

import rnncore as rc


def test_adding_problem_layout(rng):
    n, T = 500, 9
    x, y = rc.adding_problem(rng, n, T)
    assert x.shape == (T, n, 2) and y.shape == (n,) and x.dtype == y.dtype == np.float64
    u, m = x[..., 0], x[..., 1]
    assert np.all((u >= 0) & (u < 1))
    assert np.all(m.sum(axis=0) == 2) and set(np.unique(m)) == {0.0, 1.0}
    assert np.all(m[: T // 2].sum(axis=0) == 1) and np.all(m[T // 2 :].sum(axis=0) == 1)  # one in each half
    np.testing.assert_allclose(y, (u * m).sum(axis=0), rtol=1e-15)
    # every position of each half is used (uniform markers), and nothing outside them
    first, second = m[: T // 2].argmax(axis=0), T // 2 + m[T // 2 :].argmax(axis=0)
    assert set(first) == set(range(T // 2)) and set(second) == set(range(T // 2, T))


def test_adding_problem_constant_one_baseline_has_mse_one_sixth(rng):
    _, y = rc.adding_problem(rng, 200_000, 4)
    mse = np.mean((y - 1.0) ** 2)
    assert abs(mse - 1 / 6) < 0.003  # the standard error of this mean is sqrt(7/180 / 200000) = 0.00044
    assert abs(np.mean(y) - 1.0) < 0.005


def test_adding_problem_is_seeded_and_keeps_dtype():
    a = rc.adding_problem(np.random.default_rng(3), 4, 6, dtype=np.float32)
    b = rc.adding_problem(np.random.default_rng(3), 4, 6, dtype=np.float32)
    c = rc.adding_problem(np.random.default_rng(4), 4, 6, dtype=np.float32)
    assert a[0].dtype == a[1].dtype == np.float32
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and not np.array_equal(a[0], c[0])


def test_copy_memory_layout(rng):
    n, T, K, length = 50, 7, 5, 3
    x, y = rc.copy_memory(rng, n, T, n_symbols=K, length=length)
    blank, delimiter = K, K + 1
    assert x.shape == y.shape == (T + 2 * length, n) and x.dtype == y.dtype == np.int64
    s = x[:length]
    assert s.min() >= 0 and s.max() < K and set(np.unique(s)) == set(range(K))
    assert np.all(x[length : length + T - 1] == blank)
    assert np.all(x[length + T - 1] == delimiter)
    assert np.all(x[length + T :] == blank)
    assert np.all(y[: T + length] == blank)
    np.testing.assert_array_equal(y[T + length :], s)
    # the smallest delay: the delimiter right after the symbols
    x1, y1 = rc.copy_memory(np.random.default_rng(0), 1, 1, n_symbols=8, length=2)
    assert x1[2, 0] == 9 and list(y1[:, 0]) == [8, 8, 8, x1[0, 0], x1[1, 0]]


@pytest.mark.parametrize("T,K,length", [(100, 8, 10), (5, 8, 10), (20, 3, 4)])
def test_copy_memory_memoryless_baseline_cross_entropy(rng, T, K, length):
    x, y = rc.copy_memory(rng, 64, T, n_symbols=K, length=length)
    V = K + 2
    # the baseline: certain of blank until the symbols are due, then uniform over the K symbols
    logits = np.full((T + 2 * length, 64, V), -1e30)
    logits[: T + length, :, K] = 0.0
    logits[T + length :, :, :K] = 0.0
    loss, _ = rc.softmax_cross_entropy(logits, y)
    expected = rc.copy_memory_baseline(T, K, length)
    assert abs(loss - expected) < 1e-12
    assert abs(expected - length * np.log(K) / (T + 2 * length)) < 1e-15
    if (K, length) == (8, 10):
        assert abs(expected - 10 * np.log(8) / (T + 20)) < 1e-15


def test_noisy_sine_layout_shift_and_noise(rng):
    n, T, horizon, sigma = 300, 50, 3, 0.2
    x, y = rc.noisy_sine(np.random.default_rng(11), n, T, horizon=horizon, noise=sigma)
    assert x.shape == y.shape == (T, n, 1) and x.dtype == np.float64
    np.testing.assert_array_equal(y[: T - horizon], x[horizon:])  # y[t] = x[t + horizon]
    clean, clean_y = rc.noisy_sine(np.random.default_rng(11), n, T, horizon=horizon, noise=0.0)
    assert np.all(np.abs(clean) <= 1)
    assert abs(np.std(x - clean) - sigma) < 0.005  # the same draws with noise 0: the difference is the noise
    assert abs(np.mean((y - clean_y) ** 2) - sigma**2) < 0.002  # the irreducible MSE of any forecaster
    # clean waves are sinusoids, z_{t+1} + z_{t-1} = 2 cos(w) z_t, with period 2 pi / w in the default [10, 40]
    z = clean[:, :, 0]
    cos_w = np.sum((z[2:] + z[:-2]) * z[1:-1], axis=0) / np.sum(2 * z[1:-1] ** 2, axis=0)  # least squares, (n,)
    np.testing.assert_allclose(z[2:] + z[:-2], 2 * cos_w * z[1:-1], atol=1e-12)
    period = 2 * np.pi / np.arccos(cos_w)
    assert period.min() >= 10 and period.max() <= 40 and period.max() - period.min() > 20


def test_noisy_sine_is_seeded_and_keeps_dtype():
    a = rc.noisy_sine(np.random.default_rng(1), 3, 8, dtype=np.float32)
    b = rc.noisy_sine(np.random.default_rng(1), 3, 8, dtype=np.float32)
    assert a[0].dtype == np.float32 and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    x, _ = rc.noisy_sine(np.random.default_rng(1), 2, 20, noise=0.0, periods=(10.0, 10.0))
    np.testing.assert_allclose(x[10:], x[:10], atol=1e-12)  # period exactly 10


BAD = [
    (lambda rng: rc.adding_problem(None, 3, 4), "adding_problem: `rng` must be a numpy.random.Generator, got NoneType"),
    (lambda rng: rc.adding_problem(rng, 0, 4), "adding_problem: `n` must be an int >= 1, got 0"),
    (lambda rng: rc.adding_problem(rng, 3, 1), "adding_problem: `T` must be an int >= 2, got 1"),
    (lambda rng: rc.adding_problem(rng, 3, 4.0), "adding_problem: `T` must be an int >= 2, got 4.0"),
    (lambda rng: rc.copy_memory(rng, 3, 0), "copy_memory: `T` must be an int >= 1, got 0"),
    (lambda rng: rc.copy_memory(rng, 3, 5, n_symbols=0), "copy_memory: `n_symbols` must be an int >= 1, got 0"),
    (lambda rng: rc.copy_memory(rng, 3, 5, length=True), "copy_memory: `length` must be an int >= 1, got True"),
    (lambda rng: rc.copy_memory_baseline(0), "copy_memory_baseline: `T` must be an int >= 1, got 0"),
    (lambda rng: rc.noisy_sine(rng, 3, 5, horizon=0), "noisy_sine: `horizon` must be an int >= 1, got 0"),
    (lambda rng: rc.noisy_sine(rng, 3, 5, noise=-1), "noisy_sine: `noise` must be a number >= 0, got -1"),
    (lambda rng: rc.noisy_sine(rng, 3, 5, periods=(5, 2)),
     "noisy_sine: `periods` must be a pair (low, high) with 0 < low <= high, got (5, 2)"),
    (lambda rng: rc.noisy_sine(rng, 3, 5, periods=10), "noisy_sine: `periods` must be a pair (low, high)"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_datasets_bad_input(rng, call, message):
    with pytest.raises(ValueError) as err:
        call(rng)
    assert message in str(err.value)
