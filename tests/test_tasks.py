"""The graded tasks that no function of rnncore answers: references, known mistakes, golden values, lock, layout.

Their references live in rnncore/instructor/tasks/ (not in the student kit); the visible checks compare with the
numbers in rnncore/data/goldens.json, which scripts/goldens.py writes from the references and the mistakes.
"""

import copy
import json
import re

import goldens as golden_script
import nbformat
import numpy as np
import pytest
from conftest import ROOT

import rnncore
from rnncore import _lock, goldens
from rnncore.instructor import cases, tasks

tasks.load()
TASKS = sorted(tasks.REFERENCES)


def _close_tree(a, b, path="goldens"):
    """Compare two decoded golden tables: the same structure and strings, numbers within 1e-12."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _close_tree(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close_tree(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert isinstance(b, (int, float)) and abs(a - b) <= 1e-12 * max(1.0, abs(a)), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_goldens_file_is_what_the_references_give():
    """rnncore/data/goldens.json is up to date (numbers compared within 1e-12: BLAS may round differently)."""
    _close_tree(json.loads(goldens.GOLDENS.read_text()), golden_script.table())


def test_every_assignment_has_a_task_that_rnncore_does_not_answer():
    graded = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                graded.setdefault(path.parent.name, []).extend(re.findall(r"^def (\w+)\(", cell.source, flags=re.M))
    without = [a for a, functions in graded.items() if not set(functions) & set(TASKS)]
    assert not without, f"assignments with no task beyond rnncore: {without}"
    for task in TASKS:
        assert not hasattr(rnncore, task), f"rnncore answers the task {task}"


@pytest.mark.parametrize("task", TASKS)
def test_task_has_visible_cases_and_diagnosable_mistakes(task):
    assert len(tasks.VISIBLE.get(task, [])) >= 2, f"{task}: fewer than two visible cases"
    mistakes = tasks.MISTAKES.get(task, [])
    assert len(mistakes) >= 3, f"{task}: fewer than three known mistakes"
    for entry in mistakes:
        named = [label for label in (c.label for c in tasks.VISIBLE[task])
                 if any(message == entry.message for message, _ in goldens.case(task, label).known)]
        assert named, f"{task}: the mistake {entry.name!r} gives the right answer on every visible case"


@pytest.mark.parametrize("task", TASKS)
def test_golden_check_passes_the_reference_and_names_each_mistake(task):
    for visible in tasks.VISIBLE[task]:
        golden = goldens.case(task, visible.label)
        names = cases.output_names(task)
        for index, value in enumerate(golden.expected):
            goldens.check(task, names[index], value, golden, index=index)
        for message, outputs in golden.known:
            wrong = next(i for i, (o, e) in enumerate(zip(outputs, golden.expected, strict=True))
                         if not np.allclose(np.asarray(o, dtype=float), np.asarray(e, dtype=float)))
            with pytest.raises(AssertionError) as err:
                goldens.check(task, names[wrong], outputs[wrong], golden, index=wrong)
            assert message in str(err.value)
    golden = goldens.case(task, tasks.VISIBLE[task][0].label)
    noise = np.asarray(golden.expected[0], dtype=float) + 0.123
    with pytest.raises(AssertionError, match=rf"`{task}`: .* is wrong on the case"):
        goldens.check(task, "out", noise, golden, index=0)


@pytest.mark.parametrize("task", TASKS)
def test_task_reference_is_locked_while_a_student_function_is_graded(task):
    inputs = copy.deepcopy(tasks.VISIBLE[task][0].inputs)
    with _lock.locked(task), pytest.raises(_lock.ReferenceLockedError):
        tasks.REFERENCES[task](**inputs)
    for entry in tasks.MISTAKES[task]:
        with _lock.locked(task), pytest.raises(_lock.ReferenceLockedError):
            entry.compute(**inputs)


@pytest.mark.parametrize("task", TASKS)
def test_task_is_verified_like_every_graded_function(task):
    spec = cases.spec_for(task)
    assert len(spec.cases()) >= 4
    assert cases.reference(task, spec) is tasks.REFERENCES[task]
    assert cases.output_names(task), f"{task}: its docstring names no outputs"


def test_goldens_case_says_what_exists():
    with pytest.raises(KeyError, match="no golden cases for `nope`"):
        goldens.case("nope", "x")
    with pytest.raises(KeyError, match="has no golden case 'nope'"):
        goldens.case(TASKS[0], "nope")


# ------------------------------------------------------------------------------ the tasks themselves
def test_blelloch_scan_equals_the_loop_and_builds_the_tree(rng):
    scan = tasks.REFERENCES["blelloch_scan"]
    for T in [1, 2, 3, 5, 8, 13, 64, 100]:
        a, b, h0 = rng.uniform(-1, 1, (T, 2, 3)), rng.standard_normal((T, 2, 3)), rng.standard_normal((2, 3))
        hs, A_up, B_up = scan(a, b, h0)
        np.testing.assert_allclose(hs, rnncore.linear_recurrence(a, b, h0), atol=1e-12)
        np.testing.assert_allclose(scan(a, b)[0], rnncore.linear_recurrence(a, b), atol=1e-12)
        size = 1 << (T - 1).bit_length()
        assert A_up.shape == B_up.shape == (size, 2, 3)
        ap, bp = np.ones((size, 2, 3)), np.zeros((size, 2, 3))
        ap[:T], bp[:T] = a, b
        bp[0] = a[0] * h0 + b[0]
        for k in range(size):  # element k: the composition of the 2^j padded steps that end at k
            lo = k - ((k + 1) & -(k + 1)) + 1
            A, B = np.ones((2, 3)), np.zeros((2, 3))
            for t in range(lo, k + 1):
                A, B = A * ap[t], ap[t] * B + bp[t]
            np.testing.assert_allclose(A_up[k], A, atol=1e-12)
            np.testing.assert_allclose(B_up[k], B, atol=1e-12)


def test_scheduled_sampling_loss_equals_a_literal_loop_and_its_limits(rng):
    """Against a loop written from the equations (one example at a time), and epsilon = 0 / 1 against teacher
    forcing and rnncore.greedy_decode run for K steps (an end token that is never predicted)."""
    f = tasks.REFERENCES["scheduled_sampling_loss"]
    for V, H, K in [(2, 1, 1), (3, 2, 5), (5, 4, 9), (7, 3, 16)]:
        params = {"E": rng.standard_normal((V + 1, H)), "W_hh": rng.standard_normal((H, H)),
                  "b_h": rng.standard_normal(H), "W_hy": 2 * rng.standard_normal((V, H)),
                  "b_y": rng.standard_normal(V)}
        s0, targets, u = rng.standard_normal(H), rng.integers(0, V, K), rng.random(K - 1)

        def step(token, s, p=params):
            s = np.tanh(p["E"][token] + p["W_hh"] @ s + p["b_h"])
            z = p["W_hy"] @ s + p["b_y"]
            return z - np.log(np.sum(np.exp(z))), s

        for epsilon in (0.0, 0.3, 0.7, 1.0):
            s, x, total, inputs = s0, V, 0.0, []
            for k in range(K):
                if k > 0:
                    x = int(np.argmax(logp)) if u[k - 1] < epsilon else int(targets[k - 1])  # noqa: F821
                inputs.append(x)
                logp, s = step(x, s)
                total -= logp[targets[k]]
            loss, got = f(params, s0, V, targets, u, epsilon)
            assert np.isclose(loss, total / K, rtol=1e-12) and got.tolist() == inputs and got.dtype == np.int64
        greedy, _ = rnncore.greedy_decode(lambda t, s: step(t, s), s0, V, K, V + 7)
        assert f(params, s0, V, targets, u, 1.0)[1].tolist() == [V, *greedy[:-1]]
        assert f(params, s0, V, targets, u, 0.0)[1].tolist() == [V, *targets[:-1].tolist()]


def test_sample_top_p_equals_a_literal_nucleus_and_its_limits(rng):
    """Against a nucleus built by sorting and adding one token at a time, and top_p = 1 against
    rnncore.sample_with_temperature with the same uniform number."""
    f = tasks.REFERENCES["sample_top_p"]
    for V in [1, 2, 5, 12, 40]:
        for tau, top_p in [(1.0, 0.5), (0.5, 0.9), (2.0, 0.3), (1.0, 1e-3)]:
            logits = 2 * rng.standard_normal(V)
            p = np.exp(logits / tau) / np.exp(logits / tau).sum()
            kept, mass = [], 0.0
            for i in sorted(range(V), key=lambda i: (-p[i], i)):
                kept.append(i)
                mass += p[i]
                if mass >= top_p:
                    break
            q = np.zeros(V)
            q[kept] = p[kept] / p[kept].sum()
            for u in rng.random(5):
                sample, probs = f(logits, tau, top_p, u)
                np.testing.assert_allclose(probs, q, atol=1e-12)
                assert isinstance(sample, int) and sample == next(i for i in range(V) if u < q[: i + 1].sum()
                                                                   or i == V - 1)
        logits = rng.standard_normal(V)
        for seed in range(10):
            u = np.random.default_rng(seed).random()
            assert f(logits, 0.8, 1.0, u)[0] == rnncore.sample_with_temperature(logits, 0.8,
                                                                                np.random.default_rng(seed))
