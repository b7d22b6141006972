"""Graded tasks that no function of rnncore answers: their references and known mistakes, kept with the instructor.

Most graded functions have their reference in rnncore, which students install. Each assignment also has at least one
task that no page of the course edition and no function of rnncore answers line by line: a variant the chapter
derives but does not implement. Its reference lives here, in rnngrade, which the student kit does not hold.

Each assignment's tasks are a module of this package named after the assignment (e.g. `ch08_beyond.py`), which
registers, for each such function:

- its reference, with `@reference` (locked like rnncore's: it refuses to run while a student's function is graded);
- its known mistakes, with `@mistake(function, name, message)`, each a deliberately wrong variant whose message names
  the mistake and the section to reread, never the fix (as in rnncore.mistakes);
- the fixed cases of its visible checks, with `visible_case(function, label, **inputs)`;
- the verifier's cases, with `rnngrade.assign.cases.register` as for any graded function.

Students' kernels cannot import this module (the kit does not have it), so the visible checks read *numbers*
instead: `scripts/goldens.py` evaluates the reference and every mistake on the visible cases and writes the results
to rnncore/goldens.json, which `rnncore.goldens` reads (a test keeps the file in step with this module). The
hidden tests and the verifier run where the instructor grades, and call the references here directly.
"""

import importlib
import pkgutil
from typing import NamedTuple

from rnncore import _lock
from rnncore.mistakes import Mistake

REFERENCES: dict = {}  # function name -> the (locked) reference
MISTAKES: dict = {}  # function name -> [Mistake, ...]
VISIBLE: dict = {}  # function name -> [VisibleCase, ...]


class VisibleCase(NamedTuple):
    """One fixed input of a task's visible checks."""

    function: str
    label: str  # how the check names the case, e.g. "T=8, N=1"
    inputs: dict  # keyword arguments: numpy arrays, numbers, strings, None


def reference(func):
    """Register `func` as the reference of the graded function of the same name (decorator); return it locked."""
    if func.__name__ in REFERENCES:
        raise ValueError(f"a reference for {func.__name__!r} is registered twice")
    guarded = _lock.protect(func)
    REFERENCES[func.__name__] = guarded
    return guarded


def mistake(function, name, message):
    """Register a known mistaken variant of task `function` (decorator), locked like the reference."""

    def register(compute):
        guarded = _lock.protect(compute)
        MISTAKES.setdefault(function, []).append(Mistake(function, name, message, guarded))
        return guarded

    return register


def visible_case(function, label, **inputs):
    """Register one fixed case of `function`'s visible checks (its golden values are written by scripts/goldens.py)."""
    if any(case.label == label for case in VISIBLE.get(function, [])):
        raise ValueError(f"{function!r} has two visible cases labelled {label!r}")
    VISIBLE.setdefault(function, []).append(VisibleCase(function, label, inputs))


def load():
    """Import every task module of this package, so that the registries above are complete; return REFERENCES."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REFERENCES
