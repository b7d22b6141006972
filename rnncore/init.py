"""Parameter initialisation as torch does it, and parameter counts, for the recurrent cells."""

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _gates(cell, func):
    if cell not in GATES:
        raise ValueError(f"{func}: `cell` must be one of {sorted(GATES)}, got {cell!r}")
    return GATES[cell]


def init_recurrent(rng, D, H, cell="rnn", dtype=np.float64):
    """Weights of one recurrent layer drawn like torch's: every entry from U(-1/sqrt(H), 1/sqrt(H)).

    Parameters
    ----------
    rng : numpy.random.Generator   the only source of randomness
    D, H : input and hidden sizes
    cell : "rnn", "lstm" or "gru" (G = 1, 4 or 3 gate blocks)

    Returns
    -------
    params : dict with W_ih (G*H, D), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,)

    Book: chapter 2, section "Parameter sharing and parameter counts".
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"init_recurrent: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    G = _gates(cell, "init_recurrent")
    k = 1 / np.sqrt(H)
    shapes = {"W_ih": (G * H, D), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}
    return {name: rng.uniform(-k, k, size=shape).astype(dtype) for name, shape in shapes.items()}


def init_affine(rng, H, V, dtype=np.float64):
    """Weights of an output layer drawn like `torch.nn.Linear`'s: U(-1/sqrt(H), 1/sqrt(H)).

    Returns
    -------
    params : dict with W (V, H) and b (V,)

    Book: chapter 2, section "The output layer and the loss over time".
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"init_affine: `rng` must be a numpy.random.Generator, got {type(rng).__name__}")
    k = 1 / np.sqrt(H)
    return {"W": rng.uniform(-k, k, size=(V, H)).astype(dtype), "b": rng.uniform(-k, k, size=(V,)).astype(dtype)}


def param_count(D, H, V=None, cell="rnn"):
    """The number of trainable numbers in one recurrent layer (torch's two biases) and an optional output layer.

    Math: G H (D + H + 2)  +  V (H + 1) if there is an output layer of size V

    Parameters
    ----------
    D, H : input and hidden sizes (positive ints)
    V : output size, or None for no output layer
    cell : "rnn", "lstm" or "gru" (G = 1, 4 or 3)

    Returns
    -------
    count : int

    Book: chapter 2, section "Parameter sharing and parameter counts", the parameter count.
    """
    G = _gates(cell, "param_count")
    for name, value in (("D", D), ("H", H)) + ((("V", V),) if V is not None else ()):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"param_count: `{name}` must be a positive int, got {value!r}")
    count = G * H * (D + H + 2)
    if V is not None:
        count += V * (H + 1)
    return int(count)
