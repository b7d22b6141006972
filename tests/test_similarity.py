"""The copy check on the adversarial set of tests/copies.py: lightly edited copies of rnncore's references are
flagged, honest answers are not (against rnncore or each other), a classmate pair is flagged both ways, short
functions are exempt, and each of these checks fails on a mutant of the detector.
"""

import json
from collections import Counter

import copies
import pytest

from rnngrade import notebook
from rnngrade.integrity import similarity


def _class():
    """A synthetic class: {student: {function: code}} with one copier per kind of edit and the honest students."""
    answers = {}
    for f in copies.FUNCTIONS:
        src = copies.source(f)
        for edit, make in copies.EDITS.items():
            answers.setdefault(f"copy {edit}", {})[f] = make(src)
        if f in copies.INLINED:
            answers.setdefault("copy inlined", {})[f] = copies.INLINED[f]
        for i, code in enumerate(copies.HONEST[f]):
            answers.setdefault(f"honest {i}", {})[f] = code
    return answers


def _rates(answers):
    """(copies flagged per edit, copies per edit, honest flagged, honest answers) of one detect() run."""
    matches = similarity.detect(answers, copies.FUNCTIONS)
    against_ref = {(m.student, m.function) for m in matches if m.other == similarity.REFERENCE}
    flagged = {(m.student, m.function) for m in matches}
    hit, total, honest_hit, honest_total = Counter(), Counter(), 0, 0
    for student, functions in answers.items():
        for f in functions:
            if student.startswith("copy"):
                total[student[5:]] += 1
                hit[student[5:]] += (student, f) in against_ref
            else:
                honest_total += 1
                honest_hit += (student, f) in flagged
    return hit, total, honest_hit, honest_total


def test_copies_are_flagged_and_honest_answers_are_not():
    hit, total, honest_hit, honest_total = _rates(_class())
    for edit in total:
        print(f"copies flagged ({edit}): {hit[edit]}/{total[edit]}")
    print(f"copies flagged {sum(hit.values())}/{sum(total.values())}, honest flagged {honest_hit}/{honest_total}")
    assert sum(hit.values()) >= 0.9 * sum(total.values()), (hit, total)
    assert all(hit[e] >= 0.75 * total[e] for e in total), (hit, total)
    assert honest_hit == 0 and honest_total >= 30


def test_a_classmate_pair_is_flagged_both_ways():
    answers = {f"s{i}": {f: code[i] for f, code in copies.HONEST.items()} for i in range(3)}
    answers["copier"] = {f: copies.everything(code[0]) for f, code in copies.HONEST.items()}
    found = similarity.flags(similarity.detect(answers, copies.FUNCTIONS))
    for f in copies.FUNCTIONS:
        assert any(f"`{f}` matches copier's answer" in t for t in found["s0"]), (f, found.get("s0"))
        assert any(f"`{f}` matches s0's answer" in t for t in found["copier"]), (f, found.get("copier"))
    assert "s1" not in found and "s2" not in found, found
    print(f"classmate pairs flagged both ways: {len(copies.FUNCTIONS)}/{len(copies.FUNCTIONS)}")


def test_short_functions_are_exempt_rather_than_flag_everyone():
    assert similarity.exempt("clip_by_value") and similarity.exempt("decode")
    assert not any(similarity.exempt(f) for f in copies.FUNCTIONS)
    verbatim = {"a": {"clip_by_value": copies.source("clip_by_value")}}
    assert similarity.detect(verbatim, ["clip_by_value"]) == []


def test_the_release_stub_is_boilerplate():
    src = notebook.read_source(notebook.Path("solutions/ch02_forward/ch02_forward.ipynb"))
    stub = similarity.release_stub(src.solutions["rnn_forward"])
    assert "BEGIN SOLUTION" not in stub and "NotImplementedError" in stub
    blank = {s: {"rnn_forward": stub} for s in ("a", "b")}
    assert similarity.detect(blank, ["rnn_forward"], src.solutions) == []


def test_mutant_without_name_canonicalisation_misses_renamed_copies(monkeypatch):
    monkeypatch.setattr(similarity, "_kept_names", lambda tree: {n.id for n in similarity.ast.walk(tree)
                                                                 if isinstance(n, similarity.ast.Name)})
    hit, total, _, _ = _rates(_class())
    assert hit["renamed"] < 0.9 * total["renamed"], (hit, total)


@pytest.mark.parametrize("function", copies.FUNCTIONS)
def test_dropped_checks_and_docstrings_leave_the_same_core(function):
    src = copies.source(function)
    assert similarity.answer_core(copies.drop_checks(src), function) == similarity.answer_core(src, function)


def test_mutant_that_keeps_checks_sees_dropped_checks(monkeypatch):
    monkeypatch.setattr(similarity, "is_check", lambda stmt: False)
    src = copies.source("rnn_forward")
    assert similarity.answer_core(copies.drop_checks(src), "rnn_forward") != similarity.answer_core(src, "rnn_forward")


def test_mutant_with_a_low_threshold_flags_honest_answers(monkeypatch):
    monkeypatch.setattr(similarity, "THRESHOLD", 0.3)
    answers = _class()
    matches = similarity.detect(answers, copies.FUNCTIONS, threshold=0.3)
    assert any(m.student.startswith("honest") for m in matches)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"detect: `threshold` must be in \(0, 1\], got 0"):
        similarity.detect({}, [], threshold=0)
    with pytest.raises(TypeError, match="answer_core: `code` must be str, got bytes"):
        similarity.answer_core(b"x", "f")
    with pytest.raises(ValueError, match="reference_source: `function` must be a public rnncore function, got 'nope'"):
        similarity.reference_source("nope")


def _notebook(code_by_function):
    """A minimal submitted notebook with one answer cell per function."""
    cells = [{"cell_type": "code", "source": code, "metadata": {"nbgrader": {"solution": True, "grade_id": f}},
              "outputs": [], "execution_count": None} for f, code in code_by_function.items()]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_check_assignment_writes_flags_and_an_offline_side_by_side_report(tmp_path):
    src = notebook.read_source(notebook.Path("solutions/ch02_forward/ch02_forward.ipynb"))
    paths = {}
    subs = {"ann": {"rnn_forward": copies.HONEST["rnn_forward"][0]},
            "ben": {"rnn_forward": copies.everything(copies.HONEST["rnn_forward"][0])},
            "cat": {"rnn_forward": copies.drop_checks(copies.source("rnn_forward"))},
            "dan": {"rnn_forward": copies.HONEST["rnn_forward"][2]}}
    for student, answers in subs.items():
        paths[student] = tmp_path / f"{student}.ipynb"
        paths[student].write_text(json.dumps(_notebook(answers)))
    paths["eve"] = tmp_path / "missing.ipynb"
    report = tmp_path / "grades" / "ch02_forward-copies.html"
    found = similarity.check_assignment(paths, src, report)
    assert sorted(found) == ["ann", "ben", "cat"], found
    assert "ben's answer" in found["ann"][0] and "ann's answer" in found["ben"][0]
    assert "rnncore's reference" in found["cat"][0] and "ch02_forward-copies.html" in found["cat"][0]
    page = report.read_text()
    assert "<mark class='a'>" in page and "ann and ben" in page and "cat and rnncore" in page
    # the summary names each pair once, ann and ben both flagged, and links to the side-by-side below it
    summary = page.split("<h2>By pair</h2>")[1].split("<h2>By function</h2>")[0]
    assert summary.count("<tr>") == 3, summary  # the header, ann and ben, cat and rnncore
    assert "<td>ann</td><td>ben</td><td>1</td>" in summary and "<td>cat</td><td>rnncore</td><td>1</td>" in summary
    assert "href='#rnn_forward-ann-ben'" in summary and "id='rnn_forward-ann-ben'" in page
    assert "http" not in page and "<script" not in page and "<link" not in page


def test_the_instructor_guide_states_the_thresholds_and_the_exempt_functions():
    guide = " ".join(notebook.Path("book/instructor_guide.md").read_text().split())
    assert f"runs of {similarity.K} or more tokens" in guide
    assert f"at least {similarity.THRESHOLD:.0%}".replace("%", " %") in guide
    assert f"shorter than {similarity.MIN_TOKENS} tokens" in guide
    for name in notebook.assignment_ids("solutions"):
        src = notebook.read_source(notebook.Path("solutions") / name / f"{name}.ipynb")
        for f in src.functions:
            assert (f"`{f}`" in guide.split("are exempt")[0].split("shorter than")[-1]) == similarity.exempt(f), f


def test_fingerprints_are_the_same_in_every_process():
    import subprocess
    import sys

    code = "from rnngrade.integrity import similarity as s; print(s.kgram_hashes('abcdefghijkl').tolist())"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(runs) == 1 and runs == {f"{similarity.kgram_hashes('abcdefghijkl').tolist()}\n"}


def test_the_report_lists_pairs_by_how_many_functions_they_share():
    def match(function, student, other, score):
        return similarity.Match(function, student, other, score, None, None, [], [])

    found = similarity.pairs([match("f", "ann", "ben", 0.8), match("f", "ben", "ann", 0.8),
                              match("g", "ben", "ann", 0.9), match("g", "cat", similarity.REFERENCE, 0.7),
                              match("f", "eve", "dan", 0.95)])
    assert list(found) == [("cat", similarity.REFERENCE), ("ann", "ben"), ("dan", "eve")]
    assert found["ann", "ben"] == {"f": 0.8, "g": 0.9}
