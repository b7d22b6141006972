"""Collect: bring every upload into nbgrader's `submitted/`, accounting for each file, and the late policy.

- `submissions`  LMS bulk downloads (Canvas, Moodle, a regular expression), exchange folders and the roster, with
                 a report of every file's fate (`rnn-grade ASSIGNMENT --submissions ZIP --lms canvas --roster CSV`);
- `policy`       due dates, extensions and the late rule of `grades/policy.toml` (`rnn-grade --policy FILE`).
"""
