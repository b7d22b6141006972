"""book/_ext/pages.py, the page furniture, on its own (the browser test measures the built pages).

Launch buttons appear only for a configured repository and open notebooks; the footer is one line from _config.yml;
the code a page shows leaves out MyST-NB's glue plumbing, and only that.
"""

import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import pages  # noqa: E402


@pytest.mark.parametrize("url, configured", [
    ("https://github.com/your-org/rnn-from-the-ground-up", False),
    ("", False),
    ("   ", False),
    ("https://example.com/course", False),
    ("https://github.com/uni-x/rnn-course", True),
])
def test_launch_buttons_need_a_real_repository(url, configured):
    assert pages.repository_configured(url) is configured
    config = SimpleNamespace(html_theme_options={"repository_url": url, "launch_buttons": {
        "binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
        "jupyterhub_url": "https://hub.example.edu", "thebe": True}}, author="A. Author", copyright="2026")
    pages._configure(None, config)
    launch = config.html_theme_options["launch_buttons"]
    assert launch["colab_url"] == ""  # Colab opens only notebooks committed to GitHub: never offered
    assert bool(launch["binderhub_url"]) is configured and bool(launch["jupyterhub_url"]) is configured
    assert config.html_theme_options["navbar_persistent"] == []  # one search box: the sidebar's
    assert config.copyright == "2026, A. Author"


def test_binder_opens_the_chapter_notebook_not_its_markdown():
    binder = {"text": "Binder", "url": "https://mybinder.org/v2/gh/u/r/main?urlpath=lab/tree/book/ch02_x.md"}
    hub = {"text": "JupyterHub", "url": "https://hub/hub/user-redirect/git-pull?urlpath=lab/tree/r/book/ch02_x.md"}
    context = {"header_buttons": [{"type": "group", "buttons": [binder, hub]}]}
    pages._notebook_launch_links(None, "book/ch02_x", "page.html", context, None)
    assert binder["url"].endswith("lab/tree/book/ch02_x.ipynb")
    assert hub["url"].endswith("book/ch02_x.md")  # a hub opens the MyST source with its jupytext


def test_shown_code_drops_glue_calls_and_nothing_else():
    source = ('from myst_nb import glue\nimport numpy as np\n\nx = np.ones(3)\nglue("x_sum", float(x.sum()),\n'
              '     display=False)\nprint(x)\nfor k in range(2):\n    glue(f"k{k}", k)\n')
    shown = pages.without_glue(source)
    assert shown == 'import numpy as np\n\nx = np.ones(3)\nprint(x)\nfor k in range(2):\n    glue(f"k{k}", k)'
    assert pages.without_glue('glue("a", 1, display=False)\n') == ""
    assert pages.without_glue("%time x = 1\n") == "%time x = 1\n"  # not Python: left as it is
    assert pages.without_glue("y = glue_like(1)\n") == "y = glue_like(1)\n"


def test_a_contract_links_each_equation_it_cites_once():
    """A docstring citing one equation twice (its Math: and Book: lines) gets one link to it, not "(5.3), (5.3)"."""
    import editions

    text, labels = editions.readable('    """One step.\n\n    Math: the gradients of eq. (step); see eq. (step-back)'
                                     '\n\n    Book: chapter 5, section "The backward", eq. (step-back).\n    """')
    assert labels == ["step", "step-back"]
    assert "eq. (" not in text and 'section "The backward".' in text


@pytest.mark.parametrize("tex, words", [
    ("T = 4", "T = 4"), ("W_{hh}", "W_hh"), (r"\rho", "rho"), (r"\alpha_{ij}", "alpha_ij"),
    (r"1, 2, \dots, 16", "1, 2, ..., 16"), (r"\partial L / \partial h_{T-k}", None), (r"\lVert h_t \rVert", None),
    ("2^k", None), (r"\sqrt{1 - |\lambda_j|^2}", None)])
def test_simple_maths_in_a_caption_is_read_as_words_and_the_rest_is_refused(tex, words):
    assert pages.plain_math(tex) == words


def test_alt_text_from_a_caption_never_holds_tex_or_an_equation_label():
    from docutils import nodes
    from sphinx import addnodes

    caption = nodes.caption("", "", nodes.Text("Over "), nodes.math("T = 4", "T = 4"), nodes.Text(" steps of "),
                            nodes.literal("rnn_forward", "rnn_forward"), nodes.Text("."))
    assert pages.caption_words(caption) == "Over T = 4 steps of rnn_forward."
    ref = addnodes.pending_xref("", nodes.literal("param-count", "param-count"), refdomain="math", reftype="eq")
    assert pages.caption_words(nodes.caption("", "", nodes.Text("the weights of "), ref)) is None
    fraction = nodes.math(r"\partial L / \partial W_{hh}", r"\partial L / \partial W_{hh}")
    assert pages.caption_words(nodes.caption("", "", nodes.Text("one entry of "), fraction)) is None


@pytest.mark.parametrize("printed, read", [
    ("3e-21", "3 × 10⁻²¹"), ("1e-08", "1 × 10⁻⁸"), ("4.3e+07", "4.3 × 10⁷"), ("1.0e+01", "1.0 × 10¹"),
    ("-3e-05", "-3 × 10⁻⁵"), ("2e+00", "2"), ("1,000", "1,000"), ("0.5", "0.5"), ("1e5 steps", "1e5 steps")])
def test_glued_numbers_in_e_notation_read_as_powers_of_ten(printed, read):
    assert pages.as_power_of_ten(printed) == read

