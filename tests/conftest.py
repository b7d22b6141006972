"""Shared fixtures: a seeded generator, the table of contents, and one build of the book per test session."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def toc_files():
    """Every page of the book, in table-of-contents order (paths without the .md suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part["chapters"]]
    return files


def chapter_files():
    return [f for f in toc_files() if re.search(r"/ch\d\d_", f)]


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
