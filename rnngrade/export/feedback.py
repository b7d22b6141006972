"""An nbgrader feedback preprocessor that leaks no hidden-test source, not even through tracebacks.

nbgrader's ClearHiddenTests removes the hidden region from the *input* of a test cell, but the feedback still
shows the cell's outputs: IPython tracebacks quote the hidden lines around the failure, and a student's own code
can print them (from `In`/`_ih`, `inspect`, or a crafted exception message). `ScrubFeedback` runs before
ClearHiddenTests, collects the hidden lines of every test cell, and then:

- replaces every error output by one line "ename: evalue" (first line only) and no traceback;
- drops every other output (prints, displays) of a test cell that had hidden tests;
- withholds any remaining output, in any cell, that quotes a hidden line.

`FinalGrade` puts an instructor's override (`rnn-grade --override`) in the page's headline score and in a note at the
top of the page (the score, out of how many points, and the reason, which the student reads), so that the page says
the grade the export carries.

Register them in nbgrader_config.py (this course does):

    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "rnngrade.export.feedback.FinalGrade",
        "rnngrade.export.feedback.ScrubFeedback",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
"""

import re

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_markdown_cell, new_output
from traitlets import Bool, Integer, Unicode

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n?(.*?)### END HIDDEN TESTS", re.S)


def hidden_lines(nb, min_length=10):
    """The stripped lines found only inside hidden-test regions (not elsewhere in the notebook), at least
    `min_length` long, comments excluded."""
    lines, public = set(), set()
    for cell in nb.cells:
        source = cell.get("source", "")
        public.update(line.strip() for line in HIDDEN.sub("", source).splitlines())
        for block in HIDDEN.findall(source):
            for line in block.splitlines():
                s = line.strip()
                if len(s) >= min_length and not s.startswith("#"):
                    lines.add(s)
    return lines - public


class ScrubFeedback(Preprocessor):
    """Make feedback safe: one-line errors, no outputs of hidden-test cells, nothing that quotes a hidden line."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled (its default is False)").tag(
        config=True)
    min_length = Integer(10, help="Hidden lines shorter than this are not searched for in outputs.").tag(config=True)
    withheld = Unicode("[output withheld: it quoted a hidden test]",
                       help="What replaces an output that quoted a hidden line.").tag(config=True)

    def preprocess(self, nb, resources):
        secrets = hidden_lines(nb, self.min_length)
        squeezed = {re.sub(r"\s+", "", s) for s in secrets}

        def leaks(text):
            if not text:
                return False
            flat = re.sub(r"\s+", "", text)
            return any(s in text for s in secrets) or any(s in flat for s in squeezed)

        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            hidden_cell = bool(meta.get("grade")) and "BEGIN HIDDEN TESTS" in cell.source
            kept = []
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    evalue = (str(out.get("evalue", "")).splitlines() or [""])[0]
                    ename = str(out.get("ename", "Error"))
                    if leaks(evalue) or leaks(ename):
                        evalue = self.withheld
                    kept.append(new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
                elif hidden_cell:
                    continue
                else:
                    kept.append(self._scrub(out, leaks))
            cell.outputs = kept
        return nb, resources

    def _scrub(self, out, leaks):
        if out.output_type == "stream":
            if leaks(out.get("text", "")):
                out.text = self.withheld + "\n"
            return out
        data = out.get("data", {})
        if any(leaks(v if isinstance(v, str) else "".join(v) if isinstance(v, list) else "")
               for v in data.values()):
            out.data = {"text/plain": self.withheld}
        return out


class FinalGrade(Preprocessor):
    """Put the instructor's override of this student's grade, if one is in force, at the top of the feedback page."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled (its default is False)").tag(
        config=True)
    ledger = Unicode("", help="Where the verified grades are (a PostgreSQL URL or the verified.db file); default: "
                              "the gradebook's database when it is PostgreSQL, else verified.db beside the gradebook "
                              "file.").tag(config=True)

    def where(self, db_url):
        from .ledger import location

        return self.ledger or str(location(db_url))

    def preprocess(self, nb, resources):
        from .ledger import overrides

        info = resources.get("nbgrader", {})
        student, assignment = info.get("student"), info.get("assignment")
        if not student or not assignment or not info.get("db_url"):
            return nb, resources
        history = overrides(self.where(info["db_url"]), assignment).get(student, [])
        if not history or history[-1]["score"] is None:
            return nb, resources
        last = history[-1]
        points = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade"))
        note = (f"**Your instructor set your grade for this assignment to {last['score']:g} of {points:g} points** "
                f"({str(last['at'])[:10]}). Reason: {last['reason']}\n\nThe scores below are what the autograder "
                "found; the grade above replaces their total.")
        nb.cells.insert(0, new_markdown_cell(note, metadata={"rnngrade": "final-grade"}))
        # the page's headline (nbgrader's "Score: x / max") says the grade the export carries; no penalty under it
        resources["nbgrader"]["score"], resources["nbgrader"]["late_penalty"] = float(last["score"]), 0.0
        return nb, resources
