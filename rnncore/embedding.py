"""The embedding layer: a table lookup that turns integer tokens into vectors, with its scatter-add backward."""

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_cache, check_ndim, check_shape


class EmbeddingCache(NamedTuple):
    """Values `embedding_backward` needs: the indices and the table's shape and dtype."""

    idx: np.ndarray
    W_shape: tuple
    W_dtype: np.dtype


def embedding_forward(idx, W):
    """Look up the row of `W` for every index, as `torch.nn.Embedding` does (the same as one-hot(idx) @ W).

    Math: out[t, n] = W[idx[t, n]]   (= onehot(idx[t, n]) W, without forming the one-hot vectors)

    Parameters
    ----------
    idx : ndarray of int, shape (T, N)   token indices in [0, V) (any shape works; the output adds an axis E)
    W : ndarray, shape (V, E)            the embedding table, one row per token

    Returns
    -------
    out : ndarray, shape (T, N, E)       a copy of the looked-up rows, dtype of W
    cache : values needed by `embedding_backward`

    Book: chapter 7, section "Embeddings".
    """
    func = "embedding_forward"
    W = as_float_array("W", W, func)
    check_ndim("W", W, 2, "(V, E)", func)
    V = W.shape[0]
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{func}: `idx` must hold integer token indices, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        raise ValueError(f"{func}: `idx` must lie in [0, V) = [0, {V}), got values in [{idx.min()}, {idx.max()}]")
    out = W[idx]  # fancy indexing copies, (T, N, E)
    return out, EmbeddingCache(idx, W.shape, W.dtype)


def embedding_backward(dout, cache):
    """Backward pass of `embedding_forward`: add each upstream gradient into the row it was read from.

    Math: dW[v] = sum over every (t, n) with idx[t, n] = v of dout[t, n]   (np.add.at, so repeats accumulate)

    Parameters
    ----------
    dout : ndarray, shape (T, N, E)   upstream gradient of `out`
    cache : the cache returned by `embedding_forward`

    Returns
    -------
    dW : ndarray, shape (V, E)        zero in the rows of tokens that did not occur

    Book: chapter 7, section "Embeddings".
    """
    func = "embedding_backward"
    check_cache(cache, EmbeddingCache, func, "embedding_forward")
    idx, (V, E), dtype = cache
    dout = as_float_array("dout", dout, func)
    check_shape("dout", dout, idx.shape + (E,), func, "(T, N, E)" if idx.ndim == 2 else None)
    dW = np.zeros((V, E), dtype=np.result_type(dtype, dout))
    np.add.at(dW, idx, dout)  # unbuffered: dW[idx] += dout would keep only one of repeated indices
    return dW
