"""Grade: nbgrader's autograde in isolated workers, and the verified grade computed outside the student's kernel.

- `autograde`, `worker`  nbgrader autograde and feedback, one submission per isolated worker (a fork server);
- `isolate`              Linux namespaces for workers and sandboxes: no network, read-only disk, secrets hidden;
- `sandbox`, `_child`, `_wire`, `stubs`  a student's answer cells run in a resource-limited subprocess that sees a
                         stand-in rnncore (the assignment's graded functions raise) and sends back only arrays;
- `verify`, `visible`    those arrays compared with the reference in the trusted parent, by the rule of the
                         notebook's test cells (visible checks replayed): the verified score.

`rnn-grade ASSIGNMENT` runs this stage for every submission in `submitted/` (`--no-autograde` verifies only).
"""
