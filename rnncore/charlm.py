"""A character-level language model in the spirit of Karpathy's min-char-rnn, built from rnncore's layers.

The model is a params dict (`W_ih`, `W_hh`, `b_ih`, `b_hh`, `W_hy`, `b_y`, and `W_emb` when the input is an
embedding instead of a one-hot vector) and its gradients are a dict with the same keys, so gradient checking,
clipping and the optimiser are each one loop over the names.
"""

import numbers

import numpy as np

from ._checks import as_float_array, check_ndim, check_shape
from .activations import softmax
from .clip import clip_by_value
from .embedding import embedding_backward, embedding_forward
from .init import init_affine, init_recurrent
from .layers import affine_backward, affine_forward
from .losses import softmax_cross_entropy
from .optim import SGD, Adam
from .rnn import rnn_backward, rnn_forward, rnn_step_forward

_KEYS = ("W_ih", "W_hh", "b_ih", "b_hh", "W_hy", "b_y")


class Vocab:
    """The distinct characters of a text and the maps between characters and indices 0 .. V - 1.

    `Vocab.from_text(text)` sorts the characters, so the same text always gives the same indices.
    `encode(text)` -> ndarray of int64, shape (len(text),);  `decode(idx)` -> str;  `len(vocab)` is V.

    Book: chapter 7, section "A character-level language model".
    """

    def __init__(self, chars):
        chars = list(chars)
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad or not chars:
            raise ValueError(f"Vocab: `chars` must be a non-empty sequence of single characters, got {bad or chars!r}")
        if len(set(chars)) != len(chars):
            repeated = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"Vocab: `chars` must be distinct, got repeats {repeated!r}")
        self.chars = chars  # index -> character
        self.index = {c: i for i, c in enumerate(chars)}  # character -> index

    @classmethod
    def from_text(cls, text):
        """The vocabulary of the sorted distinct characters of `text`."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"Vocab.from_text: `text` must be a non-empty str, got {text!r:.40}")
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"Vocab({''.join(self.chars)!r})"

    def encode(self, text):
        """The index of every character of `text`, ndarray of int64, shape (len(text),)."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"Vocab.encode: `text` has characters not in the vocabulary: {unknown!r}")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, idx):
        """The string of the characters with indices `idx` (a sequence of ints in [0, V))."""
        idx = np.asarray(idx).ravel()
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= len(self)):
            raise ValueError(f"Vocab.decode: `idx` must be integers in [0, V) = [0, {len(self)}), got {idx[:10]!r}")
        return "".join(self.chars[i] for i in idx)


def init_charlm(rng, V, H, E=None, dtype=np.float64):
    """The parameters of a character-level RNN language model, drawn like torch's layers.

    Math: x_t = onehot(c_t) (or W_emb[c_t]);  h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh);
          y_t = h_t W_hy^T + b_y  (scores for the next character)

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness
    V : vocabulary size;  H : hidden size
    E : embedding size, or None for one-hot inputs (then W_ih is (H, V), as in min-char-rnn)

    Returns
    -------
    params : dict with W_emb (V, E) if E is given (entries N(0, 1), as torch.nn.Embedding), W_ih (H, E or V),
             W_hh (H, H), b_ih (H,), b_hh (H,) (U(-1/sqrt(H), 1/sqrt(H))), W_hy (V, H), b_y (V,)

    Book: chapter 7, section "A character-level language model".
    """
    func = "init_charlm"
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    for name, value in (("V", V), ("H", H)) + ((("E", E),) if E is not None else ()):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{func}: `{name}` must be a positive int, got {value!r}")
    params = {"W_emb": rng.standard_normal((V, E)).astype(dtype)} if E is not None else {}
    params.update(init_recurrent(rng, V if E is None else E, H, dtype=dtype))
    out = init_affine(rng, H, V, dtype=dtype)
    params.update(W_hy=out["W"], b_y=out["b"])
    return params


def _check_params(params, func):
    """Check the keys of a charlm params dict and return (V, H, uses an embedding)."""
    if not isinstance(params, dict):
        raise ValueError(f"{func}: `params` must be a dict of name -> array, got {type(params).__name__}")
    embedded = "W_emb" in params
    expected = set(_KEYS) | ({"W_emb"} if embedded else set())
    if set(params) != expected:
        raise ValueError(f"{func}: `params` must have the keys {sorted(expected)} (as from `init_charlm`), "
                         f"got {sorted(params)}")
    V, H = np.shape(params["W_hy"])
    return V, H, embedded


def _check_indices(name, idx, V, func):
    idx = np.asarray(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{func}: `{name}` must hold integer character indices, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        raise ValueError(f"{func}: `{name}` must lie in [0, V) = [0, {V}), got values in [{idx.min()}, {idx.max()}]")
    return idx


def charlm_loss_and_grads(params, inputs, targets, h0):
    """Loss of the character model on one chunk, every parameter's gradient, and the last hidden state.

    Math: y_t = h_t W_hy^T + b_y with h_t from `rnn_forward` over the (one-hot or embedded) inputs;
          L = -(1 / (T N)) sum_{t,n} log softmax(y_t)[targets_t]   (backward: affine, then BPTT, then embedding)

    The gradient stops at h0 (truncated BPTT): carry `h_last` into the next chunk as its h0.

    Parameters
    ----------
    params : dict from `init_charlm`
    inputs : ndarray of int, shape (T, N)    character indices
    targets : ndarray of int, shape (T, N)   the next character at every step (inputs shifted by one)
    h0 : ndarray, shape (N, H)               the hidden state before the chunk

    Returns
    -------
    loss : float, mean cross-entropy per character (in nats)
    grads : dict with the keys of `params`, arrays of the same shapes
    h_last : ndarray, shape (N, H), the hidden state after the last step

    Book: chapter 7, section "A character-level language model".
    """
    func = "charlm_loss_and_grads"
    V, H, embedded = _check_params(params, func)
    inputs = _check_indices("inputs", inputs, V, func)
    check_ndim("inputs", inputs, 2, "(T, N)", func)
    targets = _check_indices("targets", targets, V, func)
    check_shape("targets", targets, inputs.shape, func, "(T, N)")
    h0 = as_float_array("h0", h0, func)
    check_shape("h0", h0, (inputs.shape[1], H), func, "(N, H)")

    p = params
    if embedded:
        x, emb_cache = embedding_forward(inputs, p["W_emb"])  # (T, N, E)
    else:
        x = np.eye(V, dtype=p["W_ih"].dtype)[inputs]  # one-hot, (T, N, V)
    hs, rnn_cache = rnn_forward(x, h0, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])  # (T, N, H)
    y, aff_cache = affine_forward(hs, p["W_hy"], p["b_y"])  # (T, N, V)
    loss, dy = softmax_cross_entropy(y, targets)
    dhs, dW_hy, db_y = affine_backward(dy, aff_cache)
    dx, _, dW_ih, dW_hh, db_ih, db_hh = rnn_backward(dhs, rnn_cache)
    grads = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": db_hh, "W_hy": dW_hy, "b_y": db_y}
    if embedded:
        grads["W_emb"] = embedding_backward(dx, emb_cache)
    return loss, {name: grads[name] for name in params}, hs[-1]


def sample(params, h, seed_idx, n, rng, temperature=1.0):
    """Generate `n` characters from the model, one at a time, each fed back in as the next input.

    Math: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh);  c_{t+1} ~ softmax((h_t W_hy^T + b_y) / temperature)

    Low temperatures sharpen the distribution towards the most likely character; 1 samples the model as it is.

    Parameters
    ----------
    params : dict from `init_charlm`
    h : ndarray, shape (H,)      the hidden state before the seed (zeros to start afresh)
    seed_idx : int, or a 1-D sequence of ints (a prime)   the character(s) fed first; sampling starts after the last
    n : int >= 0, how many characters to generate
    rng : numpy.random.Generator   the only source of randomness
    temperature : number > 0

    Returns
    -------
    idx : ndarray of int64, shape (n,), the generated characters (without the seed)

    Book: chapter 7, section "Sampling from the model".
    """
    func = "sample"
    V, H, embedded = _check_params(params, func)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{func}: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{func}: `n` must be an int >= 0, got {n!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"{func}: `temperature` must be a number > 0, got {temperature!r}")
    seed = np.atleast_1d(seed_idx)
    if seed.size == 0:
        raise ValueError(f"{func}: `seed_idx` must hold at least one character index, got an empty sequence")
    seed = _check_indices("seed_idx", seed, V, func)
    check_ndim("seed_idx", seed, 1, "(K,)", func)
    h = as_float_array("h", h, func)
    check_shape("h", h, (H,), func, "(H,)")

    p = params
    eye = np.eye(V, dtype=p["W_ih"].dtype)

    def step(c, h):  # feed character c: one RNN step from state h, (1, H)
        x_t = p["W_emb"][c][None] if embedded else eye[c][None]  # (1, E) or (1, V)
        return rnn_step_forward(x_t, h, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])[0]

    h = h[None]  # a batch of one, (1, H)
    for c in seed:
        h = step(c, h)
    out = []
    for _ in range(n):
        probs = softmax((h[0] @ p["W_hy"].T + p["b_y"]) / temperature).astype(np.float64)  # (V,)
        c = int(rng.choice(V, p=probs / probs.sum()))
        out.append(c)
        h = step(c, h)
    return np.array(out, dtype=np.int64)


def train_charlm(text, rng, H=64, seq_len=25, steps=1000, lr=1e-2, clip=5.0, batch_size=1, E=None,
                 optimizer="adam"):
    """Train a character model on one long text with truncated BPTT, carrying the hidden state between chunks.

    Math: for each chunk k: (L_k, g_k, h) = charlm_loss_and_grads(params, inputs_k, targets_k, h);
          g_k <- clip(g_k, -clip, clip);  params <- optimiser step with g_k

    The text is cut into `batch_size` contiguous streams read side by side, `seq_len` characters at a time; the
    state after one chunk is the start of the next (the gradient stops there). At the end of the streams the
    reading starts over from their beginning with a zero state, as min-char-rnn does. The vocabulary is
    `Vocab.from_text(text)`; the only randomness is the initialisation, so a seed fixes the whole run.

    Parameters
    ----------
    text : str, the training text
    rng : numpy.random.Generator, used by `init_charlm`
    H : hidden size;  E : embedding size, or None for one-hot inputs
    seq_len : characters per chunk (T, the truncation length);  batch_size : number of streams (N)
    steps : number of optimiser steps;  lr : learning rate
    clip : elementwise gradient clipping limit (min-char-rnn's 5), or None for no clipping
    optimizer : "adam" (rnncore.Adam) or "sgd" (rnncore.SGD)

    Returns
    -------
    params : dict, the trained parameters (see `init_charlm`)
    losses : ndarray, shape (steps,), the loss of every chunk before its update (nats per character)

    Book: chapter 7, section "Training with truncated BPTT".
    """
    func = "train_charlm"
    vocab = Vocab.from_text(text) if isinstance(text, str) and text else None
    if vocab is None:
        raise ValueError(f"{func}: `text` must be a non-empty str, got {text!r:.40}")
    for name, value, low in (("H", H, 1), ("seq_len", seq_len, 1), ("steps", steps, 0), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{func}: `{name}` must be an int >= {low}, got {value!r}")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not clip > 0):
        raise ValueError(f"{func}: `clip` must be a positive number or None, got {clip!r}")
    optimisers = {"adam": Adam, "sgd": SGD}
    if optimizer not in optimisers:
        raise ValueError(f"{func}: `optimizer` must be 'adam' or 'sgd', got {optimizer!r}")
    data = vocab.encode(text)
    L = (len(data) - 1) // batch_size  # characters per stream (inputs; targets are one further)
    if L < seq_len:
        raise ValueError(f"{func}: `text` is too short: {len(text)} characters give {batch_size} stream(s) of {L}, "
                         f"fewer than seq_len = {seq_len}")
    X = data[: batch_size * L].reshape(batch_size, L)  # (N, L)
    Y = data[1 : batch_size * L + 1].reshape(batch_size, L)  # the next character of each input, (N, L)

    params = init_charlm(rng, len(vocab), H, E)
    opt = optimisers[optimizer](lr)
    h = np.zeros((batch_size, H))
    pos, losses = 0, []
    for _ in range(steps):
        if pos + seq_len > L:
            pos, h = 0, np.zeros((batch_size, H))  # back to the start with a fresh state
        inputs, targets = X[:, pos : pos + seq_len].T, Y[:, pos : pos + seq_len].T  # (T, N)
        loss, grads, h = charlm_loss_and_grads(params, inputs, targets, h)
        if clip is not None:
            grads = clip_by_value(grads, clip)  # min-char-rnn's guard against exploding gradients
        opt.step(params, grads)
        losses.append(loss)
        pos += seq_len
    return params, np.array(losses)
