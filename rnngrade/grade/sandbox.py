"""Run a student's answer cells in a separate, isolated, resource-limited process that only sends arrays back.

One sandbox process runs the notebook's trusted cells and the student's answer cells in order, then calls the
graded functions on their cases (see `_child.py`). A watchdog in the parent limits every cell and every function's
cases by the CPU time the sandbox spends on it, so a loaded machine does not cut an honest answer short (a step
that only waits is stopped by the wall clock; see `_StepClock`); the kernel enforces CPU time, address space and
file size (`setrlimit`). When the process hangs or dies, the parent kills its process group (its whole PID
namespace) and starts a new one that skips the cell that hung or the function that was running, so one bad cell or
function costs only itself. With namespaces (see `isolate.py`) the process also has no network, a read-only disk
with the course's folders and rnncore's source hidden, and an empty tmpfs as its working directory; without them
(no `unshare`), the audit hook in `_child.py` still refuses files outside Python's installation, sockets, processes
and ctypes.

Defaults (`Limits()`), all configurable from `rnn-grade`:

=====================  ==========  ============================================================
cpu_seconds            60          CPU time of one sandbox process (RLIMIT_CPU)
memory_mb              2048        address space of one sandbox process (RLIMIT_AS)
step_timeout           30          CPU seconds for one cell, or for one function's cases (see _StepClock)
submission_timeout     300         wall-clock seconds for everything of one submission
file_size_mb           64          largest file the sandbox may write (RLIMIT_FSIZE), and its tmpfs
output_mb              256         most bytes the parent reads back from one sandbox process
=====================  ==========  ============================================================
"""

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from . import isolate

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission's sandboxes (see the module docstring for the defaults)."""

    cpu_seconds: float = 60.0
    memory_mb: int = 2048
    step_timeout: float = 30.0
    submission_timeout: float = 300.0
    file_size_mb: int = 64
    output_mb: int = 256
    isolation: str = "auto"  # "auto" (namespaces when possible), "namespaces" (required) or "none"

    def __post_init__(self):
        for name in ("cpu_seconds", "memory_mb", "step_timeout", "submission_timeout", "file_size_mb", "output_mb"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits: `{name}` must be a positive number, got {value!r}")
        if self.isolation not in ("auto", "namespaces", "none"):
            raise ValueError(f"Limits: `isolation` must be 'auto', 'namespaces' or 'none', got {self.isolation!r}")


def isolation_mode(limits):
    """'namespaces' or 'none' for these limits on this machine; raise RuntimeError if namespaces are required."""
    if limits.isolation == "none":
        return "none"
    info = isolate.probe()
    if info["mode"] == "namespaces":
        return "namespaces"
    if limits.isolation == "namespaces":
        raise RuntimeError(f"isolation: namespaces were required but are not available ({info['why']})")
    return "none"


def set_limits(cpu_seconds, memory_mb, file_size_mb):
    """A preexec_fn: RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, no core files (runs in the child before exec)."""

    def apply():
        cpu = int(max(1, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
        mem = int(memory_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        size = int(file_size_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def clean_env(extra=None):
    """A scrubbed environment: no HOME secrets, no NBGRADER_*/JUPYTER_*/PYTHON* variables, one BLAS thread."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/nonexistent",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra or {})
    return env


@cache
def child_program():
    """The sandbox program: sys.path from argv, then _wire.py, then _child.py (one string for `python -c`)."""
    prelude = "import sys, json\nsys.path[:] = json.loads(sys.argv[1])\n"
    return prelude + (HERE / "_wire.py").read_text() + "\n" + (HERE / "_child.py").read_text()


@cache
def child_sys_path():
    """The sandbox's sys.path: the standard library and the site-packages that hold numpy (never rnncore's source)."""
    import sysconfig

    import numpy

    paths = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p).startswith(
        tuple(os.path.realpath(v) for k, v in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib")))]
    site = os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__)))
    return [*paths, site]


def rnncore_dir():
    """The folder of the real rnncore package (hidden from and unreadable in sandboxes)."""
    import rnncore

    return os.path.dirname(os.path.realpath(rnncore.__file__))


def grading_dir():
    """The folder of the rnngrade package, which holds the graded tasks' references (hidden and unreadable too)."""
    return str(HERE.parent)


@dataclass
class FunctionOutcome:
    """What the sandbox returned for one function: per case either outputs or an error; or a failure."""

    name: str
    cases: list = field(default_factory=list)  # [{"outputs": [{"step", "tree"}]} | {"error": str}]
    blobs: list = field(default_factory=list)  # .npy bytes, indexed by the trees
    failure: str = ""  # set when the function never completed (timeout, crash, not defined)


@dataclass
class SandboxResult:
    """Everything one submission's sandbox runs produced."""

    functions: dict = field(default_factory=dict)  # name -> FunctionOutcome
    cell_errors: dict = field(default_factory=dict)  # cell id -> error line
    notes: list = field(default_factory=list)  # restarts, timeouts, kills (for the instructor)
    isolation: str = "none"
    seconds: float = 0.0


class _Reader(threading.Thread):
    """Reads framed events from the sandbox's channel, up to a byte budget."""

    def __init__(self, fd, budget):
        super().__init__(daemon=True)
        self.fh = os.fdopen(fd, "rb", buffering=0)
        self.budget = budget
        self.events = []  # (time, header, payload)
        self.error = ""
        self.lock = threading.Lock()

    def _read(self, n):
        chunks, got = [], 0
        while got < n:
            chunk = self.fh.read(min(n - got, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def run(self):
        used = 0
        try:
            while True:
                line = bytearray()
                while not line.endswith(b"\n"):
                    c = self.fh.read(1)
                    if not c:
                        return
                    line += c
                    if len(line) > 1 << 20:
                        raise ValueError("event header too long")
                header = json.loads(line)
                if not isinstance(header, dict) or not isinstance(header.get("n", 0), int) or header.get("n", 0) < 0:
                    raise ValueError("malformed event header")
                used += len(line) + header.get("n", 0)
                if used > self.budget:
                    raise ValueError(f"the sandbox sent more than {self.budget // 2**20} MB")
                payload = self._read(header.get("n", 0)) if header.get("n") else b""
                with self.lock:
                    self.events.append((time.monotonic(), header, payload))
        except (EOFError, OSError):
            return
        except (ValueError, json.JSONDecodeError) as exc:
            self.error = str(exc)[:200]

    def snapshot(self):
        with self.lock:
            return list(self.events)


def _describe_exit(code, killed_for):
    if killed_for:
        return killed_for
    if code is None:
        return "did not finish"
    if code < 0 or code > 128:
        sig = -code if code < 0 else code - 128
        if sig == signal.SIGXCPU:
            return "exceeded the CPU time limit"
        if sig == signal.SIGKILL:
            return "was killed (out of memory or CPU time)"
        return f"crashed (signal {sig})"
    return f"exited with status {code} (os._exit or sys.exit)"


def _outcome(name, header, payload):
    """A FunctionOutcome from a "result" event, whatever the (untrusted) sandbox put in it."""
    if header.get("error"):
        return FunctionOutcome(name, failure=str(header["error"])[:400])
    try:
        sizes, cases, offset, outcome = header.get("sizes", []), header.get("cases", []), 0, FunctionOutcome(name)
        if not isinstance(cases, list) or not isinstance(sizes, list):
            raise ValueError("not lists")
        for size in sizes:
            size = int(size)
            if size < 0:
                raise ValueError("negative size")
            outcome.blobs.append(payload[offset: offset + size])
            offset += size
        for case in cases:
            outputs = case.get("outputs", []) if isinstance(case, dict) else None
            if isinstance(case, dict) and "error" not in case and (not isinstance(outputs, list) or not all(
                    isinstance(o, dict) and type(o.get("step")) is int for o in outputs)):
                raise ValueError("malformed outputs")
        outcome.cases = cases
        return outcome
    except (ValueError, TypeError, AttributeError) as exc:
        return FunctionOutcome(name, failure=f"the sandbox sent a malformed result ({exc})")


def _launch(plan, blobs, limits, mode, hide, workdir):
    """Start one sandbox process; return (Popen, reader)."""
    r, w = os.pipe()
    plan = dict(plan, channel_fd=w, blob_sizes=[len(b) for b in blobs])
    argv = [os.path.realpath(sys.executable), "-I", "-S", "-c", child_program(), json.dumps(child_sys_path())]
    scratch = Path(workdir) / "scratch"
    if mode == "namespaces":
        cmd = isolate.isolated_command(argv, cwd=scratch, scratch=scratch, scratch_size=f"{limits.file_size_mb}m",
                                       hide=[*hide, workdir])
        cwd = "/"
        plan["write_root"] = str(scratch)
    else:
        scratch.mkdir(parents=True, exist_ok=True)
        cmd, cwd = argv, str(scratch)
        plan["write_root"] = os.path.realpath(scratch)
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=out, cwd=cwd, env=clean_env(
        {"TMPDIR": str(scratch)}), pass_fds=(w,), start_new_session=True,
        preexec_fn=set_limits(limits.cpu_seconds, limits.memory_mb, limits.file_size_mb))
    os.close(w)
    reader = _Reader(r, int(limits.output_mb) * 2**20)
    reader.start()
    data = json.dumps(plan).encode()
    try:
        proc.stdin.write(str(len(data)).encode() + b"\n" + data + b"".join(blobs))
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    proc._rnn_output = out
    return proc, reader


def _group_cpu_seconds(pgid):
    """CPU seconds (user + system, with reaped children's) used so far by the live processes of a process group."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command's ")": state, ppid, pgrp, ..., utime (field 14), stime, cutime, cstime (17)
        if len(fields) > 14 and int(fields[2]) == pgid:
            ticks += sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class _StepClock:
    """How long the running step (a cell, or one function's cases) has taken, counted in the sandbox's CPU time.

    A wall-clock limit cut honest answers short on a loaded machine (a forecaster that trains in 12 s took over 30 s
    beside other jobs), so a step is stopped when its processes have *computed* for `limit` seconds. A step that
    waits instead of computing (a sleep loop) uses no CPU: it is stopped once it has been idle for `limit` seconds
    of wall-clock time (under 5% of one core busy), and any step after `WALL_FACTOR` x `limit` whatever it does.
    """

    WALL_FACTOR = 4
    SAMPLE = 0.25  # seconds between reads of /proc

    def __init__(self, pgid):
        self.pgid, self.step, self.cpu0, self.cpu, self.read_at = pgid, None, 0.0, 0.0, 0.0

    def start(self, step_start):
        self.step, self.read_at = step_start, 0.0
        self.cpu0 = self.cpu = _group_cpu_seconds(self.pgid)

    def over(self, limit, now):
        """'' while the step may go on, else why it must stop ("of CPU time", "waiting", "of wall-clock time")."""
        if now - self.read_at >= self.SAMPLE:
            self.cpu, self.read_at = max(self.cpu, _group_cpu_seconds(self.pgid)), now
        used, wall = self.cpu - self.cpu0, now - self.step
        if used > limit:
            return "of CPU time"
        if wall > limit and used < 0.05 * wall:
            return "waiting"
        if wall > self.WALL_FACTOR * limit:
            return "of wall-clock time"
        return ""


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run(cells, functions, blobs, stubs, limits=None, hide=(), preload=()):
    """Run the cells, then each function's cases, in sandboxes; restart past a cell or function that hangs or kills.

    Parameters
    ----------
    cells : list of {"i": index, "id": grade_id, "kind": "trusted" | "answer" | "solution", "code": python}
    functions : list of {"name": function, "cases": [wire case, ...]}
    blobs : list of .npy bytes the cases refer to
    stubs : {module: source} of the stand-in rnncore
    limits : Limits (default: Limits())
    hide : extra paths to hide from the sandbox (the course's folders and gradebook)
    preload : modules to import before the audit hook is installed

    Returns
    -------
    SandboxResult
    """
    started = time.monotonic()
    limits = limits or Limits()
    mode = isolation_mode(limits)
    result = SandboxResult(isolation=mode)
    pending = [f["name"] for f in functions]
    by_name = {f["name"]: f for f in functions}
    skip_cells = set()
    deny = [rnncore_dir(), grading_dir()]
    data = [os.path.join(rnncore_dir(), "data")]  # rnncore's shipped data sets stay readable, its code does not
    code = [str(p) for p in Path(rnncore_dir()).rglob("*") if p.is_file() and not str(p).startswith(data[0] + os.sep)]
    hide = [*hide, *code, grading_dir(), *(isolate.home_entries_to_hide() if mode == "namespaces" else [])]
    files = {m: os.path.join(rnncore_dir(), "__init__.py" if m == "rnncore" else m.split(".", 1)[1] + ".py")
             for m in stubs}
    base = {"stubs": stubs, "stub_files": files, "preload": list(preload), "read_roots": sorted(set(child_sys_path())),
            "deny_roots": deny, "data_roots": data}
    attempts = between = 0
    with tempfile.TemporaryDirectory(prefix="rnngrade-sbx-") as workdir:
        while pending and attempts < len(cells) + len(functions) + 2:
            attempts += 1
            remaining = limits.submission_timeout - (time.monotonic() - started)
            if remaining <= 0:
                for name in pending:
                    result.functions[name] = FunctionOutcome(name, failure="the submission's time budget ran out")
                result.notes.append(f"stopped after {limits.submission_timeout:.0f} s (submission_timeout)")
                break
            plan = dict(base, cells=[c for c in cells if c["i"] not in skip_cells],
                        functions=[by_name[n] for n in pending])
            proc, reader = _launch(plan, blobs, limits, mode, hide, workdir)
            killed_for, seen, step_start = "", 0, time.monotonic()
            clock = _StepClock(proc.pid)
            open_step = ("start", None)
            while True:
                events = reader.snapshot()
                for t, header, payload in events[seen:]:
                    kind = header.get("e")
                    if kind in ("cell", "fn"):
                        open_step, step_start = (kind, header.get("i") if kind == "cell" else header.get("name")), t
                    elif kind in ("cell_end", "ready"):
                        open_step, step_start = ("between", None), t
                        if kind == "cell_end" and header.get("error"):
                            cell = next((c for c in cells if c["i"] == header.get("i")), None)
                            if cell is not None:
                                result.cell_errors[cell["id"]] = str(header["error"])[:400]
                    elif kind == "result":
                        name = header.get("name")
                        if name in pending:
                            result.functions[name] = _outcome(name, header, payload)
                            pending.remove(name)
                        open_step, step_start = ("between", None), t
                seen = len(events)
                if proc.poll() is not None:
                    break
                now = time.monotonic()
                if step_start != clock.step:
                    clock.start(step_start)
                limit = limits.step_timeout if open_step[0] in ("cell", "fn") else max(limits.step_timeout, 30)
                why = clock.over(limit, now)
                if why:
                    what = {"cell": f"cell {open_step[1]}", "fn": f"`{open_step[1]}`"}.get(open_step[0], "startup")
                    killed_for = f"timed out after {limit:.0f} s {why} in {what}"
                    break
                if now - started > limits.submission_timeout:
                    killed_for = f"ran out of the submission's {limits.submission_timeout:.0f} s"
                    break
                if reader.error:
                    killed_for = f"sent malformed output ({reader.error})"
                    break
                time.sleep(0.01)
            if killed_for or proc.poll() is None:
                _kill(proc)
            # A process that exited by itself has closed its end: read to the end, however loaded the machine (a
            # reader still behind after 5 s lost the last function's result, graded 0 as "exited with status 0").
            reader.join(timeout=5 if killed_for else 120)
            # events that arrived after the loop's last look
            for _t, header, payload in reader.snapshot()[seen:]:
                if header.get("e") == "result" and header.get("name") in pending:
                    name = header["name"]
                    result.functions[name] = _outcome(name, header, payload)
                    pending.remove(name)
                elif header.get("e") in ("cell", "fn"):
                    open_step = (header["e"], header.get("i") if header["e"] == "cell" else header.get("name"))
                elif header.get("e") in ("cell_end", "result", "ready"):
                    open_step = ("between", None)
            if not pending:
                break
            why = _describe_exit(proc.returncode, killed_for)
            if open_step[0] == "cell":
                cell = next((c for c in cells if c["i"] == open_step[1]), None)
                skip_cells.add(open_step[1])
                if cell is not None:
                    result.cell_errors[cell["id"]] = f"the sandbox {why} while running this cell; it was skipped"
                result.notes.append(f"cell {cell['id'] if cell else open_step[1]}: {why}; restarted without it")
            elif open_step[0] == "fn" and open_step[1] in pending:
                name = open_step[1]
                result.functions[name] = FunctionOutcome(name, failure=f"the sandbox {why} while checking it")
                pending.remove(name)
                result.notes.append(f"`{name}`: {why}")
            else:
                proc._rnn_output.seek(0)
                tail = proc._rnn_output.read()[-600:].decode("utf-8", "replace").strip()
                result.notes.append(f"the sandbox {why} outside any cell or function: {tail}")
                between += 1
                if open_step[0] == "start" or between >= 2:
                    for name in pending:
                        result.functions[name] = FunctionOutcome(name, failure=f"the sandbox {why} before it started")
                    pending = []
            proc._rnn_output.close()
    for name in pending:
        result.functions[name] = FunctionOutcome(name, failure="not checked (too many restarts)")
    result.seconds = time.monotonic() - started
    return result
