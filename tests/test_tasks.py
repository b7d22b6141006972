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


def test_jacobian_norm_bounds_equal_the_loop_and_bound_the_measured_norms(rng):
    bounds_of = tasks.REFERENCES["jacobian_norm_bounds"]
    for T, N, H, nonlinearity, scale in [(1, 1, 1, "tanh", 1.0), (6, 3, 4, "tanh", 2.0), (9, 2, 5, "relu", 1.0),
                                         (25, 4, 3, "tanh", 0.5), (12, 3, 6, "relu", 1.5)]:
        a = scale * rng.standard_normal((T, N, H))
        hs = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        W_hh = rng.standard_normal((H, H)) * scale / np.sqrt(H)
        got = bounds_of(hs, W_hh, nonlinearity)
        assert got.shape == (T + 1, N)
        sigma = np.linalg.svd(W_hh, compute_uv=False)[0]
        for n in range(N):
            for k in range(T + 1):
                bound = 1.0
                for j in range(k + 1, T + 1):  # steps k+1..T; hs[j - 1] is h_j
                    slopes = [1 - hs[j - 1, n, i] ** 2 if nonlinearity == "tanh" else float(hs[j - 1, n, i] > 0)
                              for i in range(H)]
                    bound *= max(abs(s) for s in slopes) * sigma
                assert got[k, n] == pytest.approx(bound, rel=1e-12, abs=1e-300)
        measured = rnncore.jacobian_product_norms(hs, W_hh, nonlinearity)
        assert np.all(measured <= got * (1 + 1e-10) + 1e-300)
        assert np.all(got <= sigma ** np.arange(T, -1, -1)[:, None] * (1 + 1e-10))


def test_cifg_step_backward_equals_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    backward = tasks.REFERENCES["cifg_step_backward"]
    for N, D, H in [(1, 1, 1), (3, 4, 5), (2, 1, 3)]:
        inputs = [rng.standard_normal(shape) for shape in [(N, D), (N, H), (N, H), (3 * H, D), (3 * H, H),
                                                           (3 * H,), (3 * H,)]]
        dh_next, dc_next = rng.standard_normal((N, H)), rng.standard_normal((N, H))
        x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh = (torch.tensor(v, requires_grad=True) for v in inputs)
        a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
        f, g, o = torch.sigmoid(a[:, :H]), torch.tanh(a[:, H:2 * H]), torch.sigmoid(a[:, 2 * H:])
        c = f * c_prev + (1 - f) * g
        h = o * torch.tanh(c)
        torch.autograd.backward([h, c], [torch.from_numpy(dh_next), torch.from_numpy(dc_next)])
        got = backward(dh_next, dc_next, *inputs)
        want = [v.grad.numpy() for v in (x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)]
        assert len(got) == 7
        for ours, theirs in zip(got, want, strict=True):
            np.testing.assert_allclose(ours, theirs, atol=1e-12)
