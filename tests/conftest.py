"""Shared fixtures: a seeded generator, the table of contents, and one build of the book per test session."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def _toc_entries():
    """(file, is_section) for every page of the book, in table-of-contents order: a chapter, then its sections."""
    from build_book import toc_entries

    return toc_entries(ROOT)


def toc_files():
    """Every page of the book, sections included, in table-of-contents order (paths without the .md suffix)."""
    return [f for f, _ in _toc_entries()]


def chapter_files(sections=True):
    """Every chapter page (book/chNN_*), with its sections (pages listed under it in _toc.yml) unless sections=False."""
    return [f for f, is_section in _toc_entries() if re.search(r"/ch\d\d_", f) and (sections or not is_section)]


@pytest.fixture(scope="session")
def built_book():
    """Build the whole book once (every chapter executed, warnings as errors) and return _build/html.

    With RNN_BOOK_PREBUILT=1 the existing _build/html is used as it is (for iterating on page tests only); with
    RNN_BOOK_PREBUILT=<a folder>, the site in that folder (e.g. an older build, to show that a page test fails on it).
    """
    import os

    from build_book import build

    prebuilt = os.environ.get("RNN_BOOK_PREBUILT", "")
    if prebuilt == "1" and (ROOT / "_build" / "html" / "index.html").exists():
        return ROOT / "_build" / "html"
    if prebuilt not in ("", "1") and (Path(prebuilt) / "index.html").exists():
        return Path(prebuilt)
    assert build() == 0, "jupyter-book build failed (warnings are errors): see the output above"
    return ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def course_pdf(built_book):
    """`make pdf`, once per session: the course edition as one HTML page and as a PDF; return (page, pdf)."""
    import build_pdf

    page = build_pdf.build_single_page()
    build_pdf.print_pdf(page)  # waits for MathJax to typeset every formula, or times out
    return page, build_pdf.PDF


# `make test` runs the suite on two processes (pytest-xdist). Each test file is one unit of work, so its module
# fixtures (an autograded class, a venv) are built once; the files that read a built book form one unit, "book", so
# the book is built once, by one process. The two longest units go first, one to each process.
BOOK_FILES = {"tests/test_book.py", "tests/test_browser.py", "tests/test_editions.py"}
LONGEST_FIRST = ["book", "tests/test_assignments.py"]


def _unit(nodeid):
    path = nodeid.split("::")[0]
    return "book" if path in BOOK_FILES else path


@pytest.hookimpl(optionalhook=True)  # xdist's hook: unknown, and unused, under `-p no:xdist`
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _unit(nodeid)

    return ByFile(config, log)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if {"built_book", "course_pdf", "solutions_book"} & set(item.fixturenames) and _unit(item.nodeid) != "book":
            raise pytest.UsageError(f"{item.nodeid} reads the built book: add its file to conftest.BOOK_FILES")
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(rank)))  # stable: the rest keeps its order
