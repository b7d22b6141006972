"""Assign: what each assignment grades, beyond its nbgrader source notebook in solutions/.

- `tasks`  the graded tasks no function of rnncore answers, one module per assignment: their references, known
           mistakes and visible cases (scripts/goldens.py turns those into rnncore/goldens.json, which the
           release notebooks' visible checks read; `make release` runs it and then scripts/release.py);
- `cases`  the fixed, seeded inputs every graded function is verified on (rnncore's and the tasks').

Nothing here runs a submission: the grade stage reads these definitions.
"""
