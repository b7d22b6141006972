"""The whole book builds with every chapter executed and warnings as errors, and the pages are complete."""

import re
from pathlib import Path

import pytest
from conftest import ROOT, chapter_files, toc_files


def test_every_toc_page_is_built(built_book):
    for f in toc_files():
        assert (built_book / f"{f}.html").exists(), f"{f}.html missing"
    assert (built_book / "index.html").exists()


def test_every_page_with_code_runs_before_sphinx_reads_it(built_book):
    """build_book executes the pages on all cores first; a page it misses (a chapter's section) runs alone later.

    Chapter 8's sections were missed once: they ran one after the other while Sphinx read the book, about a minute.
    """
    import json

    from build_book import LONGEST_FIRST, load_times

    with_code = {f"{Path(f).name}.md" for f in toc_files() if "{code-cell}" in (ROOT / f"{f}.md").read_text()}
    missed = with_code - set(load_times(ROOT))
    failures = ROOT / "_build" / ".execution-failures.json"
    why = json.loads(failures.read_text()) if failures.exists() else {}
    assert not missed, (f"executed by myst-nb one at a time, not by build_book's processes: {sorted(missed)}; "
                        f"their errors in the parallel run: {why}")
    assert set(LONGEST_FIRST) <= with_code, f"LONGEST_FIRST names no page: {set(LONGEST_FIRST) - with_code}"


@pytest.mark.parametrize("chapter", chapter_files())
def test_chapter_has_maths_figures_code_and_misconceptions(built_book, chapter):
    """Every chapter page and section page; the misconceptions box is asked of each chapter's own page."""
    html = (built_book / f"{chapter}.html").read_text()
    assert 'class="math' in html, "no typeset maths"
    assert len(re.findall(r'<img[^>]+src="\.\./_images/[^"]+\.(?:svg|png)"', html)) >= 2, "fewer than two figures"
    assert "cell_output" in html, "no executed code output"
    if chapter in chapter_files(sections=False):
        assert "Common misconceptions" in html
    assert "Traceback (most recent call last)" not in html, "a cell raised"


def test_pages_load_nothing_from_the_internet(built_book):
    for f in toc_files():
        html = (built_book / f"{f}.html").read_text()
        for tag in re.findall(r"<(?:script|link|img)[^>]+>", html):
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), f"{f}: external resource {tag}"
        if 'class="math' in html:
            assert "mathjax/tex-chtml.js" in html, f"{f}: not using the local MathJax"
    assert (built_book / "mathjax" / "tex-chtml.js").exists()


def test_graded_notebooks_are_downloadable_from_the_book(built_book):
    downloads = list((built_book / "_downloads").rglob("*.ipynb"))
    names = {p.name for p in downloads}
    for folder in (ROOT / "exercises").iterdir():
        assert f"{folder.name}.ipynb" in names, f"no chapter links to exercises/{folder.name}"


def _function_bodies(source):
    """{name: normalised AST dump} of every function in `source`, docstrings dropped."""
    import ast

    bodies = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics in a cell
        return bodies
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            bodies[node.name] = ast.dump(ast.Module(body=body, type_ignores=[]))
    return bodies


def test_chapters_show_rnncore_code_instead_of_pasting_it():
    """A chapter may build a teaching version and compare it with rnncore, but never paste rnncore's own code."""
    package = {}
    for path in (ROOT / "rnncore").rglob("*.py"):
        package.update({body: f"{path.name}:{name}" for name, body in _function_bodies(path.read_text()).items()
                        if len(body) > 200})
    for f in toc_files():
        text = (ROOT / f"{f}.md").read_text()
        for cell in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S):
            cell = "\n".join(line for line in cell.splitlines() if not line.startswith(":"))
            for body in _function_bodies(cell).values():
                assert body not in package, f"{f}.md pastes rnncore's {package[body]}: use literalinclude"


def test_docstring_book_sections_exist():
    """Every `Book: chapter N, section "X"` line in rnncore points to a real heading, once chapter N exists."""
    chapters = {}  # chapter number -> the headings of its page and of its section pages
    for f in chapter_files():
        text = (ROOT / f"{f}.md").read_text()
        chapters.setdefault(int(re.search(r"ch(\d\d)_", f).group(1)), []).extend(
            re.findall(r"^#+\s+(.*)$", text, flags=re.M))
    for path in (ROOT / "rnncore").glob("*.py"):
        for num, section in re.findall(r'Book: chapter (\d+), section "([^"]+)"', path.read_text()):
            if int(num) in chapters:
                assert section in chapters[int(num)], f"{path.name}: chapter {num} has no section {section!r}"


RAW_EQUATION_LABEL = re.compile(r"\beqs?\. \(([\w-]+)\)")  # "eq. (rnn-step)": a label, not what a reader sees


def test_printed_code_names_equations_in_words():
    """The code pages print (rnncore's docstrings, the chapters' code cells) names an equation as the book's prose
    does ("the Elman step"), never by its raw MyST label, which a page shows verbatim."""
    code = [*(ROOT / "rnncore").glob("*.py"), *(ROOT / "rnngrade" / "assign" / "tasks").glob("*.py")]  # and the tasks
    sources = {path.relative_to(ROOT): path.read_text() for path in code}
    for f in toc_files():
        text = (ROOT / f"{f}.md").read_text()
        sources[f"{f}.md"] = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S))
    for where, text in sources.items():
        assert not RAW_EQUATION_LABEL.search(text), f"{where}: {RAW_EQUATION_LABEL.search(text).group(0)}"


def test_sources_hold_no_outputs():
    assert not list((ROOT / "book").glob("*.ipynb")), "chapters are MyST markdown, not .ipynb"


@pytest.mark.parametrize("chapter", chapter_files())
def test_chapter_downloadable_as_executed_notebook(built_book, chapter):
    import nbformat

    html = (built_book / f"{chapter}.html").read_text()
    name = Path(chapter).name
    assert f'_sources/book/{name}.ipynb"' in html, "no .ipynb in the download menu"
    nb = nbformat.read(built_book / "_sources" / "book" / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "the notebook holds no outputs"


def test_launch_buttons_configured_in_one_place():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"].startswith("https://github.com/")
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] and "jupyterhub_url" in buttons
    assert not buttons.get("colab_url"), "Colab opens only notebooks committed to GitHub; the chapters are .md"


def test_whole_book_exports_as_one_page_and_a_pdf(course_pdf):
    """`make pdf`: the singlehtml build (from the execution cache) and Chromium's print give a typeset PDF."""
    page, pdf = course_pdf
    html = page.read_text(encoding="utf-8")
    for chapter in chapter_files():
        anchor = chapter.rpartition("/")[2]
        assert f'id="{anchor.replace("_", "-")}' in html or anchor in html, f"{chapter} missing from the single page"
    data = pdf.read_bytes()
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    assert pages > 100, f"the PDF has only {pages} pages"


def test_sources_hold_no_control_characters():
    """A stray control character (a BEL where a Python string turned `\\a` of `\\approx` into one) breaks the page's
    maths and every tool that reads the source as YAML or text."""
    bad = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    sources = [*(ROOT / "book").glob("*.md"), *(ROOT / "rnncore").glob("*.py"), ROOT / "_toc.yml", ROOT / "_config.yml"]
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not bad.search(line), f"{path.relative_to(ROOT)}:{number}: control character {bad.search(line)[0]!r}"


def test_no_page_prints_a_glued_number_in_e_notation(built_book):
    """The prose reads 3 × 10⁻²¹; Python's 3e-21 stays in code and outputs, where it is what Python prints."""
    for page in sorted(built_book.rglob("*.html")):
        glued = re.findall(r'<span class="pasted-text">([^<]*)</span>', page.read_text(encoding="utf-8"))
        raw = [text for text in glued if re.fullmatch(r"\s*-?\d+(\.\d+)?e[+-]?\d+\s*", text)]
        assert not raw, f"{page.relative_to(built_book)}: {raw}"
