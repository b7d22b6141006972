"""Wall-clock timing for the book's speed comparisons: the fastest of a few runs, the contenders taking turns.

A comparison timed one contender after the other can be decided by a moment when the machine is busy with something
else: every run of one contender is slowed, none of the other's. Here the contenders take turns (one run of each per
round), and each keeps its fastest run, the one least disturbed.
"""

import time


def best_times(fns, repeats=5, budget=0.3):
    """The fastest run of each zero-argument function in `fns`, in seconds, the functions taking turns.

    fns: {name: f}. Up to `repeats` rounds of one run of each f; rounds stop early once they have taken `budget`
    seconds in all (so that slow cases are timed fewer times), but there is always at least one. Returns
    {name: seconds}, in the order of `fns`.

    Book: chapter 2, section "The forward pass", where a loop is timed against its hoisted version.
    """
    if not isinstance(fns, dict) or not fns:
        raise ValueError(f"best_times: `fns` must be a non-empty dict of name: function, got {fns!r}")
    for name, f in fns.items():
        if not callable(f):
            raise ValueError(f"best_times: `fns[{name!r}]` must be a function of no arguments, got {type(f).__name__}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"best_times: `repeats` must be an int >= 1, got {repeats!r}")
    if not budget > 0:
        raise ValueError(f"best_times: `budget` must be a positive number of seconds, got {budget!r}")
    best = {name: float("inf") for name in fns}
    spent = 0.0
    for _ in range(repeats):
        for name, f in fns.items():
            start = time.perf_counter()
            f()
            took = time.perf_counter() - start
            best[name] = min(best[name], took)
            spent += took
        if spent > budget:
            break
    return best


def best_time(f, repeats=5, budget=0.3):
    """The fastest of up to `repeats` runs of the zero-argument function f, in seconds (see `best_times`)."""
    return best_times({"f": f}, repeats, budget)["f"]
