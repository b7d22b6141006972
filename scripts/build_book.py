"""Build the whole book with every chapter executed and warnings as errors, in either edition.

`build_book.py` (used by `make book`) builds the course edition into _build/html: it prints no graded function's
answer. `build_book.py solutions` (`make solutions`) builds the solutions edition into _build/solutions/_build/html,
with rnncore's reference code and the worked answers, from the same sources (book/_ext/editions.py) and the same
execution cache. Used by the test suite too. The execution cache is keyed on the notebooks'
code only, so a chapter would keep outputs computed with an older rnncore: this clears the cache
whenever rnncore's source (or the data it ships) changes.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rnncore_fingerprint(root=ROOT):
    """A hash of every file in rnncore/: what the chapters' executed code imports (no chapter imports rnngrade/; a
    page that shows a graded task's contract notes that task's file as a Sphinx dependency instead)."""
    digest = hashlib.sha256()
    for path in sorted((root / "rnncore").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def clear_stale_cache(build_dir):
    """Drop the execution cache unless it was filled with this rnncore; return True if it was dropped."""
    stamp = build_dir / ".rnncore-fingerprint"
    cache = build_dir / ".jupyter_cache"
    fingerprint = rnncore_fingerprint()
    dropped = cache.exists() and (not stamp.exists() or stamp.read_text() != fingerprint)
    if dropped:
        shutil.rmtree(cache)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    return dropped


def dedupe_inline_scripts(html_dir):
    """Drop repeated identical inline <script> lines from each page's head; return how many pages changed.

    Jupyter Book 1 registers sphinx-thebe's and sphinx-togglebutton's inline configuration twice, so every
    page declared `const THEBE_JS_URL` twice and the browser logged a SyntaxError on every page.
    """
    changed = 0
    for page in Path(html_dir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        head, sep, body = text.partition("</head>")
        seen, lines = set(), []
        for line in head.split("\n"):
            key = line.strip()
            if key.startswith("<script>") and key.endswith("</script>"):
                if key in seen:
                    continue
                seen.add(key)
            lines.append(line)
        new = "\n".join(lines) + sep + body
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def add_notebook_downloads(build_dir, root=ROOT, cache_dir=None, edition="course"):
    """Offer every executed chapter as a .ipynb in the page's download menu, next to the .md source.

    The notebook is the chapter's source with the outputs of its execution merged in from the execution
    cache (myst-nb's own copies in _build/jupyter_execute/ lose their outputs on a rebuild served from the
    cache). It is written next to the sources in the site and linked from the download dropdown. Returns the
    number of pages given a link. In the course edition, cells tagged `solutions` (the code behind the worked
    answers, removed from every page) are left out of the notebook too.
    """
    import jupytext
    import nbformat
    from jupyter_cache import get_cache

    html_dir = Path(build_dir) / "html"
    cache = get_cache(Path(cache_dir or build_dir) / ".jupyter_cache")
    count = 0
    for record in cache.list_cache_records():
        source = Path(record.uri)
        if not source.is_relative_to(root) or not source.exists():
            continue
        rel = source.relative_to(root).with_suffix("")  # e.g. book/ch01_sequences
        page = html_dir / rel.with_suffix(".html")
        if not page.exists():
            continue
        try:
            _, nb = cache.merge_match_into_notebook(jupytext.read(source))
        except KeyError:  # the cached run is of an older version of the chapter
            continue
        if edition == "course":
            nb.cells = [cell for cell in nb.cells if "solutions" not in cell.get("metadata", {}).get("tags", [])]
        target = html_dir / "_sources" / rel.with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        text = page.read_text(encoding="utf-8")
        md_href = f'href="{"../" * (len(rel.parts) - 1)}_sources/{rel.with_suffix(".md").as_posix()}"'
        start = text.find(f"<li><a {md_href}")
        if start < 0 or f'{rel.with_suffix(".ipynb").as_posix()}"' in text:
            continue
        end = text.index("</li>", start) + len("</li>")
        item = text[start:end].replace(".md", ".ipynb").replace("fa-file", "fa-code")
        item = item.replace("Download source file", "Download the executed notebook")
        page.write_text(text[:end] + "\n" + item + text[end:], encoding="utf-8")
        count += 1
    return count


MYST_READER = {"type": "plugin", "name": "myst_nb_md"}  # how myst-nb reads a chapter, so the cache keys agree


def toc_entries(root=ROOT):
    """(file, is_section) for every page of the book in table-of-contents order: a chapter, then its sections."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())

    def walk(entries, depth):
        for entry in entries:
            yield entry["file"], depth > 0
            yield from walk(entry.get("sections", []), depth + 1)

    yield toc["root"], False
    for part in toc.get("parts", []):
        yield from walk(part["chapters"], 0)


def notebook_pages(root=ROOT):
    """The pages of the table of contents that are notebooks (MyST markdown with a kernel), in TOC order."""
    names = [name for name, _ in toc_entries(root)]
    pages = [root / f"{name}.md" for name in names]
    return [p for p in pages if p.exists() and "\nkernelspec:" in p.read_text(encoding="utf-8").split("\n---", 1)[0]]


# The order of a first build, which has no times of its own (_build/.execution-times.json): the chapters that took
# longest in earlier builds start first, so that no long chapter starts last while the other core idles. Only the
# order depends on it; chapters not named here follow in the order of the table of contents.
LONGEST_FIRST = ["ch05_lstm_gru.md", "ch07_applications.md", "ch06_architectures.md", "ch04_gradients.md",
                 "ch08_parallel.md", "ch03_bptt.md", "ch01_sequences.md", "ch08_beyond.md"]


def execute_in_parallel(root=ROOT, processes=None):
    """Execute every chapter that has no cached run, several at a time, into the execution cache.

    myst-nb executes the chapters one after another while Sphinx reads them; run first, the chapters share the
    machine's cores (one process each, longest first by the last build's times) and myst-nb then finds every
    chapter in the cache. A chapter that fails here is simply not cached: myst-nb runs it again and reports the
    error as before. Returns {chapter: seconds} of the runs made here.
    """
    import multiprocessing

    import yaml
    from jupyter_cache import get_cache
    from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

    sys.path.insert(0, str(root / "book" / "_ext"))
    from pages import EXECUTION_ENV

    os.environ.update(EXECUTION_ENV)  # what the book's kernels get (book/_ext/pages.py)
    timeout = yaml.safe_load((root / "_config.yml").read_text())["execute"]["timeout"]
    cache = get_cache(root / "_build" / ".jupyter_cache")
    staged = [cache.add_nb_to_project(str(page), read_data=MYST_READER).pk for page in notebook_pages(root)]
    todo = cache.list_unexecuted(filter_pks=staged)
    if not todo:
        return {}
    last = load_times(root) or {name: len(LONGEST_FIRST) - i for i, name in enumerate(LONGEST_FIRST)}
    todo.sort(key=lambda r: -last.get(Path(r.uri).name, 0.0))
    work = [ProcessData(r.pk, r.uri, cache, timeout, False) for r in todo]
    with multiprocessing.Pool(processes or os.cpu_count() or 1) as pool:
        outcomes = list(pool.imap_unordered(ExecutionWorkerLocalMProc(), work, chunksize=1))
    failed = {}
    for code, uri in outcomes:  # 0: executed and cached; else myst-nb runs the chapter again and reports its error
        if code != 0:
            record = cache.get_project_record(uri)
            why = re.sub(r"\x1b\[[0-9;]*m", "", record.traceback or f"jupyter-cache's worker returned {code}")
            failed[Path(uri).name] = why[-2000:]  # the end of the traceback, without its colours
            print(f"{Path(uri).name} failed in the parallel run (myst-nb runs it again):\n{failed[Path(uri).name]}",
                  flush=True)
    (root / "_build" / ".execution-failures.json").write_text(json.dumps(failed, indent=1))
    return {name: secs for name, secs in execution_times(root).items() if name in {Path(r.uri).name for r in todo}}


def execution_times(root=ROOT):
    """{chapter file name: seconds} of the runs in the execution cache."""
    from jupyter_cache import get_cache

    cache = get_cache(root / "_build" / ".jupyter_cache")
    return {Path(r.uri).name: round(r.data.get("execution_seconds", 0.0), 1) for r in cache.list_cache_records()}


def load_times(root=ROOT):
    path = root / "_build" / ".execution-times.json"
    return json.loads(path.read_text()) if path.exists() else {}


EDITIONS = {"course": "_build", "solutions": "_build/solutions/_build"}


def edition_html(edition="course", root=ROOT):
    """Where the HTML of `edition` is written."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(EDITIONS)}; got {edition!r}")
    return root / EDITIONS[edition] / "html"


def build(edition="course", root=ROOT):
    """Run jupyter-book for `edition` ('course' or 'solutions'); return its exit code.

    Both editions share _build/.jupyter_cache, so the second one executes no chapter again.
    """
    out = edition_html(edition, root).parent
    if clear_stale_cache(root / "_build"):
        print("rnncore changed since the last build: cleared the execution cache", flush=True)
    ran = execute_in_parallel(root)
    if ran:
        print("executed in parallel (seconds): " + ", ".join(f"{k} {v}" for k, v in ran.items()), flush=True)
        (root / "_build" / ".execution-times.json").write_text(json.dumps({**load_times(root), **ran}, indent=1))
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), "--all", "-W", "-n", "--keep-going"]
    if edition != "course":
        cmd += ["--path-output", str(out.parent)]
    code = subprocess.call(cmd, cwd=root, env={**os.environ, "RNN_EDITION": edition})
    if code == 0:
        dedupe_inline_scripts(out / "html")
        add_notebook_downloads(out, root=root, cache_dir=root / "_build", edition=edition)
        if edition == "course":
            strip_solution_sources(out / "html")
    return code


def strip_solution_sources(html_dir):
    """Drop the cells tagged `solutions` from the chapter sources the course edition offers for download.

    Sphinx copies each page's source into _sources/ as it is; a chapter's source holds the removed cells that compute
    the worked answers (shown in the solutions edition only). Returns the number of sources rewritten.
    """
    import jupytext

    changed = 0
    for source in Path(html_dir, "_sources").rglob("*.md"):
        nb = jupytext.read(source, fmt="md:myst")
        kept = [cell for cell in nb.cells if "solutions" not in cell.get("metadata", {}).get("tags", [])]
        if len(kept) < len(nb.cells):
            nb.cells = kept
            source.write_text(jupytext.writes(nb, fmt="md:myst"), encoding="utf-8")
            changed += 1
    return changed


if __name__ == "__main__":
    sys.exit(build(*sys.argv[1:2]))
