"""Page furniture that must look finished: launch buttons, the header's search box, the footer, progress bars.

- Launch buttons (Binder, JupyterHub) appear only when `repository.url` in _config.yml names a real repository: the
  placeholder the course ships with (`your-org`) or an empty URL shows none, so no page links to a repository that
  does not exist. Binder opens the chapter as a notebook (`book/<chapter>.ipynb`, which `postBuild` makes from the
  MyST source with jupytext when Binder builds the image), not the `.md` source; a JupyterHub has no postBuild and
  opens the `.md` with its jupytext. Colab is never offered: it opens only notebooks committed to GitHub, and the
  chapters are committed as MyST markdown.
- The header shows no search button of its own: the sidebar's is the one search box.
- The footer is one line, "© <copyright>, <author>." from _config.yml.
- The code a page shows leaves out MyST-NB's plumbing: top-level `glue(...)` calls (they hand numbers to the prose)
  and `from myst_nb import glue`. The downloadable sources and notebooks keep them; a cell left with nothing else
  shows no code at all.
- A figure's image gets its caption as alt text when the source gives none (the caption says what the figure
  shows; without it the browser's alt text would be the image's hashed file name), with simple inline maths read
  as words ("$T = 4$" as "T = 4", "$W_{hh}$" as "W_hh"). A caption with maths that has no plain form (a fraction, a
  norm, an equation reference) needs alt text of its own, and alt text never holds raw TeX: the build warns.
- pages.css: display equations and their numbers side by side (a number never drawn over its formula), and code
  lines longer than the column wrap instead of scrolling sideways.
- The kernels that execute the chapters use one BLAS/OpenMP thread (the matrices are small: more threads only fight
  each other and other processes on a small machine).
- Progress bars (tqdm) are switched off while the book executes its chapters (TQDM_DISABLE, read by tqdm >= 4.66):
  a reader who runs a chapter sees them, the page does not carry "0%|" lines.
"""

import ast
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

# The environment of the kernels that execute the chapters (scripts/build_book.py uses it for its parallel run too):
# one thread each, no progress bars, and kernel/sitecustomize.py, which skips an import that costs ~1 s per chapter.
EXECUTION_ENV = {"TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "PYTHONPATH": str(Path(__file__).resolve().parent / "kernel")}

PLACEHOLDER = re.compile(r"your-org|example\.(com|org)|^\s*$")


def repository_configured(url):
    """True when `url` names a real repository (not empty, not the placeholder the course ships with)."""
    return bool(url) and not PLACEHOLDER.search(url)


def _configure(app, config):
    options = config.html_theme_options
    launch = dict(options.get("launch_buttons", {}))
    launch["colab_url"] = ""
    launch["deepnote_url"] = ""
    if not repository_configured(options.get("repository_url", "")):
        for key in ("binderhub_url", "jupyterhub_url", "colab_url", "jupyterlite_url", "deepnote_url"):
            launch[key] = ""
        launch["thebe"] = False
    options["launch_buttons"] = launch
    options["navbar_persistent"] = []  # the sidebar already has the search box
    options["footer_content_items"] = ["copyright.html"]
    author = (config.author or "").strip()
    if author and author not in (config.copyright or ""):
        config.copyright = f"{config.copyright}, {author}" if config.copyright else author


def _notebook_launch_links(app, pagename, templatename, context, doctree):
    """Point the Binder button at the chapter's notebook (book/<chapter>.ipynb), not at its .md source."""
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            url = button.get("url", "")
            if button.get("text") == "Binder" and pagename + ".md" in url:
                button["url"] = url.replace(pagename + ".md", pagename + ".ipynb")


def without_glue(source):
    """`source` without its top-level `glue(...)` calls and `from myst_nb import glue` (unchanged if not Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    drop = set()
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        is_glue = isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "glue"
        names = [alias.name for alias in getattr(node, "names", [])]
        is_import = isinstance(node, ast.ImportFrom) and node.module == "myst_nb" and names == ["glue"]
        if is_glue or is_import:
            drop.update(range(node.lineno, node.end_lineno + 1))
    if not drop:
        return source
    lines = [line for i, line in enumerate(source.split("\n"), start=1) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _hide_glue_calls(app, doctree):
    for box in list(doctree.findall(nodes.container)):
        if "cell_input" not in box.get("classes", []):
            continue
        for block in list(box.findall(nodes.literal_block)):
            text = block.astext()
            shown = without_glue(text)
            if shown == text:
                continue
            if not shown.strip():
                box.parent.remove(box)
                break
            block.children = [nodes.Text(shown)]
            block.rawsource = shown


SCIENTIFIC = re.compile(r"(-?\d+(?:\.\d+)?)e([+-])0*(\d+)")
SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def as_power_of_ten(text):
    """A number printed in Python's e-notation as a reader writes it: '3e-21' -> '3 × 10⁻²¹'; other text unchanged."""
    m = SCIENTIFIC.fullmatch(text.strip())
    if not m:
        return text
    mantissa, sign, exponent = m.groups()
    if int(exponent) == 0:  # e+00
        return mantissa
    return f"{mantissa} × 10" + (("-" if sign == "-" else "") + exponent).translate(SUPERSCRIPT)


def _glued_powers_of_ten(app, doctree, docname):
    """Numbers glued into prose ({glue:text}`x:.0e`) read 3 × 10⁻²¹, not Python's 3e-21 (code and outputs keep it)."""
    for span in doctree.findall(nodes.inline):
        if "pasted-text" in span.get("classes", []) and len(span.children) == 1 and isinstance(span[0], nodes.Text):
            shown = as_power_of_ten(span.astext())
            if shown != span.astext():
                span.children = [nodes.Text(shown)]


GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "rho", "sigma", "tau", "phi")
TEX_LEFT = re.compile(r"[\\{}^$]")  # what plain words never contain: a backslash, braces, a caret, a dollar


def plain_math(tex):
    """Inline maths as plain words when it is simple enough ("T = 4", "W_hh", "rho"); None when it is not."""
    text = re.sub(r"\\[,;!]|\\q?quad\b", " ", tex)
    text = re.sub(r"\\(%s)(?![A-Za-z])" % "|".join(GREEK), r"\1", text)
    text = re.sub(r"\\ell(?![A-Za-z])", "l", text)
    text = re.sub(r"\\c?dots(?![A-Za-z])", "...", text)
    text = re.sub(r"_\{([A-Za-z0-9]+)\}", r"_\1", text)
    text = " ".join(text.split())
    return None if TEX_LEFT.search(text) else text


def caption_words(caption):
    """The caption as plain words for alt text, or None if it holds maths or an equation reference that has no plain
    form (a reference is still its raw label when the doctree is read)."""
    words = []
    for node in caption.findall(lambda n: isinstance(n, (nodes.Text, nodes.math, addnodes.pending_xref))):
        if any(isinstance(up, (nodes.math, addnodes.pending_xref)) for up in _ancestors(node)):
            continue  # read with the maths or the reference it belongs to
        if isinstance(node, addnodes.pending_xref) and node.get("reftype") == "eq":
            return None
        if isinstance(node, nodes.math):
            plain = plain_math(node.astext())
            if plain is None:
                return None
            words.append(plain)
        elif isinstance(node, nodes.Text):
            words.append(node.astext())
        else:
            words.append(node.astext())
    return " ".join("".join(words).split())


def _ancestors(node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def _figure_alt_text(app, doctree):
    for figure in doctree.findall(nodes.figure):
        caption = next(iter(figure.findall(nodes.caption)), None)
        for image in figure.findall(nodes.image):
            alt = image.get("alt")
            if not alt and caption is not None:
                alt = caption_words(caption)
                if alt is None:
                    logger.warning("a figure's caption has maths or an equation reference with no plain-words form: "
                                   "give the figure alt text (mystnb: image: alt:)", location=figure)
                    continue
                image["alt"] = alt
            if alt and TEX_LEFT.search(alt):
                logger.warning(f"a figure's alt text holds raw TeX: {alt[:60]!r}", location=figure)


def _static(app):
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))
    app.add_css_file("pages.css")


def setup(app):
    os.environ.update(EXECUTION_ENV)  # inherited by the kernels that execute the chapters
    app.connect("builder-inited", _static)
    app.connect("config-inited", _configure)
    app.connect("doctree-read", _figure_alt_text)
    app.connect("doctree-resolved", _glued_powers_of_ten)
    app.connect("doctree-read", _hide_glue_calls)
    app.connect("html-page-context", _notebook_launch_links, priority=900)  # after the theme adds its buttons
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
