"""The program a verification sandbox runs (its text, after `_wire.py`'s, is passed to `python -I -S -c`).

It reads its whole plan from stdin before any student code runs, then: puts the stand-in `rnncore` first on the
import path, imports numpy, installs an audit hook (no files outside the allowed roots, no new processes,
sockets, ctypes calls or directory changes; the hook acts on what code does, not on what it imports, so
`numpy.testing` still works), runs the notebook's trusted cells and the student's answer cells in order, calls
each graded function on its cases and sends back, on the channel file descriptor, only descriptions of the
returned values and .npy bytes. It never reads anything back from the parent.

Not imported by the package: `sandbox.child_program()` reads this file's text.
"""

# ruff: noqa: F821  (npy_load, describe, run_case, decode come from _wire.py, prepended to this text)


def _main():
    import importlib.abc
    import importlib.util
    import json
    import os
    import sys
    import traceback
    import warnings

    stdin = sys.stdin.buffer
    size = int(stdin.readline())
    plan = json.loads(stdin.read(size))
    blobs = [stdin.read(n) for n in plan["blob_sizes"]]
    stdin.close()
    os.close(0)

    fd = plan["channel_fd"]
    write = os.write

    def send(header, payload=b""):
        header = dict(header, n=len(payload))
        data = json.dumps(header).encode() + b"\n" + payload
        while data:
            data = data[write(fd, data):]

    # ---- the stand-in rnncore, from memory
    stubs = plan["stubs"]

    class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name in stubs:
                return importlib.util.spec_from_loader(name, self, is_package=(name == "rnncore"))
            return None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            module.__file__ = plan["stub_files"].get(module.__name__, f"<rnncore stub {module.__name__}>")
            exec(compile(stubs[module.__name__], f"<rnncore stub {module.__name__}>", "exec"), module.__dict__)

    sys.meta_path.insert(0, StubFinder())
    warnings.simplefilter("ignore")
    import numpy as np

    np.seterr(all="ignore")
    import contextlib

    lock = lambda name: contextlib.nullcontext()  # noqa: E731
    try:
        import rnncore  # noqa: F401  (the stand-in, loaded before the hook)
        import rnncore._lock
        import rnncore.grading  # noqa: F401

        lock = rnncore._lock.locked
    except Exception as exc:  # a broken stand-in must not stop the verification of everything else
        sys.stderr.write(f"the rnncore stand-in failed to import: {exc!r}\n")

    for name in plan.get("preload", []):
        try:
            __import__(name)
        except Exception:
            pass

    # ---- the audit hook: cannot be removed once installed
    read_roots = tuple(plan["read_roots"])
    write_root = plan["write_root"]
    deny_roots = tuple(plan["deny_roots"])
    data_roots = tuple(plan.get("data_roots", []))
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep
    blocked_prefixes = ("ctypes.", "socket.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
                        "os.kill", "os.setuid", "os.setgid", "os.chdir", "os.fchdir", "os.chmod", "os.chown",
                        "os.link", "os.symlink", "os.rename", "os.truncate", "os.utime", "os.setx", "os.removex",
                        "sqlite3.", "pty.", "os.system", "sys.addaudithook",
                        "fcntl.", "os.startfile", "webbrowser.", "urllib.", "http.", "ftplib.", "smtplib.",
                        "telnetlib.", "imaplib.", "poplib.", "nntplib.")

    def under(path, roots):
        return any(path == r or path.startswith(r.rstrip(sep) + sep) for r in roots)

    def allowed_path(raw, writing):
        if isinstance(raw, int):
            return True  # an already open descriptor
        path = realpath(fsdecode(raw))
        if under(path, deny_roots) and not (not writing and under(path, data_roots)):
            return False
        if writing:
            return under(path, (write_root,))
        devices = ("/dev/null", "/dev/urandom", "/dev/zero", "/proc/self", "/proc/cpuinfo", "/proc/meminfo",
                   "/sys/devices/system/cpu")
        return under(path, read_roots + data_roots + (write_root, *devices))

    def hook(event, args):
        if event == "open":
            raw, mode, flags = (list(args) + [None, None])[:3]
            writing = bool((flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC)) or (
                isinstance(mode, str) and any(c in mode for c in "wax+"))
            if raw is not None and not allowed_path(raw, writing):
                raise PermissionError(f"opening {raw!r} is not allowed while your answers are verified")
        elif event in ("os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rmdir", "glob.glob"):
            if args and args[0] is not None and not allowed_path(args[0], event in ("os.mkdir", "os.remove",
                                                                                        "os.rmdir")):
                raise PermissionError(f"{event} of {args[0]!r} is not allowed while your answers are verified")
        elif event.startswith(blocked_prefixes):
            raise PermissionError(f"{event} is not allowed while your answers are verified")

    sys.addaudithook(hook)

    # ---- the notebook's namespace, with a minimal IPython stand-in for transformed magics
    class Shell:
        def run_line_magic(self, name, line, *a, **k):
            return None

        def run_cell_magic(self, name, line, cell):
            if name in ("time", "timeit", "capture", "prun"):
                exec(compile(cell, "<cell magic>", "exec"), ns)
            return None

        def system(self, *a, **k):
            return None

        getoutput = system

    shell = Shell()
    ns = {"__name__": "__main__", "__builtins__": __builtins__, "get_ipython": lambda: shell,
          "display": lambda *a, **k: None}

    def brief(exc):
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
        line = text[-1] if text else type(exc).__name__
        return line[:400]

    send({"e": "ready"})
    for cell in plan["cells"]:
        send({"e": "cell", "i": cell["i"], "id": cell["id"]})
        error = None
        try:
            exec(compile(cell["code"], f"<{cell['kind']} cell {cell['id']}>", "exec", dont_inherit=True), ns)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from student code too
            error = brief(exc)
        send({"e": "cell_end", "i": cell["i"], "error": error})

    for fn in plan["functions"]:
        send({"e": "fn", "name": fn["name"]})
        out_blobs, results = [], []
        if not callable(ns.get(fn["name"])):
            send({"e": "result", "name": fn["name"], "error": f"`{fn['name']}` is not defined by the answer cells"})
            continue

        def lookup(name):
            if name not in ns:
                raise NameError(f"name {name!r} is not defined")
            return ns[name]

        for case in fn["cases"]:
            outputs = []
            try:
                with lock(fn["name"]):  # rnncore's reference functions raise while a student's function runs
                    run_case(case, blobs, lookup, lambda index, value, outputs=outputs, out_blobs=out_blobs:
                             outputs.append({"step": index, "tree": describe(value, out_blobs)}))
                results.append({"outputs": outputs})
            except BaseException as exc:  # whatever the student's code raises
                results.append({"error": brief(exc)})
        sizes = [len(b) for b in out_blobs]
        send({"e": "result", "name": fn["name"], "cases": results, "sizes": sizes}, b"".join(out_blobs))
    send({"e": "done"})
    os._exit(0)


_main()
