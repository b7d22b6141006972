"""Reading and writing sequences with recurrent layers: bidirectional layers, many-to-one readouts, decoding.

The readouts take the hidden states of a padded, time-major batch and the true lengths (or the mask) of its
sequences. The decoders take a `step_fn(token, h) -> (log_probs, h_next)` that runs one step of any decoder,
so they work with a numpy model, a torch model or a hand-written table alike.
"""

import numbers

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape
from .rnn import _check_nonlinearity, rnn_forward

_PARAM_KEYS = ("W_ih", "W_hh", "b_ih", "b_hh")


def _check_lengths(lengths, T, N, func):
    """Return `lengths` as an int array of shape (N,) with values in [1, T], or raise a ValueError."""
    arr = np.asarray(lengths)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{func}: `lengths` must hold integers, got dtype {arr.dtype}")
    check_shape("lengths", arr, (N,), func, "(N,)")
    if arr.size and (arr.min() < 1 or arr.max() > T):
        raise ValueError(f"{func}: `lengths` must lie in [1, T] = [1, {T}], got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.intp)


def _check_direction(params, name, D, func):
    """Check one direction's parameter dict (W_ih (H, D), W_hh (H, H), b_ih, b_hh (H,)); return it as arrays."""
    if not isinstance(params, dict) or sorted(params) != sorted(_PARAM_KEYS):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"{func}: `{name}` must be a dict with keys {list(_PARAM_KEYS)} "
                         f"(as `init_recurrent` returns), got {got}")
    p = {k: as_float_array(f"{name}['{k}']", params[k], func) for k in _PARAM_KEYS}
    check_ndim(f"{name}['W_hh']", p["W_hh"], 2, "(H, H)", func)
    H = p["W_hh"].shape[1]
    check_shape(f"{name}['W_hh']", p["W_hh"], (H, H), func, "(H, H)")
    check_shape(f"{name}['W_ih']", p["W_ih"], (H, D), func, "(H, D)")
    check_shape(f"{name}['b_ih']", p["b_ih"], (H,), func, "(H,)")
    check_shape(f"{name}['b_hh']", p["b_hh"], (H,), func, "(H,)")
    return p


def bidirectional_rnn_forward(x, h0_fwd, h0_bwd, params_fwd, params_bwd, lengths=None, nonlinearity="tanh"):
    """Run one Elman RNN forward and another backward in time over a padded batch; concatenate their states.

    Math: f_t = phi(x_t Wf_ih^T + bf_ih + f_{t-1} Wf_hh^T + bf_hh), t = 1..L, from f_0 = h0_fwd;
          b_t = phi(x_t Wb_ih^T + bb_ih + b_{t+1} Wb_hh^T + bb_hh), t = L..1, from b_{L+1} = h0_bwd;
          out_t = [f_t, b_t] for t <= L (zeros on padding);  h_n = [f_L, b_1]   (L = lengths[n] for sequence n)

    The backward direction of sequence n starts at its own last step, L, not at the padded end T: the result is
    what torch.nn.RNN(bidirectional=True) returns for a packed batch (pack_padded_sequence, then
    pad_packed_sequence with total_length=T).

    Parameters
    ----------
    x : ndarray, shape (T, N, D)             padded batch, time first; sequence n is x[:lengths[n], n]
    h0_fwd, h0_bwd : ndarray, shape (N, H)   initial states of the forward and the backward direction
    params_fwd, params_bwd : dict            each with W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,)
    lengths : ndarray of int, shape (N,), optional   true lengths, in [1, T]; every sequence has length T if None
    nonlinearity : "tanh" or "relu"

    Returns
    -------
    out : ndarray, shape (T, N, 2H)   forward states in out[..., :H], backward states in out[..., H:], both in time
                                      order; zero at padded steps
    h_n : ndarray, shape (2, N, H)    final states as torch orders them: h_n[0] = f_L (forward, at the last valid
                                      step), h_n[1] = b_1 (backward, which ends at the first step)

    Book: chapter 6, section "Bidirectional RNNs".
    """
    func = "bidirectional_rnn_forward"
    _check_nonlinearity(nonlinearity, func)
    x = as_float_array("x", x, func)
    check_ndim("x", x, 3, "(T, N, D)", func)
    T, N, D = x.shape
    if T == 0:
        raise ValueError(f"{func}: `x` must have at least one time step, got shape {x.shape}")
    pf = _check_direction(params_fwd, "params_fwd", D, func)
    pb = _check_direction(params_bwd, "params_bwd", D, func)
    H = pf["W_hh"].shape[1]
    check_shape("params_bwd['W_hh']", pb["W_hh"], (H, H), func, "(H, H), the same H in both directions")
    h0_fwd = as_float_array("h0_fwd", h0_fwd, func)
    h0_bwd = as_float_array("h0_bwd", h0_bwd, func)
    check_shape("h0_fwd", h0_fwd, (N, H), func, "(N, H)")
    check_shape("h0_bwd", h0_bwd, (N, H), func, "(N, H)")
    lengths = np.full(N, T, dtype=np.intp) if lengths is None else _check_lengths(lengths, T, N, func)

    t = np.arange(T)[:, None]  # (T, 1)
    valid = t < lengths  # (T, N): True on real steps
    rev = np.where(valid, lengths - 1 - t, t)  # (T, N): reverses each sequence within its own length
    n = np.arange(N)  # (N,)
    f, _ = rnn_forward(x, h0_fwd, **pf, nonlinearity=nonlinearity)  # (T, N, H)
    b_rev, _ = rnn_forward(x[rev, n], h0_bwd, **pb, nonlinearity=nonlinearity)  # reads x_L, ..., x_1, then padding
    b = b_rev[rev, n]  # back into time order: `rev` is its own inverse
    out = np.concatenate([f, b], axis=-1) * valid[..., None]  # padded steps are zero, as torch's
    h_n = np.stack([f[lengths - 1, n], b[0]])  # the backward direction ends at t = 1
    return out, h_n


def last_valid_state(hs, lengths):
    """The hidden state of each sequence of a padded batch at its own last step (not at the padded end T).

    Math: h_last[n] = hs[L_n - 1, n]   (L_n = lengths[n]; hs[-1] is right only for sequences of length T)

    Parameters
    ----------
    hs : ndarray, shape (T, N, H)            hidden states of a padded batch, time first
    lengths : ndarray of int, shape (N,)     true lengths, in [1, T]

    Returns
    -------
    h_last : ndarray, shape (N, H)

    Book: chapter 6, section "Many-to-one: one output for a whole sequence".
    """
    func = "last_valid_state"
    hs = as_float_array("hs", hs, func)
    check_ndim("hs", hs, 3, "(T, N, H)", func)
    T, N, _ = hs.shape
    lengths = _check_lengths(lengths, T, N, func)
    return hs[lengths - 1, np.arange(N)]  # one gather: row lengths[n] - 1 of column n


def masked_mean_pool(hs, mask):
    """The mean of each sequence's hidden states over its real steps only, ignoring padding.

    Math: pooled[n] = sum_t m[t, n] hs[t, n] / sum_t m[t, n]   (divide by the length, not by T)

    Parameters
    ----------
    hs : ndarray, shape (T, N, H)        hidden states of a padded batch, time first
    mask : ndarray of bool, shape (T, N)  True (or 1) on real steps, False (or 0) on padding; at least one real step
                                          per sequence

    Returns
    -------
    pooled : ndarray, shape (N, H)

    Book: chapter 6, section "Many-to-one: one output for a whole sequence".
    """
    func = "masked_mean_pool"
    hs = as_float_array("hs", hs, func)
    check_ndim("hs", hs, 3, "(T, N, H)", func)
    T, N, _ = hs.shape
    mask = np.asarray(mask)
    check_shape("mask", mask, (T, N), func, "(T, N)")
    if not (mask.dtype == bool or (np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all())):
        raise ValueError(f"{func}: `mask` must hold booleans (or 0 and 1), got dtype {mask.dtype}")
    m = mask.astype(hs.dtype)  # (T, N)
    counts = m.sum(axis=0)  # the length of each sequence, (N,)
    if (counts == 0).any():
        raise ValueError(f"{func}: `mask` must keep at least one step of every sequence, but column(s) "
                         f"{np.flatnonzero(counts == 0).tolist()} are all False")
    return (hs * m[..., None]).sum(axis=0) / counts[:, None]


def _check_token(value, name, func):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{func}: `{name}` must be a non-negative integer token id, got {value!r}")
    return int(value)


def _check_count(value, name, func):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{func}: `{name}` must be an integer >= 1, got {value!r}")
    return int(value)


def _step(step_fn, token, h, func):
    """Call `step_fn` and check that it returned (log_probs of shape (V,), h_next)."""
    result = step_fn(token, h)
    if not isinstance(result, tuple) or len(result) != 2:
        raise ValueError(f"{func}: `step_fn(token, h)` must return a pair (log_probs, h_next), "
                         f"got {type(result).__name__}")
    log_probs = as_float_array("log_probs returned by step_fn", result[0], func)
    if log_probs.ndim != 1 or log_probs.size == 0:
        raise ValueError(f"{func}: `step_fn` must return log_probs of shape (V,), got shape {log_probs.shape}")
    return log_probs, result[1]


def greedy_decode(step_fn, h0, start_token, max_len, end_token):
    """Generate a sequence by feeding back, at every step, the single most probable token.

    Math: y_k = argmax_v log p(v | y_<k, h0)  (ties: the smallest token id), fed back as the next input;
          stop after y_k = end_token or after max_len tokens;  logp = sum_k log p(y_k | y_<k, h0)

    Parameters
    ----------
    step_fn : callable, step_fn(token, h) -> (log_probs, h_next)   one decoder step: the token read at this step
              (an int) and the state before it; log_probs, shape (V,), are the log-probabilities of the next token
    h0 : the decoder's initial state (any object step_fn accepts, e.g. an ndarray of shape (H,))
    start_token : int   the token fed at the first step
    max_len : int >= 1  the most tokens to generate (end_token included)
    end_token : int     generation stops right after this token is produced

    Returns
    -------
    tokens : list of int   the generated tokens, without start_token; the last is end_token unless max_len was hit
    logp : float           the sum of their log-probabilities

    Book: chapter 6, section "Greedy decoding".
    """
    func = "greedy_decode"
    if not callable(step_fn):
        raise ValueError(f"{func}: `step_fn` must be callable as step_fn(token, h), got {type(step_fn).__name__}")
    token = _check_token(start_token, "start_token", func)
    max_len = _check_count(max_len, "max_len", func)
    end_token = _check_token(end_token, "end_token", func)
    tokens, logp, h = [], 0.0, h0
    for _ in range(max_len):
        log_probs, h = _step(step_fn, token, h, func)
        token = int(np.argmax(log_probs))  # the first maximum: ties go to the smallest id
        logp += float(log_probs[token])
        tokens.append(token)
        if token == end_token:  # the end token is kept, and nothing follows it
            break
    return tokens, logp


def beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    """Search for the output with the best length-normalised log-probability, keeping `beam_width` hypotheses.

    Math: a hypothesis y_1..y_k has logp = sum_i log p(y_i | y_<i, h0) and score = logp / k^alpha;
          every step extends each live hypothesis by every token and keeps the beam_width best by logp; a kept one
          that ends with end_token is finished: it leaves the beam (which then holds fewer) and is not extended;
          stop when the beam is empty or after max_len steps; return the best score among the finished and the
          hypotheses still live

    Ties are broken by order, so the result is deterministic: candidates with equal logp rank in the order
    (hypothesis's place in the beam, token id); the beam keeps that order; among equal final scores the first
    wins, finished hypotheses (in the order they finished) before live ones (in beam order).
    With beam_width=1 this is `greedy_decode`.

    Parameters
    ----------
    step_fn : callable, step_fn(token, h) -> (log_probs, h_next), as for `greedy_decode`
    h0 : the decoder's initial state
    start_token : int   the token fed at the first step
    beam_width : int >= 1   how many hypotheses are kept at every step
    max_len : int >= 1      the most tokens in a hypothesis (end_token included)
    end_token : int
    alpha : float >= 0      length normalisation: 0 ranks by logp alone (favours short outputs), 1 by logp per token

    Returns
    -------
    tokens : list of int   the best hypothesis, without start_token (ending with end_token if it finished)
    score : float          its score, logp / len(tokens)**alpha

    Book: chapter 6, section "Beam search".
    """
    func = "beam_search"
    if not callable(step_fn):
        raise ValueError(f"{func}: `step_fn` must be callable as step_fn(token, h), got {type(step_fn).__name__}")
    start_token = _check_token(start_token, "start_token", func)
    beam_width = _check_count(beam_width, "beam_width", func)
    max_len = _check_count(max_len, "max_len", func)
    end_token = _check_token(end_token, "end_token", func)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha >= 0:
        raise ValueError(f"{func}: `alpha` must be a number >= 0, got {alpha!r}")

    live = [([], 0.0, h0)]  # (tokens, logp, state after the last token), in beam order
    finished = []
    for _ in range(max_len):
        candidates = []  # in the order (hypothesis, token id)
        for tokens, logp, h in live:
            log_probs, h_next = _step(step_fn, tokens[-1] if tokens else start_token, h, func)
            candidates += [(tokens + [v], logp + float(log_probs[v]), h_next) for v in range(log_probs.size)]
        order = np.argsort([-c[1] for c in candidates], kind="stable")  # best first; ties keep their order
        live = []
        for i in order[:beam_width]:
            (finished if candidates[i][0][-1] == end_token else live).append(candidates[i])
        if not live:
            break
    hypotheses = finished + live
    scores = [logp / len(tokens) ** alpha for tokens, logp, _ in hypotheses]
    best = int(np.argmax(scores))  # the first of equal scores
    return hypotheses[best][0], float(scores[best])
