"""rnngrade: the course's grading tools (autograde with nbgrader, verify every grade outside the student's kernel,
export), a package beside rnncore that students never install.

nbgrader runs the hidden tests inside the student's own kernel, where a determined student can patch the
checks (see book/instructor_guide.md, "The verified grade"). This package adds a second, trusted grade for
every submission. It is organised by the stages of the grading workflow; `rnn-grade` (`cli`) runs them all:

- `assign`     what each assignment grades: the verifier's cases (`cases`) and the graded tasks no function of
               rnncore answers, with their references and known mistakes (`tasks`);
- `collect`    brings LMS zips and exchange folders into `submitted/` (`submissions`), and the late policy
               (`policy`): `rnn-grade ASSIGNMENT --submissions ZIP --lms canvas`;
- `grade`      nbgrader's autograde, one submission per isolated worker (`autograde`, `worker`, `isolate`), and
               the verified grade: the student's answers run in a sandbox (`sandbox`, `stubs`) and compared with
               the reference in the trusted parent (`verify`, `visible`): `rnn-grade ASSIGNMENT`;
- `integrity`  flags suspicious code in the answer cells (`scan`) and detects copies (`similarity`); flags never
               change a grade by themselves;
- `export`     the ledger of verified grades and the CSV and LMS gradebook exports (`ledger`), and an nbgrader
               feedback preprocessor that leaks no hidden-test source (`feedback`);
- `notebook`   reads a source notebook and a submission's answers (every stage uses it);
- `cli`        the `rnn-grade` command.

rnncore imports nothing from here (a test walks its sources): the student kit's wheel is rnncore alone.
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
