"""Copy detection: every answer against rnncore's reference and against every classmate's answer to the same function.

Each answer cell is reduced to its computational core before it is fingerprinted: docstrings, comments, imports
and input validation (`if ...: raise`, `assert`, calls of `check_*`/`as_float_array`-like helpers, `func = "..."`)
are dropped, every variable (parameters, locals, its own helpers) becomes `v`, strings become `'S'` and
the layout is the one `ast.unparse` writes. What is left (numpy calls, attributes, operators, loops, numbers) is
tokenised, and copydetect's winnowing (the algorithm of MOSS) keeps a sample of its K-token fingerprints.
rnncore's reference is reduced the same way, with the private helpers it calls appended, so that inlining them
still matches. Renaming, reformatting, comments, dropped checks and reordered statements leave most fingerprints
in place; honest answers that compute the same thing in their own way share few runs of K tokens.

A pair is a copy when the matched share of either core's fingerprinted tokens is at least THRESHOLD. Functions
whose reference core has fewer than MIN_TOKENS tokens are exempt: everyone's answer looks alike there.
Flags never change a grade: `rnn-grade` lists them in the CSV and writes a side-by-side HTML report beside it.
"""

import ast
import builtins
import functools
import hashlib
import html
import io
import re
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import compare_files
from copydetect.utils import get_token_coverage, highlight_overlap, winnow

from .. import notebook
from ..assign import cases

K = 8  # noise threshold: matches shorter than K tokens are ignored
WINDOW = 3  # winnowing window: every match of K + WINDOW - 1 tokens is found
THRESHOLD = 0.8  # matched share of the more-matched core from which a pair is flagged
MIN_TOKENS = 50  # a reference core shorter than this is too generic to fingerprint: the function is exempt
REFERENCE = "rnncore"

_CHECK_CALL = re.compile(r"(^|_)(check|validate|assert)|as_float_array|asarray|as_array", re.I)
_SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)


@dataclass(frozen=True)
class Core:
    """The normalised code of an answer: readable `text`, and one symbol per token with its span in `text`."""

    text: str
    symbols: str
    spans: tuple


@dataclass(frozen=True)
class Match:
    """One flagged pair: `student`'s answer to `function` matches `other` (REFERENCE or a classmate)."""

    function: str
    student: str
    other: str
    score: float
    student_core: Core
    other_core: Core
    student_slices: tuple  # token ranges [(start, end)] of the student's core that match
    other_slices: tuple


def _callee(call):
    """The last name of a call's function (`np.asarray` -> 'asarray'), or ''."""
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def _only_raises(body):
    """True when a block does nothing but raise."""
    return bool(body) and all(isinstance(s, ast.Raise) for s in body)


def is_check(stmt):
    """True for a statement that only validates input (or documents): it is not part of the computational core."""
    if isinstance(stmt, (ast.Assert, ast.Import, ast.ImportFrom, ast.Pass)):
        return True
    if isinstance(stmt, ast.If) and _only_raises(stmt.body) and not stmt.orelse:
        return True
    if isinstance(stmt, ast.FunctionDef) and _CHECK_CALL.search(stmt.name):
        return True  # a helper that validates
    value = getattr(stmt, "value", None)
    if isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Call):
        return bool(_CHECK_CALL.search(_callee(value)))
    if isinstance(stmt, (ast.Expr, ast.Assign)) and isinstance(value, ast.Constant) and isinstance(value.value, str):
        return True  # docstrings, stray strings, `func = "rnn_forward"`
    return False


def _kept_names(tree):
    """Names kept as written: builtins, and unbound names used as a module (`np.`) or called (`sigmoid(`)."""
    used = {n.value.id for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    used |= {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return (used | set(dir(builtins))) - _bound_names(tree)


def _bound_names(tree):
    """Every name the code binds: parameters, assignment and loop targets, its own functions and classes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


class _Canonical(ast.NodeTransformer):
    """Drop checks and docstrings, rename variables to `v`, strings to 'S', strip annotations and decorators."""

    def __init__(self, kept):
        self.kept = kept

    def generic_visit(self, node):
        for part in ("body", "orelse", "finalbody"):
            block = getattr(node, part, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                kept = [s for s in block if not is_check(s)]
                if part == "orelse" and _only_raises(kept):
                    kept = []
                setattr(node, part, kept or ([ast.Pass()] if part == "body" else []))
        return super().generic_visit(node)

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(node.id if node.id in self.kept else "v", node.ctx), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg("v"), node)

    def visit_Constant(self, node):
        return ast.copy_location(ast.Constant("S"), node) if isinstance(node.value, str) else node

    def visit_FunctionDef(self, node):
        node.name, node.returns, node.decorator_list = "v", None, []
        return self.generic_visit(node)


def _symbol(token):
    """One character per distinct token, the same in every process (copydetect fingerprints strings of symbols)."""
    return chr(0x4E00 + zlib.crc32(token.encode()) % 0x5000)


def _tokens(text):
    """(token string, start offset, end offset) of every token of `text`, indentation included."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
            continue
        start = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1] if tok.type != tokenize.DEDENT else start
        name = {tokenize.INDENT: "<indent>", tokenize.DEDENT: "<dedent>", tokenize.NEWLINE: "<newline>"}.get(
            tok.type, tok.string)
        out.append((name, start, end))
    return out


def core_of(tree, kept=None):
    """The Core of a parsed module: checks dropped, names (but `kept`, default _kept_names) as `v`, tokenised."""
    tree = _Canonical(_kept_names(tree) if kept is None else kept).visit(tree)
    text = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    toks = _tokens(text)
    return Core(text, "".join(_symbol(t) for t, _, _ in toks), tuple((s, e) for _, s, e in toks))


def answer_core(code, function):
    """The Core of an answer cell: the graded `function`'s body (no signature) and every other function it defines."""
    if not isinstance(code, str):
        raise TypeError(f"answer_core: `code` must be str, got {type(code).__name__}")
    try:
        tree = notebook.parse_python(notebook.to_python(code))
    except SyntaxError:
        return core_of(ast.Module([], []))
    body = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            body = node.body + body
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            body.append(node)
    return core_of(ast.Module(body, []), _kept_names(tree))


@functools.cache
def _private_helpers():
    """{name: [FunctionDef, ...]} of the private top-level functions of rnncore's modules and the tasks'."""
    found = {}
    for path in cases.reference_modules():
        for node in notebook.parse_python(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
                found.setdefault(node.name, []).append((path.stem, node))
    return found


@functools.cache
def reference_source(function):
    """rnncore's source of `function` followed by the private helpers it calls (transitively), as one module."""
    try:
        module, node = cases._definitions()[function]
    except KeyError:
        raise ValueError(f"reference_source: `function` must be a public rnncore function, got {function!r}") from None
    helpers, seen, todo, out = _private_helpers(), set(), [node], [node]
    while todo:
        for sub in ast.walk(todo.pop()):
            name = sub.func.id if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) else None
            if name in helpers and name not in seen and not _CHECK_CALL.search(name):
                seen.add(name)
                same = [n for m, n in helpers[name] if m == module]
                found = (same or [helpers[name][0][1]])[0]
                out.append(found)
                todo.append(found)
    return "\n\n".join(ast.unparse(n) for n in out)


def reference_core(function):
    """The Core of rnncore's reference for `function` (see reference_source)."""
    return answer_core(reference_source(function), function)


def exempt(function):
    """True when the reference core of `function` is shorter than MIN_TOKENS tokens (or rnncore has none)."""
    try:
        return len(reference_core(function).symbols) < MIN_TOKENS
    except ValueError:
        return True


def release_stub(solution):
    """The answer cell as students receive it: each solution region replaced as nbgrader does."""
    return _SOLUTION.sub("raise NotImplementedError()", solution)


@dataclass(frozen=True)
class Fingerprint:
    """What copydetect's compare_files reads of a document: its winnowed hashes, their token indices, coverage."""

    label: str
    filtered_code: str
    hashes: frozenset
    hash_idx: dict
    token_coverage: float
    k: int = K
    offsets: np.ndarray = field(default_factory=lambda: np.array([]))


def kgram_hashes(symbols, k=K):
    """A 64-bit hash of every k-symbol run, the same in every process (copydetect's `hash()` is salted per process)."""
    return np.array([int.from_bytes(hashlib.blake2b(symbols[i:i + k].encode(), digest_size=8).digest(), "little",
                                    signed=True) for i in range(len(symbols) - k + 1)], dtype=np.int64)


def fingerprint(core, label, boilerplate=()):
    """The winnowed fingerprints of a Core (copydetect's robust winnowing), less the boilerplate hashes."""
    selected, idx = winnow(kgram_hashes(core.symbols), WINDOW, remove_duplicates=False)
    hash_idx = {}
    for h, i in zip(selected.tolist(), idx.tolist()):
        if h not in boilerplate:
            hash_idx.setdefault(h, []).append(i)
    return Fingerprint(label, core.symbols, frozenset(hash_idx), hash_idx,
                       float(get_token_coverage(hash_idx, K, len(core.symbols))))


def boilerplate_hashes(core):
    """Every K-token hash of a Core (the release's stub): matches inside it are given code, not copying."""
    return frozenset(kgram_hashes(core.symbols).tolist())


def compare(a, b):
    """(score, slices of a, slices of b) for two fingerprints: the larger of the two matched shares."""
    if not (a.hashes & b.hashes) or not a.token_coverage or not b.token_coverage:
        return 0.0, (), ()
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(a, b)
    ranges = [tuple((int(s), int(e)) for s, e in np.asarray(sl).T) for sl in (slices_a, slices_b)]
    return float(min(max(share_a, share_b), 1.0)), ranges[0], ranges[1]


def detect(answers, functions, solutions=None, threshold=THRESHOLD):
    """Every flagged Match of a run: answers {student: {function: code}} against rnncore and each other.

    Parameters
    ----------
    answers : {student id: {function: answer cell code}} for every graded submission of the assignment
    functions : the graded functions to compare (exempt ones are skipped)
    solutions : {function: the source notebook's answer cell}, whose release stub is boilerplate (optional)
    threshold : the score from which a pair is flagged

    Returns
    -------
    list of Match, sorted by function, student and other
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"detect: `threshold` must be in (0, 1], got {threshold!r}")
    matches = []
    for function in functions:
        if exempt(function):
            continue
        stub = (solutions or {}).get(function)
        plate = boilerplate_hashes(answer_core(release_stub(stub), function)) if stub else ()
        ref = reference_core(function)
        docs = {REFERENCE: (ref, fingerprint(ref, REFERENCE, plate))}
        for student in sorted(answers):
            if function in answers[student]:
                core = answer_core(answers[student][function], function)
                docs[student] = (core, fingerprint(core, student, plate))
        names = list(docs)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                score, sa, sb = compare(docs[a][1], docs[b][1])
                if score < threshold:
                    continue
                for x, y, sx, sy in ((a, b, sa, sb), (b, a, sb, sa)):
                    if x != REFERENCE:
                        matches.append(Match(function, x, y, score, docs[x][0], docs[y][0], sx, sy))
    return sorted(matches, key=lambda m: (m.function, m.student, m.other != REFERENCE, m.other))


def flags(matches, report_name=""):
    """{student: [flag text]} for the CSV: the function and what it matched (rnncore's reference or a classmate)."""
    out = {}
    for m in matches:
        what = "rnncore's reference" if m.other == REFERENCE else f"{m.other}'s answer"
        where = f"; see {report_name}" if report_name and m.student not in out else ""  # once per student
        out.setdefault(m.student, []).append(f"copy: `{m.function}` matches {what} ({m.score:.0%} matched){where}")
    return out


def _highlight(core, slices, css):
    """The core's text as HTML with the matched token ranges marked."""
    if not slices:
        return html.escape(core.text)
    chars = np.array([[core.spans[s][0] for s, _ in slices], [core.spans[e - 1][1] for _, e in slices]])
    marked, _ = highlight_overlap(core.text, chars, f"<mark class='{css}'>", "</mark>", escape_html=True)
    return marked


_STYLE = """body{font-family:sans-serif;margin:1.5em}table.pair{width:100%;table-layout:fixed;border-collapse:collapse}
td{vertical-align:top;border:1px solid #ccc;padding:.4em}pre{white-space:pre-wrap;font-size:.85em;margin:0}
mark.a{background:#f6c6c6}mark.b{background:#c6f0c6}h2{margin-top:2em}.meta{color:#555}
table.pairs{border-collapse:collapse}table.pairs th{text-align:left;border:1px solid #ccc;padding:.4em}"""


def _pair(m):
    """The pair a Match belongs to, the same whichever side was flagged: (student, REFERENCE), or two students in
    name order."""
    return (m.student, m.other) if m.other == REFERENCE else tuple(sorted((m.student, m.other)))


def _anchor(function, pair):
    """The id of the report's side-by-side section of `function` for `pair`."""
    return html.escape(f"{function}-{pair[0]}-{pair[1]}")


def pairs(matches):
    """{(student, other): {function: score}} of the flagged matches, one entry per pair whichever side was flagged:
    copies of rnncore's reference first (REFERENCE is always the second name), then the pairs of students that share
    the most functions."""
    found = {}
    for m in matches:
        scores = found.setdefault(_pair(m), {})
        scores[m.function] = max(m.score, scores.get(m.function, 0.0))
    return dict(sorted(found.items(), key=lambda item: (item[0][1] != REFERENCE, -len(item[1]),
                                                        -max(item[1].values()), item[0])))


def _pairs_table(matches):
    """The report's summary: one row per pair of students (or a student and rnncore), with the functions matched."""
    rows = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{len(found)}</td><td>"
        + ", ".join(f"<a href='#{_anchor(f, (a, b))}'>{html.escape(f)}</a> ({score:.0%})"
                    for f, score in sorted(found.items())) + "</td></tr>"
        for (a, b), found in pairs(matches).items())
    if not rows:
        return ""
    return ("<h2>By pair</h2><table class='pairs'><tr><th>student</th><th>and</th><th>functions</th>"
            "<th>which (share of a core matched)</th></tr>" + rows + "</table>")


def report_html(assignment, matches, answers, functions):
    """A self-contained page (no network): the flagged pairs of students, then every flagged answer side by side
    with the code it matched, the matched code marked."""
    seen, parts = set(), []
    for m in matches:
        key = (m.function, _pair(m))
        if key in seen:
            continue
        seen.add(key)
        left = html.escape(answers.get(m.student, {}).get(m.function, ""))
        right = html.escape(answers.get(m.other, {}).get(m.function, "") if m.other != REFERENCE
                            else reference_source(m.function))
        parts.append(
            f"<h2 id='{_anchor(m.function, _pair(m))}'>{html.escape(m.function)}: "
            f"{html.escape(m.student)} and {html.escape(m.other)}</h2>"
            f"<p class='meta'>{m.score:.0%} of a core matched (flagged from {THRESHOLD:.0%})</p>"
            "<table class='pair'><tr><th>" + html.escape(m.student) + "</th><th>" + html.escape(m.other) +
            "</th></tr><tr><td><pre>" + _highlight(m.student_core, m.student_slices, "a") + "</pre></td><td><pre>" +
            _highlight(m.other_core, m.other_slices, "b") + "</pre></td></tr>"
            "<tr><td><details><summary>as submitted</summary><pre>" + left + "</pre></details></td>"
            "<td><details><summary>as " + ("in rnncore" if m.other == REFERENCE else "submitted") +
            "</summary><pre>" + right + "</pre></details></td></tr></table>")
    skipped = [f for f in functions if exempt(f)]
    head = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Copies: {html.escape(assignment)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Copy check: {html.escape(assignment)}</h1>"
            f"<p>{len(answers)} submissions; each answer compared with rnncore's reference and every classmate's "
            f"answer to the same function, as normalised cores (checks and docstrings dropped, variables as "
            f"<code>v</code>). Flagged from {THRESHOLD:.0%} of either core matched in runs of {K} tokens or "
            f"more. Flags never change a grade: read both sides.</p>"
            f"<p>Exempt (reference core under {MIN_TOKENS} tokens): {html.escape(', '.join(skipped) or 'none')}.</p>")
    body = _pairs_table(matches) + ("<h2>By function</h2>" + "".join(parts) if parts else "<p>No copies found.</p>")
    return head + body + "</body></html>\n"


def read_answers(paths, source):
    """{student: {function: code}} from {student: submitted notebook path}; unreadable notebooks are left out."""
    out = {}
    for student, path in paths.items():
        try:
            out[student] = notebook.answers(path, source)
        except notebook.SubmissionError:
            continue
    return out


def check_assignment(paths, source, report_path):
    """The copy check of a whole assignment: {student: [flag text]}, with the HTML report written at `report_path`.

    Parameters
    ----------
    paths : {student id: submitted notebook path} for every graded submission of the assignment
    source : notebook.SourceNotebook of the assignment
    report_path : where the side-by-side HTML report goes (next to the CSV)
    """
    answers = read_answers(paths, source)
    matches = detect(answers, source.functions, source.solutions)
    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(report_html(source.assignment, matches, answers, source.functions), encoding="utf-8")
    return flags(matches, report_path.name)
