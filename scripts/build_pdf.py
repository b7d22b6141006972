"""Export the whole book as one HTML page and as a PDF, offline.

`make pdf` runs this after `make book`. Jupyter Book's own PDF routes need either a TeX installation
(`pdflatex`, gigabytes of Debian packages) or pyppeteer, which downloads its own Chromium at run time. This
uses what the course already has: Sphinx's `singlehtml` builder (reusing the execution cache, so no chapter is
run again if the book was built), then the headless Chromium that the browser test uses (unpacked by `make setup`
from the npm package `@sparticuz/chromium`, which carries it), driven by Playwright, prints that page to PDF once
the local MathJax has typeset every formula.

Outputs: _build/singlehtml/index.html and _build/pdf/rnn-from-the-ground-up.pdf
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from build_book import clear_stale_cache, dedupe_inline_scripts  # noqa: E402

# The Chromium that `make setup` unpacks (scripts/unpack_chromium.mjs), or the one RNN_CHROMIUM names, and the
# flags that keep it offline and quiet (the browser test launches it the same way).
BUNDLED_CHROMIUM = ROOT / ".chromium" / "chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps"]
PDF = ROOT / "_build" / "pdf" / "rnn-from-the-ground-up.pdf"
# Paper has no horizontal scroll bar: wrap long code lines and let wide tables and outputs shrink to the page.
PRINT_CSS = """
pre, .highlight pre, .output pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
table { max-width: 100% !important; }
img { max-width: 100% !important; height: auto !important; }
h1, h2, h3 { break-after: avoid; }
figure, .cell_output img, table { break-inside: avoid; }
"""


def chromium():
    """The path of the headless Chromium to launch; exit with what to run when there is none that can start.

    `$RNN_CHROMIUM` (any Chromium or Chrome, e.g. Debian's /usr/bin/chromium) wins over the one `make setup`
    unpacks into .chromium/ from the npm package @sparticuz/chromium.
    """
    chosen = os.environ.get("RNN_CHROMIUM")
    path = Path(chosen) if chosen else BUNDLED_CHROMIUM
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"RNN_CHROMIUM={chosen!r} is not an executable file" if chosen else f"{path} does not exist"
        raise SystemExit(f"no Chromium: {where}. Run `make setup` (it unpacks the Chromium that the npm package "
                         "@sparticuz/chromium ships), or set RNN_CHROMIUM to a Chromium or Chrome executable.")
    ldd = shutil.which("ldd")
    if ldd:  # a missing system library would otherwise surface as a bare "browser closed" from Playwright
        out = subprocess.run([ldd, str(path)], capture_output=True, text=True).stdout
        missing = sorted({line.split()[0] for line in out.splitlines() if "not found" in line})
        if missing:
            raise SystemExit(f"{path} cannot start: these system libraries are missing: {', '.join(missing)}. "
                             "Install them with your system's package manager (on Debian or Ubuntu, e.g. "
                             "`apt-get install libnss3 libatk-bridge2.0-0 libgbm1`), or set RNN_CHROMIUM.")
    return str(path)


def build_single_page(root=ROOT):
    """Build _build/singlehtml with every chapter executed (from the cache when it is fresh); return the page."""
    build_dir = root / "_build"
    clear_stale_cache(build_dir)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(root), "--builder", "singlehtml", "-W", "-n", "--keep-going"],
                   cwd=root, check=True)
    html_dir = build_dir / "singlehtml"
    dedupe_inline_scripts(html_dir)
    # The root document is book/intro, but Sphinx writes its links relative to the output folder's root, where
    # index.html only redirects to it: put the page itself there, so that styles, images and MathJax load.
    page = html_dir / "index.html"
    shutil.move(html_dir / "book" / "intro.html", page)
    return page


def print_pdf(page, target=PDF):
    """Print `page` to `target` with headless Chromium after MathJax has finished; return the page count."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    target.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        tab = browser.new_page()
        tab.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
                  else route.continue_())  # offline: nothing may leave the machine
        tab.goto(page.as_uri(), wait_until="load")
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000)
        tab.evaluate("() => MathJax.startup.promise")
        tab.emulate_media(media="print")
        tab.add_style_tag(content=PRINT_CSS)
        tab.pdf(path=str(target), format="A4", print_background=True,
                margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
                display_header_footer=True, header_template="<span></span>",
                footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')
        browser.close()
    return target.read_bytes().count(b"/Type /Page") - target.read_bytes().count(b"/Type /Pages")


def main():
    page = build_single_page()
    pages = print_pdf(page)
    size = PDF.stat().st_size / 1e6
    print(f"single page: {page.relative_to(ROOT)}\nPDF: {PDF.relative_to(ROOT)} ({pages} pages, {size:.1f} MB)")


if __name__ == "__main__":
    main()
