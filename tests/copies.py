"""The adversarial set of the copy check: lightly edited copies of rnncore's references, and honest answers.

Copies are made from rnncore's own source file, so they follow rnncore when it changes: each
kind of edit in EDITS is a small function of the source, and INLINED holds copies whose private helpers were
inlined by hand. HONEST holds answers written as different students would (loops or vectorised, their own
decomposition and names), none of them derived from rnncore's code.
"""

import ast
import re
from pathlib import Path

import rnncore
from rnngrade.assign import cases

FUNCTIONS = ("rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward", "lstm_step_forward",
             "lstm_step_backward", "gru_step_forward", "clip_by_global_norm", "softmax_cross_entropy",
             "masked_mean_pool", "beam_search", "parallel_scan")

_CHECK = re.compile(r"^_?check|as_float_array")
_NAMES = ["alpha_", "beta_", "gamma_", "delta_", "eps_", "zeta_", "eta_", "theta_", "iota_", "kappa_", "lam_",
          "mu_", "nu_", "xi_", "omicron_", "pi_", "rho_", "sigma_", "tau_", "ups_", "phi_", "chi_", "psi_", "omega_"]


def source(function):
    """rnncore's source of `function`, docstring and comments included (read from its module's file)."""
    module, node = cases._definitions()[function]
    lines = (Path(rnncore.__file__).parent / f"{module}.py").read_text().splitlines()
    return "\n".join(lines[node.lineno - 1: node.end_lineno]) + "\n"


def drop_docstring(code):
    """The copy without its docstring."""
    return re.sub(r'\n    """.*?"""\n', "\n", code, count=1, flags=re.S)


def _is_check(stmt):
    """An input check of rnncore's: `if ...: raise`, `check_*(...)`, `x = as_float_array(...)`, `func = '...'`."""
    if isinstance(stmt, ast.If) and all(isinstance(s, ast.Raise) for s in stmt.body):
        return True
    value = getattr(stmt, "value", None)
    if isinstance(value, ast.Call):
        name = ast.unparse(value.func).split(".")[-1]
        return bool(_CHECK.search(name))
    return isinstance(value, ast.Constant) and isinstance(value.value, str)


def drop_checks(code):
    """The copy without docstring and input checks (whatever validates, as a copier would delete it)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(getattr(node, "body", None), list):
            node.body = [s for s in node.body if not _is_check(s)] or [ast.Pass()]
    return ast.unparse(tree)


def rename(code):
    """Every parameter and local variable renamed (the function's own name kept, as the notebook needs it)."""
    tree = ast.parse(code)
    bound = []
    for node in ast.walk(tree):
        name = node.arg if isinstance(node, ast.arg) else node.id if isinstance(node, ast.Name) and isinstance(
            node.ctx, ast.Store) else None
        if name and name not in bound:
            bound.append(name)
    new = {n: (_NAMES[i % len(_NAMES)] + str(i)) for i, n in enumerate(bound)}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.arg in new:
            node.arg = new[node.arg]
        elif isinstance(node, ast.Name) and node.id in new:
            node.id = new[node.id]
    return ast.unparse(tree)


def _names(node, ctx):
    """Names a statement reads (ctx=ast.Load) or writes (ast.Store)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _independent(a, b):
    """True when neither statement reads or writes what the other writes."""
    wa, wb = _names(a, ast.Store), _names(b, ast.Store)
    return not (wa & (_names(b, ast.Load) | wb) or wb & _names(a, ast.Load)) and not any(
        isinstance(s, (ast.Return, ast.If, ast.For, ast.While)) for s in (a, b))


def reorder(code):
    """Every pair of adjacent independent statements swapped (data flow unchanged)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        i = 0
        while i + 1 < len(body):
            if _independent(body[i], body[i + 1]) and not isinstance(body[i], ast.Expr):
                body[i], body[i + 1] = body[i + 1], body[i]
                i += 2
            else:
                i += 1
    return ast.unparse(tree)


def reformat(code):
    """Another layout: unparsed again, blank lines between statements, spaces inside brackets, single quotes."""
    lines = []
    for line in ast.unparse(ast.parse(code)).splitlines():
        line = line.replace("(", "( ").replace(")", " )").replace("[", "[ ").replace("]", " ]")
        lines += [line, ""] if line.strip() and not line.rstrip().endswith(":") else [line]
    return "\n".join(lines)


def comment(code):
    """A comment above every statement line and at the end of some."""
    out = []
    for i, line in enumerate(code.splitlines()):
        indent = line[: len(line) - len(line.lstrip())]
        if line.strip() and not line.strip().startswith(("#", '"', "'", ")", "]")) and line.rstrip()[-1] not in "([{,":
            out.append(f"{indent}# step {i}: I compute this part here")
            out.append(line + ("  # as in the lecture" if i % 3 == 0 else ""))
        else:
            out.append(line)
    return "\n".join(out)


def everything(code):
    """All the light edits at once: checks and docstring dropped, renamed, reordered, reformatted, commented."""
    return comment(reformat(reorder(rename(drop_checks(code)))))


EDITS = {"verbatim": lambda c: c, "docstring dropped": drop_docstring, "checks removed": drop_checks,
         "renamed": lambda c: rename(drop_docstring(c)), "reordered": lambda c: reorder(drop_docstring(c)),
         "reformatted": lambda c: reformat(drop_docstring(c)), "commented": lambda c: comment(drop_docstring(c)),
         "all edits": everything}

# Private helpers inlined by hand (and checks removed), as a student would to make a copy run in the notebook.
INLINED = {
    "rnn_step_forward": '''
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    H, D = W_ih.shape
    a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
    h_next = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    h_next = h_next.astype(np.result_type(x_t, h_prev, W_ih, W_hh, b_ih, b_hh), copy=False)
    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)
''',
    "rnn_forward": '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    H, D = W_ih.shape
    T, N = x.shape[:2]
    dtype = np.result_type(x, h0, W_ih, W_hh, b_ih, b_hh)
    ax = (x.reshape(T * N, D) @ W_ih.T).reshape(T, N, H)
    ax += b_ih + b_hh
    hs = np.empty((T, N, H), dtype=dtype)
    h = h0
    for t in range(T):
        a = ax[t] + h @ W_hh.T
        h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
        hs[t] = h
    return hs, (x, h0, W_ih, W_hh, hs, nonlinearity)
''',
    "rnn_step_backward": '''
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    dphi = 1 - h_next * h_next if nonlinearity == "tanh" else (h_next > 0).astype(h_next.dtype)
    da = dh_next * dphi
    dx_t = da @ W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x_t
    dW_hh = da.T @ h_prev
    db_ih = da.sum(axis=0)
    db_hh = db_ih.copy()
    return dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh
''',
    "rnn_backward": '''
def rnn_backward(dhs, cache):
    x, h0, W_ih, W_hh, hs, nonlinearity = cache
    T, N, H = hs.shape
    dphi = 1 - hs * hs if nonlinearity == "tanh" else (hs > 0).astype(hs.dtype)
    da = np.empty_like(dphi, dtype=np.result_type(dphi, dhs))
    dh = np.zeros((N, H), dtype=da.dtype)
    for t in range(T - 1, -1, -1):
        da[t] = (dhs[t] + dh) * dphi[t]
        dh = da[t] @ W_hh
    h_prevs = np.concatenate([h0[None], hs[:-1]])
    da_all = da.reshape(T * N, H)
    dx = (da_all @ W_ih).reshape(x.shape)
    dW_ih = da_all.T @ x.reshape(T * N, -1)
    dW_hh = da_all.T @ h_prevs.reshape(T * N, H)
    db_ih = da.sum(axis=(0, 1))
    db_hh = db_ih.copy()
    return dx, dh, dW_ih, dW_hh, db_ih, db_hh
''',
    "beam_search": '''
def beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    live = [([], 0.0, h0)]
    finished = []
    for _ in range(max_len):
        candidates = []
        for tokens, logp, h in live:
            log_probs, h_next = step_fn(tokens[-1] if tokens else start_token, h)
            log_probs = np.asarray(log_probs, dtype=float)
            candidates += [(tokens + [v], logp + float(log_probs[v]), h_next) for v in range(log_probs.size)]
        order = np.argsort([-c[1] for c in candidates], kind="stable")
        live = []
        for i in order[:beam_width]:
            (finished if candidates[i][0][-1] == end_token else live).append(candidates[i])
        if not live:
            break
    hypotheses = finished + live
    scores = [logp / len(tokens) ** alpha for tokens, logp, _ in hypotheses]
    best = int(np.argmax(scores))
    return hypotheses[best][0], float(scores[best])
''',
}

# Honest answers: three or more per function, in the styles different students write.
HONEST = {
    "rnn_step_forward": [
        '''
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    z = np.dot(x_t, W_ih.T) + np.dot(h_prev, W_hh.T)
    z = z + b_ih + b_hh
    if nonlinearity == "relu":
        out = np.where(z > 0, z, 0.0)
    else:
        out = np.tanh(z)
    return out, (x_t, h_prev, W_ih, W_hh, out, nonlinearity)
''',
        '''
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    act = {"tanh": np.tanh, "relu": lambda u: np.maximum(u, 0)}[nonlinearity]
    pre = np.einsum("nd,hd->nh", x_t, W_ih) + np.einsum("nk,hk->nh", h_prev, W_hh) + (b_ih + b_hh)[None, :]
    h = act(pre)
    cache = {"x": x_t, "h_prev": h_prev, "W_ih": W_ih, "W_hh": W_hh, "h": h, "nl": nonlinearity}
    return h, cache
''',
        '''
def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    N = x_t.shape[0]
    H = W_hh.shape[0]
    h_new = np.zeros((N, H))
    for n in range(N):
        s = W_ih @ x_t[n] + W_hh @ h_prev[n] + b_ih + b_hh
        h_new[n] = np.tanh(s) if nonlinearity == "tanh" else s * (s > 0)
    return h_new, (x_t, h_prev, W_ih, W_hh, h_new, nonlinearity)
''',
    ],
    "rnn_forward": [
        '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    states = []
    h = h0
    for x_t in x:
        pre = x_t @ W_ih.T + h @ W_hh.T + b_ih + b_hh
        h = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)
        states.append(h)
    hs = np.stack(states)
    return hs, (x, h0, W_ih, W_hh, hs, nonlinearity)
''',
        '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    T = len(x)
    out = np.zeros((T,) + h0.shape)
    prev = h0
    for step in range(T):
        out[step], _ = rnn_step_forward(x[step], prev, W_ih, W_hh, b_ih, b_hh, nonlinearity)
        prev = out[step]
    return out, (x, h0, W_ih, W_hh, out, nonlinearity)
''',
        '''
def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    f = np.tanh if nonlinearity == "tanh" else (lambda v: np.clip(v, 0, None))
    inputs = np.einsum("tnd,hd->tnh", x, W_ih) + b_ih
    hidden = [h0]
    for t in range(x.shape[0]):
        hidden.append(f(inputs[t] + hidden[-1] @ W_hh.T + b_hh))
    hs = np.array(hidden[1:])
    cache = (x, h0, W_ih, W_hh, hs, nonlinearity)
    return hs, cache
''',
    ],
    "rnn_step_backward": [
        '''
def rnn_step_backward(dh_next, cache):
    x, hp, Wi, Wh, h, nl = cache
    if nl == "tanh":
        g = dh_next * (1.0 - h ** 2)
    else:
        g = dh_next * (h > 0)
    grads = (g @ Wi, g @ Wh, g.T @ x, g.T @ hp, np.sum(g, 0), np.sum(g, 0))
    return grads
''',
        '''
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    local = np.where(h_next > 0, 1.0, 0.0) if nonlinearity == "relu" else 1 - np.square(h_next)
    delta = local * dh_next
    dW_ih = np.einsum("nh,nd->hd", delta, x_t)
    dW_hh = np.einsum("nh,nk->hk", delta, h_prev)
    dx = np.einsum("nh,hd->nd", delta, W_ih)
    dh = np.einsum("nh,hk->nk", delta, W_hh)
    db = delta.sum(0)
    return dx, dh, dW_ih, dW_hh, db, db.copy()
''',
        '''
def rnn_step_backward(dh_next, cache):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
    N, H = h_next.shape
    dW_ih = np.zeros_like(W_ih)
    dW_hh = np.zeros_like(W_hh)
    dx_t = np.zeros_like(x_t)
    dh_prev = np.zeros_like(h_prev)
    db = np.zeros(H)
    for n in range(N):
        d = dh_next[n] * ((1 - h_next[n] ** 2) if nonlinearity == "tanh" else (h_next[n] > 0))
        dW_ih += np.outer(d, x_t[n])
        dW_hh += np.outer(d, h_prev[n])
        dx_t[n] = W_ih.T @ d
        dh_prev[n] = W_hh.T @ d
        db += d
    return dx_t, dh_prev, dW_ih, dW_hh, db, db.copy()
''',
    ],
    "rnn_backward": [
        '''
def rnn_backward(dhs, cache):
    x, h0, W_ih, W_hh, hs, nonlinearity = cache
    T = x.shape[0]
    grads = {k: np.zeros_like(v) for k, v in (("W_ih", W_ih), ("W_hh", W_hh))}
    dx = np.zeros_like(x)
    db = np.zeros(W_hh.shape[0])
    carry = np.zeros_like(h0)
    for t in reversed(range(T)):
        prev = hs[t - 1] if t > 0 else h0
        step = (x[t], prev, W_ih, W_hh, hs[t], nonlinearity)
        dx[t], carry, gi, gh, bi, _ = rnn_step_backward(dhs[t] + carry, step)
        grads["W_ih"] += gi
        grads["W_hh"] += gh
        db += bi
    return dx, carry, grads["W_ih"], grads["W_hh"], db, db.copy()
''',
        '''
def rnn_backward(dhs, cache):
    x, h0, W_ih, W_hh, hs, nonlinearity = cache
    T, N, H = hs.shape
    previous = np.concatenate([h0[np.newaxis], hs[:-1]], axis=0)
    deriv = (1 - hs ** 2) if nonlinearity == "tanh" else (hs > 0).astype(float)
    deltas = np.zeros_like(hs)
    running = np.zeros((N, H))
    t = T - 1
    while t >= 0:
        deltas[t] = deriv[t] * (dhs[t] + running)
        running = deltas[t] @ W_hh
        t -= 1
    dx = np.einsum("tnh,hd->tnd", deltas, W_ih)
    dWi = np.einsum("tnh,tnd->hd", deltas, x)
    dWh = np.einsum("tnh,tnk->hk", deltas, previous)
    dbias = deltas.sum(axis=(0, 1))
    return dx, running, dWi, dWh, dbias, dbias.copy()
''',
        '''
def rnn_backward(dhs, cache):
    xs, start, Wx, Wh, states, kind = cache
    dWx, dWh = 0 * Wx, 0 * Wh
    dxs = []
    db = 0.0
    g = 0 * start
    for t in range(len(xs) - 1, -1, -1):
        h = states[t]
        hp = start if t == 0 else states[t - 1]
        total = dhs[t] + g
        dz = total * (1 - h * h) if kind == "tanh" else total * (h > 0)
        dxs.insert(0, dz @ Wx)
        dWx = dWx + dz.T @ xs[t]
        dWh = dWh + dz.T @ hp
        db = db + dz.sum(axis=0)
        g = dz @ Wh
    return np.array(dxs), g, dWx, dWh, db, np.copy(db)
''',
    ],
    "lstm_step_forward": [
        '''
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    z = x_t @ W_ih.T + h_prev @ W_hh.T + b_ih + b_hh
    sig = lambda u: 1 / (1 + np.exp(-u))
    i = sig(z[:, :H])
    f = sig(z[:, H:2 * H])
    g = np.tanh(z[:, 2 * H:3 * H])
    o = sig(z[:, 3 * H:])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x_t, h_prev, c_prev, W_ih, W_hh, i, f, g, o, c)
''',
        '''
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    gates = np.hstack([x_t, h_prev]) @ np.hstack([W_ih, W_hh]).T + (b_ih + b_hh)
    parts = np.array_split(gates, 4, axis=1)
    input_gate, forget_gate, output_gate = [0.5 * (1 + np.tanh(p / 2)) for p in (parts[0], parts[1], parts[3])]
    candidate = np.tanh(parts[2])
    cell = forget_gate * c_prev
    cell += input_gate * candidate
    hidden = output_gate * np.tanh(cell)
    cache = (x_t, h_prev, c_prev, W_ih, W_hh, input_gate, forget_gate, candidate, output_gate, cell)
    return hidden, cell, cache
''',
        '''
def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = W_hh.shape[1]
    def gate(k, fn):
        rows = slice(k * H, (k + 1) * H)
        return fn(x_t @ W_ih[rows].T + b_ih[rows] + h_prev @ W_hh[rows].T + b_hh[rows])
    logistic = lambda v: np.exp(-np.logaddexp(0, -v))
    ig, fg, gg, og = gate(0, logistic), gate(1, logistic), gate(2, np.tanh), gate(3, logistic)
    c_next = fg * c_prev + ig * gg
    return og * np.tanh(c_next), c_next, (x_t, h_prev, c_prev, W_ih, W_hh, ig, fg, gg, og, c_next)
''',
    ],
    "lstm_step_backward": [
        '''
def lstm_step_backward(dh_next, dc_next, cache):
    x, hp, cp, Wi, Wh, i, f, g, o, c = cache
    t = np.tanh(c)
    dct = dc_next + dh_next * o * (1 - t ** 2)
    d_i = dct * g * i * (1 - i)
    d_f = dct * cp * f * (1 - f)
    d_g = dct * i * (1 - g ** 2)
    d_o = dh_next * t * o * (1 - o)
    dz = np.hstack([d_i, d_f, d_g, d_o])
    return dz @ Wi, dz @ Wh, dct * f, dz.T @ x, dz.T @ hp, dz.sum(0), dz.sum(0)
''',
        '''
def lstm_step_backward(dh_next, dc_next, cache):
    x_t, h_prev, c_prev, W_ih, W_hh, ig, fg, cand, og, c = cache
    grads = {}
    tc = np.tanh(c)
    grads["o"] = dh_next * tc
    total_c = dh_next * og * (1.0 - tc * tc) + dc_next
    grads["f"] = total_c * c_prev
    grads["i"] = total_c * cand
    grads["g"] = total_c * ig
    pre = [grads["i"] * ig * (1 - ig), grads["f"] * fg * (1 - fg), grads["g"] * (1 - cand * cand),
           grads["o"] * og * (1 - og)]
    d_pre = np.concatenate(pre, axis=1)
    dW_ih = np.einsum("ng,nd->gd", d_pre, x_t)
    dW_hh = np.einsum("ng,nh->gh", d_pre, h_prev)
    db = np.einsum("ng->g", d_pre)
    return np.einsum("ng,gd->nd", d_pre, W_ih), np.einsum("ng,gh->nh", d_pre, W_hh), total_c * fg, dW_ih, dW_hh, db, db
''',
        '''
def lstm_step_backward(dh_next, dc_next, cache):
    x_t, h_prev, c_prev, W_ih, W_hh, i, f, g, o, c_next = cache
    H = c_next.shape[1]
    sig_grad = lambda s: s * (1 - s)
    dc = dc_next.copy()
    dc += dh_next * o * (1 - np.tanh(c_next) ** 2)
    dA = np.empty((c_next.shape[0], 4 * H))
    dA[:, :H] = dc * g * sig_grad(i)
    dA[:, H:2 * H] = dc * c_prev * sig_grad(f)
    dA[:, 2 * H:3 * H] = dc * i * (1 - g ** 2)
    dA[:, 3 * H:] = dh_next * np.tanh(c_next) * sig_grad(o)
    db = dA.sum(axis=0)
    return dA @ W_ih, dA @ W_hh, dc * f, dA.T @ x_t, dA.T @ h_prev, db, db.copy()
''',
    ],
    "gru_step_forward": [
        '''
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    gi = x_t @ W_ih.T + b_ih
    gh = h_prev @ W_hh.T + b_hh
    sig = lambda u: 1 / (1 + np.exp(-u))
    reset = sig(gi[:, :H] + gh[:, :H])
    update = sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    new = np.tanh(gi[:, 2 * H:] + reset * gh[:, 2 * H:])
    h = update * h_prev + (1 - update) * new
    return h, (x_t, h_prev, W_ih, W_hh, reset, update, new, gh[:, 2 * H:])
''',
        '''
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = W_hh.shape[1]
    Wr, Wz, Wn = W_ih[:H], W_ih[H:2*H], W_ih[2*H:]
    Ur, Uz, Un = W_hh[:H], W_hh[H:2*H], W_hh[2*H:]
    logistic = lambda v: np.exp(-np.logaddexp(0, -v))
    r = logistic(x_t @ Wr.T + h_prev @ Ur.T + b_ih[:H] + b_hh[:H])
    z = logistic(x_t @ Wz.T + h_prev @ Uz.T + b_ih[H:2*H] + b_hh[H:2*H])
    hn = h_prev @ Un.T + b_hh[2*H:]
    n = np.tanh(x_t @ Wn.T + b_ih[2*H:] + r * hn)
    return n + z * (h_prev - n), (x_t, h_prev, W_ih, W_hh, r, z, n, hn)
''',
        '''
def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    parts_x = np.split(np.dot(x_t, W_ih.T) + b_ih, 3, axis=1)
    parts_h = np.split(np.dot(h_prev, W_hh.T) + b_hh, 3, axis=1)
    gates = [0.5 * (1 + np.tanh(0.5 * (a + b))) for a, b in zip(parts_x[:2], parts_h[:2])]
    reset_gate, update_gate = gates
    candidate = np.tanh(parts_x[2] + reset_gate * parts_h[2])
    h_next = (1 - update_gate) * candidate + update_gate * h_prev
    cache = (x_t, h_prev, W_ih, W_hh, reset_gate, update_gate, candidate, parts_h[2])
    return h_next, cache
''',
    ],
    "clip_by_global_norm": [
        '''
def clip_by_global_norm(grads, max_norm, eps=1e-6):
    total = 0.0
    for name in grads:
        total += float((grads[name] ** 2).sum())
    norm = total ** 0.5
    factor = max_norm / (norm + eps)
    if factor >= 1:
        return {name: g.copy() for name, g in grads.items()}, norm
    return {name: g * factor for name, g in grads.items()}, norm
''',
        '''
def clip_by_global_norm(grads, max_norm, eps=1e-6):
    flat = np.concatenate([np.ravel(g) for g in grads.values()])
    gnorm = float(np.linalg.norm(flat))
    scale = min(1.0, max_norm / (gnorm + eps))
    clipped = {}
    for key, value in grads.items():
        clipped[key] = scale * value
    return clipped, gnorm
''',
        '''
def clip_by_global_norm(grads, max_norm, eps=1e-6):
    norm = np.sqrt(np.sum([np.vdot(v, v) for v in grads.values()]))
    out = dict(grads)
    if norm > max_norm:
        c = max_norm / (norm + eps)
        out = {k: v * c for k, v in grads.items()}
    return out, float(norm)
''',
    ],
    "softmax_cross_entropy": [
        '''
def softmax_cross_entropy(logits, y, mask=None):
    if mask is None:
        mask = np.ones(y.shape)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=-1, keepdims=True)
    T, N, V = logits.shape
    picked = probs[np.arange(T)[:, None], np.arange(N)[None, :], y]
    count = mask.sum()
    loss = -(np.log(picked) * mask).sum() / count
    dlogits = probs.copy()
    dlogits[np.arange(T)[:, None], np.arange(N)[None, :], y] -= 1
    dlogits *= mask[:, :, None] / count
    return float(loss), dlogits
''',
        '''
def softmax_cross_entropy(logits, y, mask=None):
    V = logits.shape[-1]
    flat = logits.reshape(-1, V)
    labels = y.reshape(-1)
    weights = np.ones(labels.shape) if mask is None else mask.reshape(-1).astype(float)
    m = flat.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(flat - m).sum(axis=1))
    nll = lse - flat[np.arange(len(labels)), labels]
    denom = weights.sum()
    onehot = np.eye(V)[labels]
    soft = np.exp(flat - lse[:, None])
    grad = (soft - onehot) * weights[:, None] / denom
    return float((nll * weights).sum() / denom), grad.reshape(logits.shape)
''',
        '''
def softmax_cross_entropy(logits, y, mask=None):
    keep = np.ones_like(y, dtype=float) if mask is None else mask.astype(float)
    total = 0.0
    grad = np.zeros_like(logits)
    n = keep.sum()
    for idx in np.ndindex(*y.shape):
        row = logits[idx] - np.max(logits[idx])
        p = np.exp(row) / np.sum(np.exp(row))
        total -= keep[idx] * np.log(p[y[idx]])
        p[y[idx]] -= 1.0
        grad[idx] = keep[idx] * p / n
    return total / n, grad
''',
    ],
    "masked_mean_pool": [
        '''
def masked_mean_pool(hs, mask):
    weights = mask.astype(float)[:, :, None]
    return (hs * weights).sum(0) / weights.sum(0)
''',
        '''
def masked_mean_pool(hs, mask):
    T, N, H = hs.shape
    out = np.zeros((N, H))
    for n in range(N):
        valid = [hs[t, n] for t in range(T) if mask[t, n]]
        out[n] = np.mean(valid, axis=0)
    return out
''',
        '''
def masked_mean_pool(hs, mask):
    m = np.asarray(mask, dtype=hs.dtype)
    total = np.einsum("tnh,tn->nh", hs, m)
    counts = np.einsum("tn->n", m)
    return total / counts[:, np.newaxis]
''',
    ],
    "beam_search": [
        '''
def beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    beams = [(0.0, [], h0)]
    done = []
    for step in range(max_len):
        expanded = []
        for score, seq, state in beams:
            prev = seq[-1] if seq else start_token
            logp, new_state = step_fn(prev, state)
            for tok, lp in enumerate(logp):
                expanded.append((score + float(lp), seq + [tok], new_state))
        expanded.sort(key=lambda item: -item[0])
        beams = []
        for cand in expanded[:beam_width]:
            if cand[1][-1] == end_token:
                done.append(cand)
            else:
                beams.append(cand)
        if len(beams) == 0:
            break
    pool = done + beams
    def normalised(c):
        return c[0] / (len(c[1]) ** alpha)
    best = max(pool, key=normalised)
    return best[1], float(normalised(best))
''',
        '''
def beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    hyps = {(): (0.0, h0)}
    complete = {}
    for _ in range(max_len):
        scored = []
        for seq, (lp, h) in hyps.items():
            log_probs, h2 = step_fn(seq[-1] if seq else start_token, h)
            log_probs = np.asarray(log_probs)
            top = np.argsort(-log_probs, kind="stable")[:beam_width]
            scored.extend((lp + float(log_probs[k]), seq + (int(k),), h2) for k in top)
        scored.sort(key=lambda s: -s[0])
        hyps = {}
        for lp, seq, h in scored[:beam_width]:
            target = complete if seq[-1] == end_token else hyps
            target[seq] = (lp, h)
        if not hyps:
            break
    everything = {**complete, **hyps}
    ranking = {seq: val[0] / len(seq) ** alpha for seq, val in everything.items()}
    winner = max(ranking, key=ranking.get)
    return list(winner), ranking[winner]
''',
        '''
def beam_search(step_fn, h0, start_token, beam_width, max_len, end_token, alpha=0.0):
    seqs, scores, states = [[]], np.array([0.0]), [h0]
    finished = []
    for t in range(max_len):
        outputs = [step_fn(s[-1] if s else start_token, st) for s, st in zip(seqs, states)]
        table = np.stack([np.asarray(o[0]) for o in outputs]) + scores[:, None]
        V = table.shape[1]
        flat = np.argsort(-table.ravel(), kind="stable")[:beam_width]
        seqs_next, scores_next, states_next = [], [], []
        for k in flat:
            b, v = divmod(int(k), V)
            entry = (seqs[b] + [v], float(table[b, v]), outputs[b][1])
            if v == end_token:
                finished.append(entry)
            else:
                seqs_next.append(entry[0])
                scores_next.append(entry[1])
                states_next.append(entry[2])
        if not seqs_next:
            break
        seqs, scores, states = seqs_next, np.array(scores_next), states_next
    alive = [(s, sc, None) for s, sc in zip(seqs, scores)] if seqs_next else []
    allh = finished + alive
    normed = [sc / len(s) ** alpha for s, sc, _ in allh]
    j = int(np.argmax(normed))
    return allh[j][0], float(normed[j])
''',
    ],
    "parallel_scan": [
        '''
def parallel_scan(a, b, h0=None):
    A = np.array(a, dtype=float)
    B = np.array(b, dtype=float)
    if h0 is not None:
        B[0] = A[0] * h0 + B[0]
    T = A.shape[0]
    step = 1
    while step < T:
        newB = B.copy()
        newA = A.copy()
        newB[step:] = A[step:] * B[:-step] + B[step:]
        newA[step:] = A[step:] * A[:-step]
        A, B = newA, newB
        step = step * 2
    return B
''',
        '''
def parallel_scan(a, b, h0=None):
    def combine(left, right):
        return left[0] * right[0], right[0] * left[1] + right[1]
    elems = [(a[t], b[t]) for t in range(len(a))]
    if h0 is not None:
        elems[0] = (a[0], a[0] * h0 + b[0])
    offset = 1
    while offset < len(elems):
        elems = [elems[t] if t < offset else combine(elems[t - offset], elems[t]) for t in range(len(elems))]
        offset *= 2
    return np.stack([e[1] for e in elems])
''',
        '''
def parallel_scan(a, b, h0=None):
    T = len(a)
    start = np.zeros_like(b[0]) if h0 is None else h0
    logs = int(np.ceil(np.log2(max(T, 1))))
    coef = np.concatenate([np.ones_like(a[:1]), a], axis=0)
    vals = np.concatenate([start[None], b], axis=0)
    for level in range(logs + 1):
        d = 2 ** level
        if d > T:
            break
        vals = np.concatenate([vals[:d], coef[d:] * vals[:-d] + vals[d:]], axis=0)
        coef = np.concatenate([coef[:d], coef[d:] * coef[:-d]], axis=0)
    return vals[1:]
''',
    ],
}
