"""Timing for the book's speed comparisons: the fastest of a few runs, the contenders taking turns, in CPU time.

A comparison timed one contender after the other can be decided by a moment when the machine is busy with something
else: every run of one contender is slowed, none of the other's. Here the contenders take turns (one run of each per
round), and each keeps its fastest run, the one least disturbed. The clock is the process's CPU time: it leaves out
the moments when another program had the core, which wall-clock time counts. The book times single-threaded code (one
torch thread, one BLAS thread), where CPU time is the time the code takes on an idle core; code on several threads is
charged the time of all of them.
"""

import time


def best_times(fns, repeats=5, budget=0.3, clock=time.process_time):
    """The fastest run of each zero-argument function in `fns`, in seconds of `clock`, the functions taking turns.

    fns: {name: f}. Up to `repeats` rounds of one run of each f; rounds stop early once they have taken `budget`
    seconds in all (so that slow cases are timed fewer times), but there is always at least one. Returns
    {name: seconds}, in the order of `fns`. `clock` is the process's CPU time (all its threads); pass time.perf_counter
    for wall-clock time.

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
    if not callable(clock):
        raise ValueError(f"best_times: `clock` must be a function returning seconds, got {type(clock).__name__}")
    best = {name: float("inf") for name in fns}
    spent = 0.0
    for _ in range(repeats):
        for name, f in fns.items():
            start = clock()
            f()
            took = clock() - start
            best[name] = min(best[name], took)
            spent += took
        if spent > budget:
            break
    return best


def best_time(f, repeats=5, budget=0.3, clock=time.process_time):
    """The fastest of up to `repeats` runs of the zero-argument function f, in seconds (see `best_times`)."""
    return best_times({"f": f}, repeats, budget, clock)["f"]
