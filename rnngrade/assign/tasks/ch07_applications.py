"""Assignment 7's task that rnncore does not answer: nucleus (top-p) sampling with a temperature and a given uniform.

Chapter 7 samples its language model with a temperature (`rnncore.sample_with_temperature`, one uniform number and
the inverse CDF) and describes nucleus sampling (Holtzman et al., 2020), which first cuts the tempered distribution
down to its most probable tokens; neither the chapter nor rnncore implements it. The contract returns the cut
distribution as well as the draw, so the nucleus itself is checked.
"""

import numpy as np

from ..cases import Case, Step, register
from . import mistake, reference, visible_case

_SECTION = 'chapter 7, section "Sampling from the model"'


def _tempered(logits, temperature):
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())
    return p / p.sum()


def _nucleus(p, top_p, ascending=False, crossing=True):
    """A boolean mask of the tokens kept: the most probable ones, until their mass reaches top_p."""
    order = np.argsort(p if ascending else -p, kind="stable")
    before = np.cumsum(p[order]) - p[order]  # the mass of the tokens ranked before each one
    kept_sorted = before < top_p if crossing else np.cumsum(p[order]) <= top_p
    kept_sorted[0] = True  # the most probable token is always kept
    keep = np.zeros(len(p), dtype=bool)
    keep[order[kept_sorted]] = True
    return keep


def _draw(q, u, order=None):
    order = np.arange(len(q)) if order is None else order
    c = np.cumsum(q[order])
    return int(order[min(int((c <= u).sum()), len(q) - 1)])


@reference
def sample_top_p(logits, temperature, top_p, u):
    """Draw one index by nucleus (top-p) sampling: the tempered distribution cut to its most probable tokens.

    Math: p = softmax(z / tau);  rank the tokens by p, most probable first (ties: the smaller index first);
          keep a token iff the tokens ranked before it hold less than top_p of the mass (the first is always kept,
          so the nucleus is the smallest such set with mass >= top_p);
          q_i = p_i / sum_{j kept} p_j if i is kept, else 0;
          c_i = q_0 + ... + q_i;  sample = the smallest i with u < c_i  (at most V - 1)

    top_p = 1 keeps every token: the draw of `sample_with_temperature` with the same u.

    Parameters
    ----------
    logits : ndarray, shape (V,)     scores z
    temperature : number > 0, tau
    top_p : number in (0, 1]         the mass of the nucleus
    u : number in [0, 1)             the uniform number of the draw

    Returns
    -------
    sample : int                     the index drawn
    probs : ndarray, shape (V,)      q, the distribution the sample is drawn from (zeros outside the nucleus)

    Book: chapter 7, section "Sampling from the model".
    """
    p = _tempered(logits, temperature)
    q = np.where(_nucleus(p, top_p), p, 0.0)
    q = q / q.sum()
    return _draw(q, u), q


@mistake("sample_top_p", "nucleus stops before the crossing token",
         "the distribution equals one cut to the tokens whose cumulative mass stays at or below top_p, which leaves "
         f"out the token that takes the mass past top_p ({_SECTION})")
def _no_crossing(logits, temperature, top_p, u):
    p = _tempered(logits, temperature)
    q = np.where(_nucleus(p, top_p, crossing=False), p, 0.0)
    q = q / q.sum()
    return _draw(q, u), q


@mistake("sample_top_p", "not renormalised",
         f"the distribution equals the nucleus's probabilities as they were before the cut: they sum to less than 1 "
         f"({_SECTION})")
def _not_renormalised(logits, temperature, top_p, u):
    p = _tempered(logits, temperature)
    q = np.where(_nucleus(p, top_p), p, 0.0)
    if np.isclose(q.sum(), 1.0):
        raise ValueError("same as the reference")
    return _draw(q, u), q


@mistake("sample_top_p", "temperature applied after the cut",
         "the distribution equals one whose nucleus was chosen from softmax(z), at temperature 1, and tempered only "
         f"afterwards ({_SECTION})")
def _temperature_after(logits, temperature, top_p, u):
    keep = _nucleus(_tempered(logits, 1.0), top_p)
    q = np.where(keep, _tempered(logits, temperature), 0.0)
    q = q / q.sum()
    return _draw(q, u), q


@mistake("sample_top_p", "inverse CDF in order of probability",
         "the sample equals the inverse CDF taken over the tokens ranked by probability, not in the order of their "
         f"indices ({_SECTION})")
def _sorted_draw(logits, temperature, top_p, u):
    p = _tempered(logits, temperature)
    q = np.where(_nucleus(p, top_p), p, 0.0)
    q = q / q.sum()
    return _draw(q, u, order=np.argsort(-p, kind="stable")), q


@mistake("sample_top_p", "least probable tokens kept",
         "the distribution equals a nucleus filled from the least probable tokens upwards "
         f"({_SECTION})")
def _ascending(logits, temperature, top_p, u):
    p = _tempered(logits, temperature)
    q = np.where(_nucleus(p, top_p, ascending=True), p, 0.0)
    q = q / q.sum()
    return _draw(q, u), q


@mistake("sample_top_p", "nothing cut",
         f"the distribution equals the whole tempered distribution, as if top_p were 1 ({_SECTION})")
def _nothing_cut(logits, temperature, top_p, u):
    q = _tempered(logits, temperature)
    return _draw(q, u), q


def _visible():
    visible_case("sample_top_p", "p = [0.1, 0.4, 0.2, 0.3], temperature 1, top_p 0.55, u = 0.5",
                 logits=np.log(np.array([0.1, 0.4, 0.2, 0.3])), temperature=1.0, top_p=0.55, u=0.5)
    visible_case("sample_top_p", "p = [0.15, 0.7, 0.05, 0.1] at temperature 4, top_p 0.65, u = 0.5",
                 logits=np.log(np.array([0.15, 0.7, 0.05, 0.1])), temperature=4.0, top_p=0.65, u=0.5)
    visible_case("sample_top_p", "logits [2, 1, 0, -1, 3], temperature 0.5, top_p 0.9, u = 0.3",
                 logits=np.array([2.0, 1.0, 0.0, -1.0, 3.0]), temperature=0.5, top_p=0.9, u=0.3)


_visible()


# The verifier's cases (rnn-grade): seeded, with V = 1, top_p = 1, tiny top_p (the argmax alone) and large scores.
@register("sample_top_p", seed=20260742)
def _sample_top_p(rng):
    cases = []
    for V, tau, top_p, scale, offset in [(1, 1.0, 0.5, 1.0, 0.0), (2, 0.5, 0.9, 1.0, 0.0), (5, 1.0, 1.0, 2.0, 0.0),
                                         (6, 2.0, 0.01, 1.0, 0.0), (10, 0.7, 0.8, 2.0, 1000.0),
                                         (30, 1.5, 0.9, 3.0, -500.0), (50, 1.0, 0.5, 2.0, 0.0)]:
        logits = offset + scale * rng.standard_normal(V)
        for j in range(3):
            cases.append(Case(f"V={V}, tau={tau}, top_p={top_p}, draw {j}",
                              [Step("sample_top_p", args=(logits, tau, top_p, float(rng.random())))]))
    return cases
