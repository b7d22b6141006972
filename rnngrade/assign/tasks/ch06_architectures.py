"""Assignment 6's task that rnncore does not answer: one decoder pass with scheduled sampling, with fixed coins.

Chapter 6 trains its decoders with teacher forcing, runs them free, measures the gap (exposure bias) and describes
scheduled sampling (Bengio et al., 2015) as the way to narrow it: during training, each teacher-forced input is
replaced by the model's own previous prediction with probability epsilon. Neither the chapter nor rnncore
implements it; the assignment asks for the training pass of a small numpy decoder, with the coins given as numbers.
"""

import numpy as np

from ..cases import Case, Step, register
from . import mistake, reference, visible_case

_SECTION = 'chapter 6, section "Teacher forcing and exposure bias"'


def _step(params, token, s):
    s = np.tanh(params["E"][token] + s @ params["W_hh"].T + params["b_h"])
    z = s @ params["W_hy"].T + params["b_y"]
    z = z - z.max()
    return z - np.log(np.exp(z).sum()), s


def _pass(params, s0, start_token, targets, u, epsilon, own=None, reduce="mean", score_inputs=False):
    """The decoder pass; `own(k)` says whether step k reads the model's previous prediction (default: the coins)."""
    targets = np.asarray(targets, dtype=np.int64)
    u = np.asarray(u, dtype=np.float64)
    own = own or (lambda k: u[k - 1] < epsilon)
    s = np.asarray(s0, dtype=np.float64)
    K = len(targets)
    inputs = np.empty(K, dtype=np.int64)
    inputs[0] = start_token
    logps, prediction = [], None
    for k in range(K):
        if k > 0:
            inputs[k] = prediction if own(k) else targets[k - 1]
        log_probs, s = _step(params, inputs[k], s)
        prediction = int(np.argmax(log_probs))
        logps.append(log_probs)
    scored = np.append(inputs[1:], targets[-1]) if score_inputs else targets
    nll = -np.array([logp[c] for logp, c in zip(logps, scored, strict=True)])
    return float(nll.sum() if reduce == "sum" else nll.mean()), inputs


@reference
def scheduled_sampling_loss(params, s0, start_token, targets, u, epsilon):
    """The training loss of a decoder whose input at each step is, by a fixed coin, the target or its own prediction.

    Math: decoder step (an Elman RNN on embedded tokens, the encoder-decoder's decoder with a tanh cell):
              s_k = tanh(E[x_k] + s_{k-1} W_hh^T + b_h),  log p_k = log_softmax(s_k W_hy^T + b_y);
          x_1 = start_token;  for k = 2, ..., K:
              x_k = argmax_v log p_{k-1}[v]  (its own prediction, ties to the smallest id)  if u_{k-1} < epsilon,
              x_k = y_{k-1}  (the target: teacher forcing)                                  otherwise;
          loss = -(1/K) sum_{k=1}^{K} log p_k[y_k]

    epsilon = 0 is teacher forcing; epsilon = 1 feeds back every prediction (free running, greedy, for K steps).

    Parameters
    ----------
    params : dict of ndarrays   E (V_in, H) the embedding of every token read (V_in > every id read, start_token
             included), W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,)
    s0 : ndarray, shape (H,)            the decoder's initial state (the context)
    start_token : int                   the token read at step 1
    targets : ndarray of int, shape (K,)   y_1, ..., y_K, ids in [0, V)
    u : ndarray, shape (K - 1,)         the coins: u[k - 1] in [0, 1) decides the input of step k + 1
    epsilon : number in [0, 1]          the probability of feeding the model's own prediction

    Returns
    -------
    loss : float                        the mean negative log-probability of the targets
    inputs : ndarray of int64, shape (K,)   x_1, ..., x_K, the tokens the decoder read

    Book: chapter 6, section "Teacher forcing and exposure bias".
    """
    return _pass(params, s0, start_token, targets, u, epsilon)


@mistake("scheduled_sampling_loss", "coin reversed",
         "the inputs equal a pass that reads its own prediction when u >= epsilon, so that epsilon is the "
         f"probability of teacher forcing instead of the probability of reading a prediction ({_SECTION})")
def _reversed(params, s0, start_token, targets, u, epsilon):
    return _pass(params, s0, start_token, targets, u, epsilon, own=lambda k: not u[k - 1] < epsilon)


@mistake("scheduled_sampling_loss", "predictions of a teacher-forced pass",
         "the inputs equal predictions made by a teacher-forced pass, each after the correct prefix, not after the "
         f"tokens this pass actually read, which may include earlier predictions ({_SECTION})")
def _teacher_forced_predictions(params, s0, start_token, targets, u, epsilon):
    targets = np.asarray(targets, dtype=np.int64)
    _, tf_inputs = _pass(params, s0, start_token, targets, u, 0.0)
    s, predictions = np.asarray(s0, dtype=np.float64), []
    for token in tf_inputs:
        log_probs, s = _step(params, token, s)
        predictions.append(int(np.argmax(log_probs)))
    return _mixed(params, s0, start_token, targets, u, epsilon, predictions)


def _mixed(params, s0, start_token, targets, u, epsilon, predictions):
    inputs = np.array([start_token] + [predictions[k - 1] if u[k - 1] < epsilon else targets[k - 1]
                                       for k in range(1, len(targets))], dtype=np.int64)
    s, nll = np.asarray(s0, dtype=np.float64), []
    for token, target in zip(inputs, targets, strict=True):
        log_probs, s = _step(params, token, s)
        nll.append(-log_probs[target])
    return float(np.mean(nll)), inputs


@mistake("scheduled_sampling_loss", "coins ignored",
         f"the inputs equal teacher forcing's: no coin ever replaces a target by a prediction ({_SECTION})")
def _coins_ignored(params, s0, start_token, targets, u, epsilon):
    return _pass(params, s0, start_token, targets, u, 0.0)


@mistake("scheduled_sampling_loss", "loss summed",
         f"the loss equals the sum over the K steps, K times the mean per token ({_SECTION})")
def _summed(params, s0, start_token, targets, u, epsilon):
    return _pass(params, s0, start_token, targets, u, epsilon, reduce="sum")


@mistake("scheduled_sampling_loss", "loss scored against the tokens read next",
         "the loss equals one that scores each step against the token read at the next step, the model's own "
         f"prediction where a coin chose it, instead of the target ({_SECTION})")
def _scores_inputs(params, s0, start_token, targets, u, epsilon):
    return _pass(params, s0, start_token, targets, u, epsilon, score_inputs=True)


def _decoder(rng, V, H, V_in=None, scale=1.0, decimals=None):
    V_in = V_in or V + 1
    params = {"E": scale * rng.standard_normal((V_in, H)), "W_hh": scale * rng.standard_normal((H, H)),
              "b_h": scale * rng.standard_normal(H), "W_hy": 2 * scale * rng.standard_normal((V, H)),
              "b_y": scale * rng.standard_normal(V)}
    if decimals is not None:
        params = {k: np.round(v, decimals) for k, v in params.items()}
    return params


def _visible():
    rng = np.random.default_rng(6)
    params = _decoder(rng, V=4, H=2, decimals=1)  # tokens 0-3, start token 4
    visible_case("scheduled_sampling_loss", "V=4, H=2, K=6, epsilon=0.5",
                 params=params, s0=np.array([0.5, -0.5]), start_token=4, targets=np.array([1, 2, 3, 1, 2, 0]),
                 u=np.array([0.1, 0.2, 0.9, 0.3, 0.6]), epsilon=0.5)
    visible_case("scheduled_sampling_loss", "the same decoder, K=4, epsilon=1 (free running)",
                 params=params, s0=np.array([0.0, 0.0]), start_token=4, targets=np.array([2, 1, 0, 3]),
                 u=np.array([0.25, 0.5, 0.75]), epsilon=1.0)
    visible_case("scheduled_sampling_loss", "K=1 (no coin), epsilon=0.5",
                 params=params, s0=np.array([1.0, 0.0]), start_token=4, targets=np.array([3]), u=np.zeros(0),
                 epsilon=0.5)


_visible()


# The verifier's cases (rnn-grade): seeded, with K = 1, epsilon = 0 and 1, and coins on both sides of epsilon.
@register("scheduled_sampling_loss", seed=20260641)
def _scheduled_sampling_loss(rng):
    cases = []
    for V, H, K, epsilon in [(2, 1, 1, 0.5), (3, 2, 4, 0.0), (4, 3, 6, 1.0), (5, 4, 8, 0.25), (6, 3, 10, 0.5),
                             (8, 5, 12, 0.75), (3, 4, 20, 0.4)]:
        params = _decoder(rng, V, H)
        s0, targets = rng.standard_normal(H), rng.integers(0, V, size=K)
        args = (params, s0, V, targets, rng.random(K - 1), epsilon)
        cases.append(Case(f"V={V}, H={H}, K={K}, epsilon={epsilon}",
                          [Step("scheduled_sampling_loss", args=args)]))
    return cases
