"""The book's two editions from one source: the course edition prints no graded answer, the solutions edition does.

`RNN_EDITION` (the environment of the build) chooses the edition: `course` (the default, what `make book` builds and
a course publishes) or `solutions` (what `make solutions` builds, for instructors). Two directives differ between
them, and they decide at parse time, so the course edition's doctrees, search index and pages never hold the answer:

- ``{graded-function} ../rnncore/rnn.py`` with ``:pyobject: rnn_forward``: in the solutions edition, rnncore's
  code, exactly as ``{literalinclude}`` prints it; in the course edition, the function's contract only (its
  signature and docstring) and a pointer to the assignment whose task it is (``:part-of: rnn_tbptt`` for a helper
  that is not graded itself but whose body would give that graded function away).
- ``{solutions}``: its content (worked answers to a chapter's exercises) appears in the solutions edition only.
"""

import ast
import os
import re
import textwrap
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.addnodes import pending_xref
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import SphinxDirective

EDITIONS = ("course", "solutions")
WIDTH = 100  # characters: a longer line of a contract overflows the page's code box
EQUATIONS = re.compile(r",? eqs?\. \(([\w-]+(?:, [\w-]+)*)\)")  # "eq. (rnn-step)" in a docstring's Book: line


def edition():
    """The edition this build makes, from RNN_EDITION; raise ValueError naming the variable for any other value."""
    value = os.environ.get("RNN_EDITION", "course")
    if value not in EDITIONS:
        raise ValueError(f"RNN_EDITION must be one of {', '.join(EDITIONS)}; got {value!r}")
    return value


def wrap(line, width=WIDTH):
    """`line` as it fits in `width` characters: words carried to further lines, indented four more."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(line.strip(), width, initial_indent=indent, subsequent_indent=indent + "    ",
                         break_long_words=False, break_on_hyphens=False)


FIELD = re.compile(r"^\s*(\w[\w, ]*\s:\s|Math:|-+$|Book:|def |class |\"\"\")")  # lines not to run together


def reflow(lines, width=WIDTH):
    """Docstring lines fitted to `width`: a run of prose lines with one indent is refilled as a paragraph (when one of
    them is too long), any other long line is wrapped on its own."""
    out, run = [], []

    def flush():
        if run and any(len(line) > width for line in run):
            indent = run[0][: len(run[0]) - len(run[0].lstrip())]
            out.extend(textwrap.wrap(" ".join(line.strip() for line in run), width, initial_indent=indent,
                                     subsequent_indent=indent, break_long_words=False, break_on_hyphens=False))
        else:
            out.extend(run)
        run.clear()

    for line in lines:
        indent = len(line) - len(line.lstrip())
        if line.strip() and not FIELD.match(line) and (not run or indent == len(run[0]) - len(run[0].lstrip())):
            run.append(line)
            continue
        flush()
        if line.strip() and not FIELD.match(line):
            run.append(line)
        else:
            out.extend(wrap(line, width))
    flush()
    return out


def readable(text):
    """A contract's text as a reader sees it: equation labels taken out of the docstring (the page links them
    below instead, each once), every line fitted to WIDTH; returns (text, the labels in order)."""
    labels = list(dict.fromkeys(label for group in EQUATIONS.findall(text) for label in group.split(", ")))
    text = EQUATIONS.sub("", text)
    return "\n".join(reflow(text.split("\n"))), labels


def contract(source, name):
    """The lines of function `name` in `source` up to the end of its docstring, then `...`: its contract."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            break
    else:
        raise ValueError(f"no function or class named {name!r}")
    body = node.body[0]
    if not (isinstance(body, ast.Expr) and isinstance(body.value, ast.Constant) and isinstance(body.value.value, str)):
        raise ValueError(f"{name!r} has no docstring: the course edition would show no contract")
    lines = source.splitlines()
    shown = lines[node.lineno - 1 : body.end_lineno]  # no decorators: they are the instructor's tooling
    indent = len(shown[0]) - len(shown[0].lstrip())
    shown = [line[indent:] for line in shown]
    return "\n".join(shown) + "\n    ...\n"


class GradedFunction(SphinxDirective):
    """A graded function's code (solutions edition) or its contract and a pointer to its assignment (course)."""

    required_arguments = 1
    option_spec = {"pyobject": directives.unchanged_required, "assignment": directives.unchanged_required,
                   "part-of": directives.unchanged_required}

    def run(self):
        name = self.options.get("pyobject")
        if not name:
            raise self.error("graded-function needs :pyobject: (the function whose code or contract to show)")
        if edition() == "solutions":
            include = LiteralInclude(self.name, self.arguments, {"pyobject": name, "language": "python"},
                                     self.content, self.lineno, self.content_offset, self.block_text, self.state,
                                     self.state_machine)
            return include.run()
        rel, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        self.env.note_dependency(rel)
        try:
            text = contract(Path(path).read_text(encoding="utf-8"), name)
        except (OSError, ValueError, SyntaxError) as err:
            raise self.error(f"graded-function {self.arguments[0]} :pyobject: {name}: {err}") from None
        text, labels = readable(text)
        block = nodes.literal_block(text, text, language="python")
        self.set_source_info(block)
        note = nodes.paragraph()
        where = self.options.get("assignment", "this chapter's graded assignment")
        if "part-of" in self.options:  # not graded itself, but its body would give a graded answer away
            text = (f"The body of {name} is not printed in this edition: it would give away most of "
                    f"{self.options['part-of']}, graded in {where}.")
        else:
            text = (f"The body of {name} is yours to write: it is graded in {where}. "
                    "The contract above is what the graders call.")
        note += nodes.emphasis(text=text)
        if labels:  # the equations the docstring cites, as numbered links instead of raw labels
            note += nodes.emphasis(text=" Its equation" + ("s: " if len(labels) > 1 else ": "))
            for i, label in enumerate(labels):
                if i:
                    note += nodes.emphasis(text=", ")
                ref = pending_xref("", refdomain="math", reftype="eq", reftarget=label, refdoc=self.env.docname,
                                   refexplicit=False, refwarn=True)
                ref += nodes.literal(label, label)
                note += ref
            note += nodes.emphasis(text=".")
        return [block, note]


class Solutions(SphinxDirective):
    """Content for the solutions edition only (for example worked answers); nothing at all in the course edition."""

    has_content = True

    def run(self):
        if edition() != "solutions":
            return []
        container = nodes.container(classes=["rnn-solutions"])
        self.state.nested_parse(self.content, self.content_offset, container)
        return [container]


def _configure(app, config):
    chosen = edition()
    if chosen == "solutions":
        app.tags.add("solutions")
        config.html_title = f"{config.html_title} — solutions edition"
        # Same chapters, same code cells: reuse the course edition's executed notebooks instead of running them again.
        config.nb_execution_cache_path = str(Path(app.srcdir) / "_build" / ".jupyter_cache")


def setup(app):
    edition()  # a wrong RNN_EDITION fails the build at once
    app.add_directive("graded-function", GradedFunction)
    app.add_directive("solutions", Solutions)
    app.connect("config-inited", _configure)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
