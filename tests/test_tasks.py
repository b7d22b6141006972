"""The graded tasks that no function of rnncore answers: references, known mistakes, golden values, lock, layout.

Their references live in rnngrade/assign/tasks/ (not in the student kit); the visible checks compare with the
numbers in rnncore/goldens.json, which scripts/goldens.py writes from the references and the mistakes.
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
from rnngrade.assign import cases, tasks

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
    """rnncore/goldens.json is up to date (numbers compared within 1e-12: BLAS may round differently)."""
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


def test_jordan_forward_equals_the_literal_loop_and_feeds_back_the_output(rng):
    jordan = tasks.REFERENCES["jordan_forward"]
    for T, N, D, H, V in [(1, 1, 1, 1, 1), (5, 2, 3, 4, 3), (8, 3, 2, 3, 5)]:
        x, y0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, V))
        W_ih, W_yh, W_hy = rng.standard_normal((H, D)), rng.standard_normal((H, V)), rng.standard_normal((V, H))
        b_ih, b_hh, b_y = rng.standard_normal(H), rng.standard_normal(H), rng.standard_normal(V)
        hs, ys = jordan(x, y0, W_ih, W_yh, b_ih, b_hh, W_hy, b_y)
        assert hs.shape == (T, N, H) and ys.shape == (T, N, V)
        for n in range(N):  # one sequence at a time, one unit at a time
            y_prev = y0[n]
            for t in range(T):
                h = [np.tanh(sum(x[t, n, d] * W_ih[i, d] for d in range(D)) + b_ih[i]
                             + sum(y_prev[v] * W_yh[i, v] for v in range(V)) + b_hh[i]) for i in range(H)]
                y_t = [sum(h[i] * W_hy[v, i] for i in range(H)) + b_y[v] for v in range(V)]
                np.testing.assert_allclose(hs[t, n], h, atol=1e-12)
                np.testing.assert_allclose(ys[t, n], y_t, atol=1e-12)
                y_prev = np.array(y_t)
        # with W_yh = 0 nothing is fed back: each step is a feed-forward layer of x_t
        hs0, _ = jordan(x, y0, W_ih, 0 * W_yh, b_ih, b_hh, W_hy, b_y)
        np.testing.assert_allclose(hs0, np.tanh(x @ W_ih.T + b_ih + b_hh), atol=1e-12)


def _tbptt_params(rng, D, H, V):
    return {**rnncore.init_recurrent(rng, D, H), **rnncore.init_affine(rng, H, V)}


def test_rnn_tbptt_k1k2_gradients_are_numerical_gradients_of_each_block_loss_over_its_window(rng):
    """Without update: block u's gradient is the numerical gradient of its mean loss, the forward pass over the
    window [max(0, s - (k2 - k1)), e) started from the full forward pass's state (held constant)."""
    k1k2 = tasks.REFERENCES["rnn_tbptt_k1k2"]
    names = ["W_ih", "W_hh", "b_ih", "b_hh", "W", "b"]
    for T, N, D, H, V, k1, k2 in [(1, 1, 2, 3, 2, 1, 3), (7, 2, 3, 4, 3, 2, 5), (9, 1, 2, 3, 4, 3, 4),
                                  (6, 2, 2, 3, 3, 2, 2), (5, 2, 2, 3, 2, 1, 9)]:
        x, y, h0 = rng.standard_normal((T, N, D)), rng.integers(0, V, size=(T, N)), rng.standard_normal((N, H))
        p = _tbptt_params(rng, D, H, V)
        losses, h_last, *grads = k1k2(x, y, h0, {k: v.copy() for k, v in p.items()}, k1, k2)
        hs, _ = rnncore.rnn_forward(x, h0, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"])
        np.testing.assert_allclose(h_last, hs[-1], atol=1e-12)
        blocks = [(s, min(s + k1, T)) for s in range(0, T, k1)]
        assert losses.shape == (len(blocks),) and all(g.shape[0] == len(blocks) for g in grads)
        for u, (s, e) in enumerate(blocks):
            w = max(0, s - (k2 - k1))
            start = hs[w - 1] if w else h0

            def block_loss(q, s=s, e=e, w=w, start=start, x=x, y=y):
                hw, _ = rnncore.rnn_forward(x[w:e], start, q["W_ih"], q["W_hh"], q["b_ih"], q["b_hh"])
                logits, _ = rnncore.affine_forward(hw[s - w:], q["W"], q["b"])
                return rnncore.softmax_cross_entropy(logits, y[s:e])[0]

            assert losses[u] == pytest.approx(block_loss(p), abs=1e-12)
            for name, g in zip(names, grads, strict=True):
                q = {k: v.copy() for k, v in p.items()}
                numeric = np.zeros_like(q[name])
                for i in np.ndindex(q[name].shape):
                    old = q[name][i]
                    q[name][i] = old + 1e-6
                    up = block_loss(q)
                    q[name][i] = old - 1e-6
                    down = block_loss(q)
                    q[name][i] = old
                    numeric[i] = (up - down) / 2e-6
                np.testing.assert_allclose(g[u], numeric, atol=1e-7, err_msg=f"{name}, block {u}, k1={k1}, k2={k2}")


def test_rnn_tbptt_k1k2_with_k1_equal_k2_is_rnn_tbptt_and_with_updates_recomputes_each_window(rng):
    k1k2 = tasks.REFERENCES["rnn_tbptt_k1k2"]
    names = ["W_ih", "W_hh", "b_ih", "b_hh", "W", "b"]
    T, N, D, H, V = 9, 2, 3, 4, 3
    x, y, h0 = rng.standard_normal((T, N, D)), rng.integers(0, V, size=(T, N)), rng.standard_normal((N, H))
    p = _tbptt_params(rng, D, H, V)

    def sgd(q, g):
        for n in names:
            q[n] = q[n] - 0.3 * g[n]

    for k in [1, 2, 4, 9, 20]:  # k1 = k2 = k: rnncore's rnn_tbptt, updates included
        seen = []
        q1, q2 = dict(p), dict(p)
        out = k1k2(x, y, h0, q1, k, k, update=sgd)
        losses, h_last = rnncore.rnn_tbptt(x, y, h0, q2, k, update=lambda q, g, seen=seen: (seen.append(g), sgd(q, g)))
        np.testing.assert_allclose(out[0], losses, atol=1e-12)
        np.testing.assert_allclose(out[1], h_last, atol=1e-12)
        for n, g in zip(names, out[2:], strict=True):
            np.testing.assert_allclose(g, np.stack([s[n] for s in seen]), atol=1e-12)
        for n in names:
            np.testing.assert_allclose(q1[n], q2[n], atol=1e-12)
    # k1 < k2 with updates: a literal loop that keeps every state in a list and rebuilds each window's graph
    for k1, k2 in [(2, 5), (3, 4), (1, 3)]:
        q_ref = dict(p)
        out = k1k2(x, y, h0, q_ref, k1, k2, update=sgd)
        q, states, expected_losses = dict(p), [h0], []
        for s in range(0, T, k1):
            e, w = min(s + k1, T), max(0, s - (k2 - k1))
            hw, cache = rnncore.rnn_forward(x[w:e], states[w], q["W_ih"], q["W_hh"], q["b_ih"], q["b_hh"])
            logits, oc = rnncore.affine_forward(hw, q["W"], q["b"])
            mask = np.zeros((e - w, N), dtype=bool)
            mask[s - w:] = True  # the block's losses only, averaged over its positions
            loss, dlogits = rnncore.softmax_cross_entropy(logits, y[w:e], mask)
            dhs, dW, db = rnncore.affine_backward(dlogits, oc)
            _, _, dW_ih, dW_hh, db_ih, db_hh = rnncore.rnn_backward(dhs, cache)
            g = dict(zip(names, [dW_ih, dW_hh, db_ih, db_hh, dW, db], strict=True))
            u = s // k1
            for n, got in zip(names, out[2:], strict=True):
                np.testing.assert_allclose(got[u], g[n], atol=1e-12, err_msg=f"{n}, block {u}, k1={k1}, k2={k2}")
            expected_losses.append(loss)
            states[s + 1:] = list(hw[s - w:])
            sgd(q, g)
        np.testing.assert_allclose(out[0], expected_losses, atol=1e-12)
        np.testing.assert_allclose(out[1], states[T], atol=1e-12)
        for n in names:
            np.testing.assert_allclose(q_ref[n], q[n], atol=1e-12)
    with pytest.raises(ValueError, match="k1 <= k2"):
        k1k2(x, y, h0, dict(p), 3, 2)


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


def test_deer_newton_step_is_newton_on_the_sequence_and_converges_to_the_loop(rng):
    """Against the equations element by element, the Jacobian against central differences, and iterated: exact on
    the first k states after k steps, equal to the nonlinear loop (to 1e-12) after at most T steps."""
    step = tasks.REFERENCES["deer_newton_step"]
    for T, N, H, scale in [(1, 1, 1, 1.0), (6, 2, 3, 2.0), (20, 1, 4, 0.7), (50, 3, 2, 3.0)]:
        u, w, h0 = rng.standard_normal((T, N, H)), scale * rng.standard_normal(H), rng.standard_normal((N, H))
        guess = rng.uniform(-1, 1, (T, N, H))
        hs, a, b = step(u, w, h0, guess)
        for n in range(N):
            for i in range(H):
                h = h0[n, i]
                for t in range(T):
                    p = h0[n, i] if t == 0 else guess[t - 1, n, i]
                    f = np.tanh(u[t, n, i] + w[i] * p)
                    eps = 1e-6
                    slope = (np.tanh(u[t, n, i] + w[i] * (p + eps)) - np.tanh(u[t, n, i] + w[i] * (p - eps))) / 2e-6
                    assert a[t, n, i] == pytest.approx(slope, abs=1e-8)
                    assert b[t, n, i] == pytest.approx(f - a[t, n, i] * p, abs=1e-12)
                    h = a[t, n, i] * h + f - a[t, n, i] * p
                    assert hs[t, n, i] == pytest.approx(h, abs=1e-12)
        want, h = np.empty((T, N, H)), h0
        for t in range(T):
            h = np.tanh(u[t] + w * h)
            want[t] = h
        guess = np.zeros((T, N, H))
        for k in range(1, T + 1):
            guess = step(u, w, h0, guess)[0]
            np.testing.assert_allclose(guess[:k], want[:k], atol=1e-12)
        np.testing.assert_allclose(guess, want, atol=1e-12)
        np.testing.assert_allclose(step(u, w, h0, want)[0], want, atol=1e-12)  # the solution is a fixed point
