"""Export: the verified grades, the final grade's CSVs and the feedback students see.

- `ledger`    the verified grades, uploads and overrides (sqlite next to the gradebook, or its PostgreSQL database),
              the flags, and the CSVs: the detailed one per assignment and the Canvas and Moodle gradebook imports
              (`rnn-grade ASSIGNMENT` writes them in `grades/`; `rnn-grade --override` sets a final grade);
- `feedback`  ScrubFeedback, the nbgrader feedback preprocessor that leaks no hidden-test source
              (registered in nbgrader_config.py; `nbgrader generate_feedback` and `rnn-grade` run it).
"""
