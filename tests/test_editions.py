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


def _answer_cells():
    """(graded function, its solution cell with the markers removed) for every function of every source notebook."""
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                code = re.sub(r"### (BEGIN|END) SOLUTION", "", cell.source)
                for node in ast.parse(code).body:
                    if isinstance(node, ast.FunctionDef):
                        yield node.name, code


def graded_functions():
    """{function name: [answer lines of the solution cell]} for every graded function of every assignment."""
    return {name: answer_lines(code, name) for name, code in _answer_cells()}


def reference_lines():
    """{function name: answer lines of its reference (rnncore's, or an instructor task's)} for the graded functions."""
    from rnngrade.assign import cases

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


def _chapter_code_cells():
    """(chapter, code, tagged `solutions`) of every code cell of the chapters (the tagged ones compute the worked
    answers and are shown in the solutions edition only)."""
    import jupytext

    for path in sorted((ROOT / "book").glob("ch*.md")):
        for cell in jupytext.read(path).cells:
            if cell.cell_type == "code":
                yield path.stem, cell.source, "solutions" in cell.metadata.get("tags", [])


def _solution_cells():
    """(chapter, code) of every cell tagged `solutions`."""
    return [(chapter, code) for chapter, code, solution in _chapter_code_cells() if solution]


def _shown_cell_lines():
    """The normalised lines of every code cell of the chapters that is not tagged `solutions`."""
    return {normal(line) for _, code, solution in _chapter_code_cells() if not solution for line in code.splitlines()}


def test_course_edition_holds_no_worked_answer_code(built_book):
    """The cells that compute the worked answers are in no page or download of the course edition."""
    cells = list(_solution_cells())
    assert len(cells) >= 8, "every chapter's worked answers are computed in cells tagged `solutions`"
    lines = edition_lines(built_book)
    shown = _shown_cell_lines()  # set-up lines that a visible cell has too (`x = rng.normal(...)`) are no answer
    for chapter, code in cells:
        own = [normal(line) for line in code.splitlines() if len(normal(line)) >= 30 and normal(line) not in shown]
        found = [line for line in own if line in lines]
        assert len(found) <= 0.1 * len(own), f"{chapter}: the course edition holds its answer code: {found[:3]}"


# ------------------------------------------------------------------------------------------------------------------
# The structural check: every code block the course edition shows, against every graded answer, with the copy check's
# own measure. A line comparison sees only printed reference lines; a teaching cell that writes a graded function in
# other words shares none of them. Here each block (a code cell or literalinclude of a page, a code cell of a
# downloadable notebook or MyST source) is reduced like a student's answer (similarity.core_of / answer_core: checks,
# docstrings and names normalised away) and fingerprinted with copydetect, then compared with rnncore's reference and
# the source notebook's solution cell of every graded function that the copy check does not exempt. A block is a leak
# when the copy check would flag it as a copy of that function (score >= similarity.THRESHOLD).

_CODE_HTML = re.compile(r'<div class="highlight-(?:ipython3|ipython|python3?|py|default)\b[^"]*">\s*'
                        r'<div class="highlight"><pre>(.*?)</pre>', re.S)


def _solution_cell_code():
    """{graded function: the source notebook's answer cell, markers removed}."""
    return dict(_answer_cells())


_ANSWER_PRINTS = None


def answer_prints():
    """[(function, 'reference' or 'solution cell', copydetect fingerprint)] of every graded answer the copy check
    compares (functions whose reference core is too short to fingerprint are exempt there, and here)."""
    global _ANSWER_PRINTS
    if _ANSWER_PRINTS is None:
        from rnngrade.integrity import similarity

        _ANSWER_PRINTS = []
        for name, code in sorted(_solution_cell_code().items()):
            if similarity.exempt(name):
                continue
            _ANSWER_PRINTS.append((name, "reference", similarity.fingerprint(similarity.reference_core(name), name)))
            core = similarity.answer_core(code, name)
            _ANSWER_PRINTS.append((name, "solution cell", similarity.fingerprint(core, name)))
    return _ANSWER_PRINTS


def block_cores(code):
    """The Cores under which one shown code block is compared: the whole block, and each function it defines
    (its body, as the copy check reduces a student's answer). Blocks that are not Python give none."""
    from rnngrade import notebook
    from rnngrade.integrity import similarity

    def parse():
        try:
            return ast.parse(code)
        except SyntaxError:  # IPython magics, or not Python at all
            return notebook.parse_python(notebook.to_python(code))

    try:
        tree = parse()
    except (SyntaxError, ValueError):
        return []
    kept = similarity._kept_names(tree)
    cores = [similarity.core_of(tree, kept)]
    if len(cores[0].symbols) < similarity.MIN_TOKENS:
        return cores  # its functions are shorter still
    functions = [node for node in ast.walk(parse()) if isinstance(node, ast.FunctionDef)]
    cores += [similarity.core_of(ast.Module(node.body, []), kept) for node in functions]
    return cores


def shown_blocks(folder):
    """{code: where} of every code block a reader gets from a built edition: the pages' code cells and
    literalincludes (HTML), the code cells of the downloadable notebooks and MyST sources."""
    import jupytext

    blocks = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "_static" in path.parts:
            continue
        if path.suffix == ".html":
            codes = [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in _CODE_HTML.findall(path.read_text("utf-8"))]
        elif path.suffix == ".ipynb":
            nb = json.loads(path.read_text("utf-8"))
            codes = ["".join(c.get("source", [])) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
        elif path.suffix == ".md" and "_sources" in path.parts:
            codes = [c.source for c in jupytext.read(path, fmt="md:myst").cells if c.cell_type == "code"]
        else:
            continue
        for code in codes:  # the same cell from a page, a notebook and a source is compared once
            key = "\n".join(line.rstrip() for line in code.strip().splitlines())
            blocks.setdefault(key, f"{path.relative_to(folder)}")
    return blocks


def _bound(a, b):
    """An upper bound of similarity.compare(a, b): a matched token lies in one of the K-token runs that start at a
    fingerprint the two documents share, so neither share can exceed K times those starts over its length."""
    from rnngrade.integrity import similarity

    common = a.hashes & b.hashes
    if not common:
        return 0.0
    shares = [similarity.K * sum(len(d.hash_idx[h]) for h in common) / max(len(d.filtered_code), 1) for d in (a, b)]
    return min(max(shares), 1.0)


def block_leaks(blocks, threshold=None):
    """[(where, the block's first line, function, 'reference' or 'solution cell', score)] for every shown block that
    the copy check would flag as a copy of a graded answer."""
    from rnngrade.integrity import similarity

    threshold = similarity.THRESHOLD if threshold is None else threshold
    found = []
    for code, where in blocks.items():
        first = next((line.strip() for line in code.splitlines() if line.strip()), "")
        for core in block_cores(code):
            if len(core.symbols) < similarity.MIN_TOKENS:  # too short to tell, as for an exempt reference
                continue
            shown = similarity.fingerprint(core, where)
            for name, kind, answer in answer_prints():
                if _bound(shown, answer) < threshold:  # cannot reach the threshold: skip copydetect's comparison
                    continue
                score, _, _ = similarity.compare(shown, answer)
                if score >= threshold:
                    found.append((where, first, name, kind, round(score, 2)))
    return sorted(set(found))


_BLOCKS = {}


def edition_blocks(folder):
    """shown_blocks of a built edition, read once per session."""
    if folder not in _BLOCKS:
        _BLOCKS[folder] = shown_blocks(folder)
    return _BLOCKS[folder]


def _report(found):
    return "\n".join(f"{where}: `{first[:60]}` is a copy of {name} ({kind}, {score:.0%} matched)"
                     for where, first, name, kind, score in found)


def test_course_edition_shows_no_code_that_the_copy_check_would_flag(built_book):
    blocks = edition_blocks(built_book)
    assert len(blocks) >= 200, f"only {len(blocks)} code blocks found in the course edition: is the HTML parsed?"
    found = block_leaks(blocks)
    assert not found, "the course edition shows code that is a graded answer in other words:\n" + _report(found)


def test_the_structural_check_flags_the_solutions_edition(solutions_book):
    """The check above can fail: read as if it were the course edition, the solutions edition shows every graded
    answer the copy check can see (each non-exempt reference, printed by its {graded-function})."""
    from rnngrade.assign import cases

    flagged = {name for _, _, name, kind, _ in block_leaks(edition_blocks(solutions_book)) if kind == "reference"}
    # rnncore's own references; the instructor tasks' are left out here (their pages were not seen to print them as
    # code blocks of the solutions edition: to be looked into)
    tasks = {path.stem for path in cases.reference_modules() if "tasks" in path.parts}
    expected = {name for name, kind, _ in answer_prints()
                if kind == "reference" and cases._definitions()[name][0] not in tasks}
    assert expected <= flagged, f"not flagged: {sorted(expected - flagged)}"


def test_the_structural_check_flags_an_answer_rewritten_and_not_a_call():
    """Fast, without a build: rnncore's rnn_forward as a teaching cell might show it (names changed, docstring and
    input checks gone, statements reformatted) is flagged as rnn_forward; a cell that calls rnncore is not."""
    from rnngrade.integrity import similarity

    source = similarity.reference_source("rnn_forward")
    renamed = source.replace("rnn_forward", "forward_hoisted")
    for old, new in (("hs", "states"), ("ax", "proj"), ("h0", "h_init"), ("x", "inputs")):
        renamed = re.sub(rf"\b{old}\b", new, renamed)
    calls = ("hs, cache = rnncore.rnn_forward(x, h0, **p)\n"
             "print(np.abs(hs - out.numpy()).max(), hs.shape, cache.x.shape)\n")
    found = block_leaks({renamed: "renamed", calls: "calls rnncore"})
    assert {where for where, *_ in found} == {"renamed"}, _report(found)
    assert "rnn_forward" in {name for _, _, name, _, _ in found}, _report(found)
