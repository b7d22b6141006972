"""The embedding lookup against torch.nn.Embedding (float64), numerical gradients, repeated indices, bad input."""

import numpy as np
import pytest
import torch

import rnncore as rc


def test_embedding_forward_backward_match_torch(rng):
    V, E, T, N = 7, 4, 6, 3
    W = rng.standard_normal((V, E))
    idx = rng.integers(0, V, size=(T, N))
    idx[0, 0] = idx[1, 2] = idx[5, 1] = 3  # repeated indices must accumulate
    dout = rng.standard_normal((T, N, E))
    out, cache = rc.embedding_forward(idx, W)
    dW = rc.embedding_backward(dout, cache)

    emb = torch.nn.Embedding(V, E).double()
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(W))
    out_t = emb(torch.from_numpy(idx))
    out_t.backward(torch.from_numpy(dout))
    assert np.max(np.abs(out - out_t.detach().numpy())) <= 1e-12
    assert np.max(np.abs(dW - emb.weight.grad.numpy())) <= 1e-10
    np.testing.assert_allclose(dW[3], dout[idx == 3].sum(axis=0), atol=1e-12)  # every occurrence, not the last
    unused = np.setdiff1d(np.arange(V), idx)
    assert np.all(dW[unused] == 0)


def test_embedding_is_one_hot_times_the_table(rng):
    V, E = 5, 3
    W = rng.standard_normal((V, E))
    idx = np.array([[0, 4], [2, 2], [1, 3]])
    out, _ = rc.embedding_forward(idx, W)
    np.testing.assert_array_equal(out, np.eye(V)[idx] @ W)
    out[0, 0] = 99.0  # a copy: the table is untouched
    assert W[0, 0] != 99.0


def test_embedding_backward_gradcheck(rng):
    V, E = 4, 3
    W = rng.standard_normal((V, E))
    idx = np.array([[0, 1], [1, 1], [3, 0]])
    dout = rng.standard_normal((3, 2, E))
    _, cache = rc.embedding_forward(idx, W)
    dW = rc.embedding_backward(dout, cache)
    num = rc.eval_numerical_gradient_array(lambda w: rc.embedding_forward(idx, w)[0], W, dout)
    assert rc.rel_error(num, dW) < 1e-9
    assert np.all(dW[2] == 0)


def test_embedding_golden_values_and_dtype():
    W = np.arange(6, dtype=np.float32).reshape(3, 2)
    out, cache = rc.embedding_forward(np.array([[2], [0], [2]]), W)
    np.testing.assert_array_equal(out[:, 0], [[4, 5], [0, 1], [4, 5]])
    assert out.dtype == np.float32
    dW = rc.embedding_backward(np.ones((3, 1, 2), np.float32), cache)
    np.testing.assert_array_equal(dW, [[1, 1], [0, 0], [2, 2]])
    assert dW.dtype == np.float32
    out1, _ = rc.embedding_forward(np.array([1, 2]), W)  # any index shape works
    assert out1.shape == (2, 2)


def test_embedding_bad_input():
    W = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"embedding_forward: `W` must be 2-D with shape \(V, E\), got shape \(5,\)"):
        rc.embedding_forward(np.zeros((2, 2), int), np.zeros(5))
    with pytest.raises(ValueError, match="embedding_forward: `idx` must hold integer token indices, got dtype float64"):
        rc.embedding_forward(np.zeros((2, 2)), W)
    with pytest.raises(ValueError, match=r"embedding_forward: `idx` must lie in \[0, V\) = \[0, 5\), "
                                         r"got values in \[-1, 5\]"):
        rc.embedding_forward(np.array([[-1, 5]]), W)
    _, cache = rc.embedding_forward(np.zeros((2, 4), int), W)
    with pytest.raises(ValueError, match=r"embedding_backward: `dout` must have shape \(T, N, E\) = \(2, 4, 3\), "
                                         r"got \(2, 4\)"):
        rc.embedding_backward(np.zeros((2, 4)), cache)
    _, affine_cache = rc.affine_forward(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="embedding_backward: `cache` must be the cache returned by "
                                         "embedding_forward, got AffineCache"):
        rc.embedding_backward(np.zeros((2, 4, 3)), affine_cache)
