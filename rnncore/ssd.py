"""Mamba-2's state-space duality (Dao & Gu 2024): one scalar-decay SSM as a scan, as masked attention, and in chunks.

The SSM h_t = a_t h_{t-1} + B_t^T x_t (state (K, P)), y_t = C_t h_t, with a scalar a_t per step and head, is a
linear recurrence (a scan), and unrolled it is y = (L o C B^T) x with the 1-semiseparable mask
L_ts = a_{s+1} ... a_t: the attention-like "dual" form. Mamba-2 computes it in chunks, quadratic inside, scan across.
"""

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape
from .scan import linear_recurrence, parallel_scan


def segsum(log_a):
    """The log of the 1-semiseparable mask: sums of log a over (s, t], -inf above the diagonal.

    Math: segsum(log a)_ts = sum_{r=s+1}^{t} log a_r  for s <= t  (0 on the diagonal),  -inf for s > t;
          L = exp(segsum(log a)), so L_ts = a_{s+1} a_{s+2} ... a_t

    Parameters
    ----------
    log_a : ndarray, shape (T, ...)   log of the decays, time first (any batch dims after)

    Returns
    -------
    S : ndarray, shape (..., T, T)    S[..., t, s]

    Book: chapter 8, section "Mamba-2: the same model as a scan and as attention", the decay mask L.
    """
    log_a = as_float_array("log_a", log_a, "segsum")
    if log_a.ndim < 1 or log_a.shape[0] == 0:
        raise ValueError(f"segsum: `log_a` must have shape (T, ...) with T >= 1, got {log_a.shape}")
    T = log_a.shape[0]
    x = np.moveaxis(log_a, 0, -1)  # (..., T)
    # sum over r in (s, t] as a masked cumulative sum down each column: no difference of large cumsums
    pieces = np.broadcast_to(x[..., :, None], x.shape + (T,))  # pieces[..., r, s] = log a_r
    pieces = np.where(np.tril(np.ones((T, T), dtype=bool), -1), pieces, 0.0)  # keep r > s
    S = np.cumsum(pieces, axis=-2)  # S[..., t, s] = sum_{s < r <= t} log a_r
    return np.where(np.tril(np.ones((T, T), dtype=bool)), S, -np.inf)


def _check_ssd(func, x, log_a, B, C):
    """x (T, N, P), log_a (T, N), B and C (T, N, K); return them as arrays."""
    x, log_a = as_float_array("x", x, func), as_float_array("log_a", log_a, func)
    B, C = as_float_array("B", B, func), as_float_array("C", C, func)
    check_ndim("x", x, 3, "(T, N, P)", func)
    T, N, _ = x.shape
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    check_shape("log_a", log_a, (T, N), func, "(T, N)")
    check_ndim("B", B, 3, "(T, N, K)", func)
    check_shape("B", B, (T, N, None), func, "(T, N, K)")
    check_shape("C", C, B.shape, func, "(T, N, K) like `B`")
    if np.any(log_a > 0):
        raise ValueError(f"{func}: `log_a` must be <= 0 (decays a_t in (0, 1]), got max {log_a.max()}")
    return x, log_a, B, C


def ssd_scan(x, log_a, B, C, parallel=True):
    """The scalar-decay SSM as a recurrence over a (K, P) state: the scan form.

    Math: h_t = a_t h_{t-1} + B_t^T x_t  (outer product, h_0 = 0);  y_t = C_t h_t

    Parameters
    ----------
    x : ndarray, shape (T, N, P)      the inputs (N folds batch and heads together; P is the head width)
    log_a : ndarray, shape (T, N)     log of the scalar decay a_t of each step and head, <= 0
    B : ndarray, shape (T, N, K)      input maps (the "keys")
    C : ndarray, shape (T, N, K)      output maps (the "queries")
    parallel : bool                   parallel scan (True) or loop (False)

    Returns
    -------
    y : ndarray, shape (T, N, P)

    Book: chapter 8, section "Mamba-2: the same model as a scan and as attention", the Mamba-2 recurrence.
    """
    x, log_a, B, C = _check_ssd("ssd_scan", x, log_a, B, C)
    b = B[:, :, :, None] * x[:, :, None, :]  # B_t^T x_t, (T, N, K, P)
    a = np.broadcast_to(np.exp(log_a)[:, :, None, None], b.shape)
    hs = parallel_scan(a, b) if parallel else linear_recurrence(a, b)
    return np.einsum("tnk,tnkp->tnp", C, hs)


def ssd_quadratic(x, log_a, B, C):
    """The same outputs as `ssd_scan`, as one masked matrix product: y = (L o C B^T) x, the dual (attention) form.

    Math: M_ts = L_ts (C_t . B_s),  L = exp(segsum(log a));  y_t = sum_s M_ts x_s

    Parameters
    ----------
    x : ndarray, shape (T, N, P);  log_a : ndarray, shape (T, N);  B, C : ndarray, shape (T, N, K)

    Returns
    -------
    y : ndarray, shape (T, N, P)

    Book: chapter 8, section "Mamba-2: the same model as a scan and as attention", the dual (attention) form.
    """
    x, log_a, B, C = _check_ssd("ssd_quadratic", x, log_a, B, C)
    L = np.exp(segsum(log_a))  # (N, T, T), zero above the diagonal
    M = L * np.einsum("tnk,snk->nts", C, B)
    return np.einsum("nts,snp->tnp", M, x)


def ssd_chunked(x, log_a, B, C, chunk=16):
    """The same outputs again, as Mamba-2 computes them: the dual form inside chunks, a short recurrence across.

    Math: within chunk c: y_intra = (L o C B^T) x restricted to the chunk;
          chunk state H_c = sum_{s in c} (a_{s+1} ... a_end) B_s^T x_s;
          carried state G_c = (product of chunk c-1's a) G_{c-1} + H_{c-1}  (G_1 = 0);
          y_t = y_intra_t + (a_start ... a_t) C_t G_c   (a_start: the chunk's first step)

    Parameters
    ----------
    x : ndarray, shape (T, N, P);  log_a : ndarray, shape (T, N);  B, C : ndarray, shape (T, N, K)
    chunk : int                       chunk length (T need not be a multiple)

    Returns
    -------
    y : ndarray, shape (T, N, P)

    Book: chapter 8, section "Mamba-2: the same model as a scan and as attention", the chunked form.
    """
    x, log_a, B, C = _check_ssd("ssd_chunked", x, log_a, B, C)
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"ssd_chunked: `chunk` must be a positive integer, got {chunk!r}")
    T, N, P = x.shape
    K = B.shape[2]
    G = np.zeros((N, K, P), dtype=np.result_type(x, B, C, log_a))  # the state entering the chunk
    y = np.empty((T, N, P), dtype=G.dtype)
    for start in range(0, T, chunk):
        sl = slice(start, min(start + chunk, T))
        xc, la, Bc, Cc = x[sl], log_a[sl], B[sl], C[sl]
        y_intra = ssd_quadratic(xc, la, Bc, Cc)
        cum = np.cumsum(la, axis=0)  # log(a_start ... a_t), (L, N)
        y_inter = np.exp(cum)[:, :, None] * np.einsum("tnk,nkp->tnp", Cc, G)
        y[sl] = y_intra + y_inter
        to_end = np.exp(cum[-1] - cum)  # a_{s+1} ... a_end, (L, N)
        G = np.exp(cum[-1])[:, None, None] * G + np.einsum("sn,snk,snp->nkp", to_end, Bc, xc)
    return y
