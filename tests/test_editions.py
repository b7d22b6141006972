"""Two editions from one source: the course edition prints no graded answer, the solutions edition prints them all.

A graded function is one with a solution cell in solutions/. Its *answer lines* are the substantive lines of its
code: the body of rnncore's reference and of the solution cell, without the docstring, comments, input checks and
lines too short to tell anything (`return hs`). The course edition (every file a reader can get from it: the pages,
the sources and executed notebooks offered for download, the single page and the PDF) may share a few such lines
with an answer (a pitfall quoted in the prose, a mistake shown by the checks); it must not hold an implementation.
The solutions edition holds every line of every reference.
"""

import ast
import html
import json
import re

import build_book
import nbformat
import pytest
from conftest import ROOT

# An edition "prints" a function when it holds more than this share of its answer lines.
MAX_SHARED = 0.34
SHORT = 14  # characters: shorter lines (`dh = dh0`, `return out`) say nothing about who wrote them
CHECKS = re.compile(r"\b(check_\w+|as_float_array|_check\w*|raise|isinstance|ValueError|TypeError)\b|^func = ")


def normal(line):
    """A code line without its comment and with its spaces collapsed."""
    line = re.sub(r"\s+#.*$", "", line.strip()) if not line.strip().startswith("#") else ""
    return re.sub(r"\s+", " ", line).strip()


def answer_lines(source, name):
    """The substantive lines of function `name` in `source`, in order."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)  # top level, not a method
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    lines = source.splitlines()[body[0].lineno - 1 : node.end_lineno]
    kept = []
    for line in map(normal, lines):
        if len(line) >= SHORT and not CHECKS.search(line) and line not in kept:
            kept.append(line)
    return kept


def graded_functions():
    """{function name: [answer lines of the solution cell]} for every graded function of every assignment."""
    found = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                code = re.sub(r"### (BEGIN|END) SOLUTION", "", cell.source)
                for node in ast.parse(code).body:
                    if isinstance(node, ast.FunctionDef):
                        found[node.name] = answer_lines(code, node.name)
    return found


def reference_lines():
    """{function name: answer lines of its reference (rnncore's, or an instructor task's)} for the graded functions."""
    from rnncore.instructor import cases

    graded, found = graded_functions(), {}
    for path in cases.reference_modules():  # rnncore's modules, then the instructor's tasks
        source = path.read_text()
        for node in ast.parse(source).body:  # top-level functions: Vocab.encode is not realdata.encode
            if isinstance(node, ast.FunctionDef) and node.name in graded and node.name not in found:
                found[node.name] = answer_lines(source, node.name)
    return found


GRADED = graded_functions()
REFERENCES = reference_lines()


def text_lines(path):
    """The normalised lines a reader sees in one built file (HTML without tags, a notebook's sources and outputs)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    elif path.suffix == ".ipynb":
        nb = json.loads(raw)
        parts = []
        for cell in nb.get("cells", []):
            parts.append("".join(cell.get("source", [])))
            for out in cell.get("outputs", []):
                parts.append("".join(out.get("text", [])) + "".join(out.get("data", {}).get("text/plain", [])))
        raw = "\n".join(parts)
    return {normal(line) for line in raw.splitlines()}


def edition_lines(folder):
    """Every normalised line of every text file a reader can get from a built edition."""
    lines = set()
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".md", ".ipynb", ".txt", ".py"}:
            lines |= text_lines(path)
    return lines


def shared(answer, lines):
    return [line for line in answer if line in lines]


def leaks(lines):
    """{function: (shared, total)} for every answer (reference or solution cell) printed beyond MAX_SHARED."""
    found = {}
    for label, answers in (("reference", REFERENCES), ("solution cell", GRADED)):
        for name, answer in answers.items():
            common = shared(answer, lines)
            if answer and len(common) / len(answer) > MAX_SHARED:
                found[f"{name} ({label})"] = f"{len(common)}/{len(answer)} lines: {common[:4]}"
    return found


@pytest.fixture(scope="module")
def solutions_book():
    assert build_book.build("solutions") == 0, "the solutions edition failed to build (warnings are errors)"
    return build_book.edition_html("solutions")


def test_every_graded_function_has_a_reference_and_answer_lines():
    assert len(GRADED) >= 30, sorted(GRADED)
    assert set(REFERENCES) == set(GRADED), f"no rnncore reference for {sorted(set(GRADED) - set(REFERENCES))}"
    assert all(len(lines) >= 1 for lines in REFERENCES.values()), REFERENCES


def test_course_edition_prints_no_graded_answer(built_book):
    found = leaks(edition_lines(built_book))
    assert not found, "the course edition prints graded answers:\n" + "\n".join(f"{k}: {v}" for k, v in found.items())


def test_course_editions_single_page_and_pdf_print_no_graded_answer(course_pdf):
    page, pdf = course_pdf
    found = leaks(text_lines(page))
    assert not found, "the single-page book prints graded answers:\n" + "\n".join(f"{k}: {v}" for k, v in found.items())
    from pypdf import PdfReader

    text = "\n".join(p.extract_text() or "" for p in PdfReader(pdf).pages)
    found = leaks({normal(line) for line in text.splitlines()})
    assert not found, "the PDF prints graded answers:\n" + "\n".join(f"{k}: {v}" for k, v in found.items())


def test_solutions_edition_prints_every_reference(solutions_book):
    lines = edition_lines(solutions_book)
    missing = {name: [line for line in answer if line not in lines] for name, answer in REFERENCES.items()}
    missing = {name: lines_ for name, lines_ in missing.items() if lines_}
    assert not missing, f"the solutions edition lacks reference code: {missing}"


def test_the_leak_check_sees_a_printed_answer(built_book, solutions_book):
    """The checks above can fail: the solutions edition, read as if it were the course edition, leaks everything."""
    found = leaks(edition_lines(solutions_book))
    assert len([k for k in found if k.endswith("(reference)")]) == len(REFERENCES)


def _solution_cells():
    """(chapter, code) of every cell tagged `solutions` (the code behind the worked answers)."""
    import jupytext

    for path in sorted((ROOT / "book").glob("ch*.md")):
        for cell in jupytext.read(path).cells:
            if cell.cell_type == "code" and "solutions" in cell.metadata.get("tags", []):
                yield path.stem, cell.source


def test_course_edition_holds_no_worked_answer_code(built_book):
    """The cells that compute the worked answers are in no page or download of the course edition."""
    cells = list(_solution_cells())
    assert len(cells) >= 8, "every chapter's worked answers are computed in cells tagged `solutions`"
    lines = edition_lines(built_book)
    for chapter, code in cells:
        own = [normal(line) for line in code.splitlines() if len(normal(line)) >= 30]
        found = [line for line in own if line in lines]
        assert len(found) <= 0.1 * len(own), f"{chapter}: the course edition holds its answer code: {found[:3]}"
