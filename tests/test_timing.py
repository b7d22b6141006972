"""rnncore.best_times: the contenders take turns, each keeps its fastest run, slow cases stop early, and the clock
(the process's CPU time) does not count the time the process was not running."""

import re
import time

import pytest

import rnncore


def busy(seconds):
    """Compute for `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_contenders_take_turns_and_keep_their_fastest_run():
    calls, work = [], iter([0.02, 0.0, 0.0, 0.0, 0.0, 0.0])

    def slow_first():  # slowed during its first run only
        calls.append("a")
        busy(next(work))

    def steady():
        calls.append("b")

    best = rnncore.best_times({"a": slow_first, "b": steady}, repeats=3, budget=10.0)
    assert calls == ["a", "b"] * 3, calls
    assert list(best) == ["a", "b"] and best["a"] < 0.01, best  # its slow first run is not the one kept


def test_rounds_stop_once_the_budget_is_spent_but_one_always_runs():
    calls = []
    rnncore.best_times({"slow": lambda: (calls.append(1), busy(0.03))}, repeats=10, budget=0.05)
    assert len(calls) == 2, calls  # 0.03 s, then 0.06 s > budget
    assert rnncore.best_time(lambda: busy(0.02), repeats=5, budget=0.001) >= 0.02


def test_time_the_process_does_not_run_is_not_counted():
    """A busy machine takes the core away; the CPU-time clock does not count that, the wall clock does."""
    assert rnncore.best_time(lambda: time.sleep(0.05), repeats=1) < 0.01
    assert rnncore.best_time(lambda: time.sleep(0.05), repeats=1, clock=time.perf_counter) >= 0.05


@pytest.mark.parametrize("kwargs, message", [
    (dict(fns={}), "`fns` must be a non-empty dict"),
    (dict(fns=[print]), "`fns` must be a non-empty dict"),
    (dict(fns={"x": 3}), "`fns['x']` must be a function of no arguments, got int"),
    (dict(fns={"x": print}, repeats=0), "`repeats` must be an int >= 1, got 0"),
    (dict(fns={"x": print}, budget=0), "`budget` must be a positive number of seconds, got 0"),
    (dict(fns={"x": print}, clock=0.1), "`clock` must be a function returning seconds, got float"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        rnncore.best_times(**kwargs)
