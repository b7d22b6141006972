"""Instructor tools: autograde with nbgrader, verify every grade outside the student's kernel, and export.

nbgrader runs the hidden tests inside the student's own kernel, where a determined student can patch the
checks (see the instructor guide, chapter "Grading the course"). This subpackage adds a second, trusted
grade for every submission:

- `notebook`   reads a source notebook (graded functions, points, trusted cells) and a submission's answers;
- `cases`      the fixed, seeded inputs every graded function is verified on;
- `stubs`      the stand-in `rnncore` package a sandbox sees (helpers only; graded functions raise);
- `sandbox`    runs a student's answer cells in an isolated, resource-limited subprocess that returns arrays;
- `verify`     compares those arrays with rnncore computed in the trusted parent: the verified score;
- `integrity`  flags suspicious code in the answer cells (never zeroes a grade by itself);
- `feedback`   an nbgrader feedback preprocessor that leaks no hidden-test source;
- `autograde`  runs nbgrader one submission per isolated worker, merging grades into the gradebook serially;
- `cli`        the `rnn-grade` command that runs the whole cycle and exports one CSV per assignment.

Nothing here is imported by `import rnncore`: students never need it.
"""
