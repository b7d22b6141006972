"""Instructor tools: autograde with nbgrader, verify every grade outside the student's kernel, and export.

nbgrader runs the hidden tests inside the student's own kernel, where a determined student can patch the
checks (see book/instructor_guide.md, "The verified grade"). This subpackage adds a second, trusted grade for
every submission:

- `notebook`   reads a source notebook (graded functions, points, trusted cells) and a submission's answers;
- `cases`      the fixed, seeded inputs every graded function is verified on;
- `stubs`      the stand-in `rnncore` package a sandbox sees (the assignment's graded functions raise);
- `isolate`    Linux namespaces for sandboxes and workers: no network, read-only disk, secrets hidden;
- `sandbox`    runs a student's answer cells in an isolated, resource-limited subprocess that returns arrays;
- `verify`     compares those arrays with rnncore computed in the trusted parent: the verified score;
- `integrity`  flags suspicious code in the answer cells (never zeroes a grade by itself);
- `similarity` copy detection: each answer against rnncore and every classmate, with a side-by-side report;
- `feedback`   an nbgrader feedback preprocessor that leaks no hidden-test source;
- `autograde`  runs nbgrader one submission per isolated worker (`worker`), merging grades serially;
- `collect`    brings LMS zips and exchange folders into `submitted/`; `ledger` stores verified grades and CSVs;
- `cli`        the `rnn-grade` command that runs the whole cycle and exports one CSV per assignment.

Nothing here is imported by `import rnncore`: students never need it.
"""

import os as _os
import sys as _sys


def fast_imports():
    """Skip jsonschema's optional `rfc3987_syntax`, which builds a grammar for ~2 s of CPU at every import.

    nbformat imports jsonschema, which imports rfc3987_syntax inside `suppress(ImportError)`: blocking it only
    leaves the "iri" string format of JSON schemas unchecked, which nbformat's notebook schema never uses. Every
    grading worker imports nbformat, so this saves ~2 s per submission. Called when this package is imported.
    """
    _sys.modules.setdefault("rfc3987_syntax", None)


def tools_on_path():
    """Put this interpreter's scripts folder first on PATH, so that nbgrader finds `alembic` in a fresh venv.

    nbgrader's gradebook runs the `alembic` command by name. Run as `.venv/bin/python` or `.venv/bin/rnn-grade`
    without activating the venv, PATH lacks .venv/bin and every generate_assignment and autograde fails.
    """
    bindir = _os.path.dirname(_sys.executable)
    if bindir not in _os.environ.get("PATH", "").split(_os.pathsep):
        _os.environ["PATH"] = bindir + _os.pathsep + _os.environ.get("PATH", "")


fast_imports()
tools_on_path()
