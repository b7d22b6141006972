"""An nbgrader feedback preprocessor that leaks no hidden-test source, not even through tracebacks.

nbgrader's ClearHiddenTests removes the hidden region from the *input* of a test cell, but the feedback still
shows the cell's outputs: IPython tracebacks quote the hidden lines around the failure, and a student's own code
can print them (from `In`/`_ih`, `inspect`, or a crafted exception message). `ScrubFeedback` runs before
ClearHiddenTests, collects the hidden lines of every test cell, and then:

- replaces every error output by one line "ename: evalue" (first line only) and no traceback;
- drops every other output (prints, displays) of a test cell that had hidden tests;
- withholds any remaining output, in any cell, that quotes a hidden line.

Register it in nbgrader_config.py (this course does):

    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "rnngrade.export.feedback.ScrubFeedback",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
"""

import re

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
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
