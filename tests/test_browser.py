"""The built book as a reader meets it: every page opened in headless Chromium, offline.

Checks, for every page in the table of contents: the maths is typeset by the local MathJax (no raw TeX
left), every image has loaded, the console shows no errors, no request leaves the machine, and every
internal link points to a page and anchor that exist. The search page finds a chapter by a word in it.
Screenshots of a few pages are kept in _build/screenshots/ as test artefacts.

And that every page looks finished, at a desktop width (1,400 px) and a phone's (390 px): no display equation
wider than the text column at 1,400 px (nor at 390 px on the pages in FIT_ON_A_PHONE), and no equation number
drawn over its formula at either width; no page that
scrolls sideways; no code block or output that scrolls sideways; every figure numbered, captioned and with alt
text that is neither a file name nor raw TeX; no link to the placeholder repository or to Colab with a .md file; one
search box; no progress-bar lines or glue(...) calls on the page.

Uses the headless Chromium that `make setup` unpacks from the npm package @sparticuz/chromium (or the one
RNN_CHROMIUM names); without one the tests fail with what to run, never skip.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from build_pdf import ARGS, chromium
from conftest import ROOT, toc_files
from playwright import sync_api

SHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="module")
def browser(built_book):
    try:
        executable = chromium()
    except SystemExit as missing:
        pytest.fail(str(missing), pytrace=False)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        yield b
        b.close()


def _open(browser, url, width=1280):
    """Open `url` with every non-local request blocked; return (page, console errors, outside requests)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if urlparse(r.request.url).scheme in ("file", "data", "blob"):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("load")
    return page, errors, outside


@pytest.mark.parametrize("page_name", toc_files())
def test_page_renders_offline(browser, built_book, page_name):
    path = built_book / f"{page_name}.html"
    page, errors, outside = _open(browser, path.as_uri())
    try:
        if page.evaluate("() => document.querySelector('.math') !== null"):
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.document "
                                   "&& document.querySelectorAll('mjx-container').length > 0", timeout=30000)
            page.evaluate("() => MathJax.startup.promise")
            raw = page.evaluate("() => Array.from(document.querySelectorAll('.math'))"
                                ".filter(e => !e.querySelector('mjx-container')).length")
            assert raw == 0, f"{raw} maths blocks were left as raw TeX"
        text = page.evaluate("() => document.querySelector('main').innerText")
        assert "\\[" not in text and "$$" not in text, "raw TeX delimiters in the page text"
        page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=20000)
        broken = page.evaluate("() => Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)")
        assert not broken, f"images that did not load: {broken}"
        assert not errors, f"console errors: {errors}"
        assert not outside, f"requests that tried to leave the machine: {outside}"
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        for link in links:
            url = urlparse(link)
            if url.scheme != "file":
                continue
            target = Path(unquote(url.path))
            assert target.exists(), f"broken internal link {link}"
            if url.fragment and target.suffix == ".html" and target != path:
                assert f'id="{url.fragment}"' in target.read_text(), f"missing anchor {link}"
            elif url.fragment and target == path:
                assert page.evaluate(f"() => document.getElementById({url.fragment!r}) !== null"), link
        if page_name in ("book/intro", toc_files()[2] if len(toc_files()) > 2 else "book/intro"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / (page_name.replace("/", "_") + ".png")))
    finally:
        page.close()


def test_search_finds_a_chapter_by_a_word_in_it(browser, built_book):
    page, errors, outside = _open(browser, (built_book / "search.html").as_uri() + "?q=recurrence")
    try:
        page.wait_for_function("() => document.querySelectorAll('#search-results li').length > 0", timeout=30000)
        hits = page.evaluate("() => Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)")
        assert any(re.search(r"/book/ch0\d_", h) for h in hits), f"no chapter among the search results: {hits}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "search.png"))
        assert not outside, outside
    finally:
        page.close()


# What a reader would call unfinished, measured in the page as laid out (keys are the failure messages).
UNFINISHED_JS = """([width, allFit]) => {
  const main = document.querySelector('main');
  const found = {};
  const add = (what, where) => (found[what] = found[what] || []).push(where);
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
                         && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  for (const div of main.querySelectorAll('div.math')) {
    const box = div.querySelector('mjx-container');
    if (!box) continue;
    const formula = box.querySelector('mjx-math') || box;
    const number = div.querySelector('.eqno');
    const name = number ? number.innerText.trim() : (div.id || box.textContent.slice(0, 40));
    if (allFit && (box.scrollWidth > box.clientWidth + 1 || div.scrollWidth > div.clientWidth + 1))
      add('display equations wider than the text column', name);
    const f = formula.getBoundingClientRect(), b = box.getBoundingClientRect();  // what shows of the formula: its box
    const shown = {left: Math.max(f.left, b.left), right: Math.min(f.right, b.right), top: f.top, bottom: f.bottom};
    if (number && overlap(number.getBoundingClientRect(), shown))
      add('equation numbers drawn over their formula', name);
  }
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth + 1) add('the page scrolls sideways', page.scrollWidth + ' px wide');
  for (const pre of main.querySelectorAll('pre')) {
    if (pre.offsetParent === null) {  // collapsed (hide-input): measure it as a reader who opens it would see it
      const details = pre.closest('details');
      if (details) details.open = true;
    }
    if (pre.offsetParent !== null && pre.scrollWidth > pre.clientWidth + 1) {
      const longest = pre.innerText.split('\\n').reduce((a, l) => (l.length > a.length ? l : a), '');
      add('code blocks or outputs that scroll sideways', longest.slice(0, 80));
    }
  }
  for (const img of main.querySelectorAll('article img')) {  // the page's own figures, not the header's icons
    const src = img.getAttribute('src') || '';
    const figure = img.closest('figure');
    const caption = figure && figure.querySelector('figcaption');
    if (!caption || !/^\\s*Fig\\.\\s*\\d/.test(caption.innerText))
      add('figures without a numbered caption', src.split('/').pop());
    const alt = (img.getAttribute('alt') || '').trim();
    if (alt.length < 10 || /[0-9a-f]{32}|\\.(png|svg|jpe?g)$|_images\\//i.test(alt))
      add('figures without real alt text', src.split('/').pop() + ': ' + JSON.stringify(alt.slice(0, 40)));
    if (/[\\\\{}^$]/.test(alt))  // a backslash, a brace, a caret or a dollar: TeX, which no screen reader speaks
      add('figures whose alt text holds raw TeX', src.split('/').pop() + ': ' + JSON.stringify(alt.slice(0, 60)));
  }
  for (const a of document.querySelectorAll('a[href]')) {
    if (/your-org|example\\.(com|org)/.test(a.href)) add('links to a placeholder', a.href);
    if (/colab\\.research\\.google\\.com.*\\.md$/.test(a.href)) add('Colab links to .md files', a.href);
  }
  const search = document.querySelectorAll('.bd-header .search-button-field, .bd-sidebar-primary .search-button-field');
  if (search.length > 1) add('more than one search box', search.length + ' boxes');
  for (const out of main.querySelectorAll('.cell_output')) {
    if (/\\d+%\\|/.test(out.innerText)) add('progress-bar lines in outputs', out.innerText.slice(0, 60));
  }
  for (const code of main.querySelectorAll('.cell_input')) {
    if (/^glue\\(/m.test(code.innerText)) add('glue(...) calls shown as code', code.innerText.slice(0, 60));
  }
  return found;
}"""


# Pages whose display equations all fit a phone's column too (elsewhere a wide one scrolls inside its own box at
# 390 px, beside its number); a page joins this list once its equations are broken to fit.
FIT_ON_A_PHONE = {
    "book/intro", "book/ch01_sequences", "book/ch02_rnn_equations", "book/ch03_bptt", "book/ch04_gradients",
    "book/ch05_lstm_gru", "book/ch06_architectures", "book/ch07_applications", "book/ch08_beyond", "book/ch08_modern",
    "book/ch08_parallel", "book/instructor_guide", "book/appendix_notation", "book/appendix_linalg",
    "book/appendix_myths", "book/appendix_glossary", "book/references",
}


@pytest.mark.parametrize("width", [1400, 390])
@pytest.mark.parametrize("page_name", toc_files())
def test_page_looks_finished(browser, built_book, page_name, width):
    page, _, _ = _open(browser, (built_book / f"{page_name}.html").as_uri(), width)
    try:
        if page.evaluate("() => document.querySelector('.math') !== null"):
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.document "
                                   "&& document.querySelectorAll('mjx-container').length > 0", timeout=30000)
            page.evaluate("() => MathJax.startup.promise")
        found = page.evaluate(UNFINISHED_JS, [width, width >= 1000 or page_name in FIT_ON_A_PHONE])
        report = "; ".join(f"{len(v)} {what}: {v[:5]}" for what, v in found.items())
        assert not found, f"{page_name} at {width} px: {report}"
    finally:
        page.close()
