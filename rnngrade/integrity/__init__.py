"""Integrity: what the instructor should look at; flags are shown beside a grade and never change it.

- `scan`        suspicious code in the answer cells (patching the checks, reading files, introspection);
- `similarity`  copy detection: each answer against rnncore's reference, the tasks' and every classmate's, with
                a side-by-side report (`grades/<assignment>-copies.html`, written by `rnn-grade ASSIGNMENT`).
"""
