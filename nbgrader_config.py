"""nbgrader configuration for the course (nbgrader 0.9). Run nbgrader from this folder.

solutions/ is the instructors' source (solutions + hidden tests); exercises/ is the student release,
made from it by `make release` (nbgrader generate_assignment) and never edited by hand.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader)
_root = Path(__file__).resolve().parent

c.CourseDirectory.root = str(_root)
c.CourseDirectory.course_id = "rnn-from-the-ground-up"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = f"sqlite:///{_root / 'gradebook.db'}"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.md"]

# What students see where a solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Plain `nbgrader autograde`: a run-away cell is interrupted after this many seconds and the batch goes on.
# `rnn-grade` sets its own (--cell-timeout, by default its --timeout budget) and ends a notebook's run at the
# first cell that runs out of time (the instructor guide, "An answer that never returns costs one budget").
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Deleted or metadata-stripped test cells are put back and graded, instead of "needs manual grading"
# forever; a duplicated test cell then fails only that student, not the whole batch.
c.OverwriteCells.add_missing_cells = True

# nbgrader gives 0 to a test cell that printed anything on stderr. A benign library warning must
# never cost an honest student a point: drop stderr outputs that are only warnings.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(UserWarning|DeprecationWarning|FutureWarning|RuntimeWarning|NNPACK)"

c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 30

# Feedback shows scores and the student's own code, never the hidden tests: ScrubFeedback (before
# ClearHiddenTests, which removes the hidden source) turns every error into one "ename: evalue" line without a
# traceback, drops what hidden-test cells printed, and withholds any output that quotes a hidden line.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "rnngrade.export.feedback.FinalGrade",
    "rnngrade.export.feedback.ScrubFeedback",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
