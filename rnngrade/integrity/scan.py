"""The integrity scan: flag suspicious code in a submission's answer cells, for a human to look at.

Flags never change a grade. They point at code that reaches into the grading machinery (IPython hooks,
`sys.modules`, `builtins`, monkeypatched numpy/torch/rnncore/grading attributes), touches files, processes or the
network, ends the kernel or swallows KeyboardInterrupt. Copies (of rnncore's reference or of a classmate) are found
by `similarity`, once per assignment over every submission.

Each flag is a dict {"code", "cell", "line", "detail"}; `render(flag)` makes the one-line text the CSV shows.
"""

import ast
import re

from .. import notebook

_PATCHABLE = {"np", "numpy", "torch", "rnncore", "grading", "nbgrader", "builtins", "sys", "math", "IPython",
              "warnings", "copy"}
_IPYTHON_ATTRS = {"input_transformers_post", "input_transformers_cleanup", "input_transformer_manager",
                  "ast_transformers", "events", "set_custom_exc", "showtraceback", "showsyntaxerror", "run_cell",
                  "run_cell_magic", "run_line_magic", "register_magic_function", "user_ns", "user_global_ns",
                  "excepthook", "set_hook", "push", "kernel"}
_FILES = {"open", "io", "os", "pathlib", "Path", "shutil", "glob", "tempfile", "fileinput", "zipfile", "tarfile",
          "sqlite3", "pickle", "shelve", "json", "csv"}
_PROCESS_NET = {"subprocess", "socket", "urllib", "requests", "http", "multiprocessing", "threading", "signal",
                "ctypes", "pty", "asyncio"}
_INTROSPECTION = {"importlib", "inspect", "gc", "sys", "builtins", "__builtins__", "__import__", "ast", "dis",
                  "marshal", "types", "code", "codeop", "linecache", "traceback"}
_SAFE_MODULES = {"numpy", "math", "itertools", "functools", "collections", "typing", "dataclasses", "numbers",
                 "operator", "heapq", "bisect", "random", "statistics", "string", "enum", "abc"}
_OS_PROCESS = {"system", "popen", "fork", "forkpty", "kill", "killpg", "setsid"}
_ESCAPES = {"__class__", "__subclasses__", "__globals__", "__code__", "__closure__", "__bases__", "__mro__",
            "__dict__", "__builtins__", "f_back", "f_globals", "f_locals", "gi_frame", "tb_frame", "__loader__",
            "__spec__"}
_FILE_NUMPY = {"load", "loadtxt", "fromfile", "genfromtxt", "save", "savez", "savez_compressed", "savetxt", "memmap",
               "tofile"}


def render(flag):
    """One line: 'get_ipython in rnn_forward line 3: ...'."""
    where = f" in {flag['cell']}" + (f" line {flag['line']}" if flag.get("line") else "")
    return f"{flag['code']}{where}: {flag['detail']}"


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_code(code, cell, graded=()):
    """Flags for one answer cell's source (IPython syntax allowed)."""
    flags = []

    def add(code_, line, detail):
        flags.append({"code": code_, "cell": cell, "line": line, "detail": detail})

    for i, line in enumerate(code.splitlines(), 1):
        s = line.strip()
        if re.match(r"^(%%?|!)\S", s) or re.match(r"^\w+\s*=\s*!", s):
            add("magic", i, f"IPython syntax `{s[:60]}`")
    try:
        tree = notebook.parse_python(notebook.to_python(code))
    except SyntaxError as exc:
        add("syntax", exc.lineno, f"the cell does not parse ({exc.msg})")
        return flags
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Name) and node.id == "get_ipython":
            add("get_ipython", line, "reaches the IPython shell that runs the tests")
        elif isinstance(node, ast.Attribute) and node.attr in _IPYTHON_ATTRS:
            add("ipython-hook", line, f"uses `.{node.attr}`")
        elif isinstance(node, ast.Attribute) and node.attr in _ESCAPES:
            add("introspection", line, f"uses `.{node.attr}`")
        elif isinstance(node, ast.Attribute) and node.attr in ("ctypes", "_ctypes", "CDLL", "cdll", "pythonapi"):
            add("process-network", line, f"uses `.{node.attr}`")
        elif isinstance(node, ast.Attribute) and _dotted(node) in ("sys.modules", "sys._getframe", "sys.settrace",
                                                                   "sys.setprofile", "sys.addaudithook"):
            add("introspection", line, f"uses `{_dotted(node)}`")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__", "globals", "vars", "eval",
                                                        "exec", "compile", "breakpoint", "exit", "quit", "setattr",
                                                        "delattr", "open", "input"):
            kind = {"open": "file", "exit": "exit", "quit": "exit", "input": "input"}.get(node.id, "introspection")
            add(kind, line, f"uses `{node.id}`")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in mods:
                top = mod.split(".")[0]
                if top == "rnncore":
                    names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else [mod]
                    add("rnncore", line, f"imports {', '.join(names)} from rnncore")
                elif top in _INTROSPECTION:
                    add("introspection", line, f"imports {mod}")
                elif top in _FILES:
                    add("file", line, f"imports {mod}")
                elif top in _PROCESS_NET:
                    add("process-network", line, f"imports {mod}")
                elif top not in _SAFE_MODULES:
                    add("import", line, f"imports {mod}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Attribute, ast.Subscript)) and _root(t) in _PATCHABLE:
                    add("monkeypatch", line, f"assigns to `{ast.unparse(t)[:60]}`")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            if name in ("setattr", "delattr") and node.args and _root(node.args[0]) in _PATCHABLE:
                add("monkeypatch", line, f"{name} on `{ast.unparse(node.args[0])[:40]}`")
            if name in ("os._exit", "sys.exit", "os.abort", "os.kill", "signal.signal"):
                add("exit", line, f"calls {name}")
            head, _, tail = name.partition(".")
            if head == "os" and (tail in _OS_PROCESS or tail.startswith(("exec", "spawn", "posix_spawn"))):
                add("process-network", line, f"calls {name}")
            elif name not in ("os._exit", "os.abort", "os.kill") and (
                    head in ("os", "pathlib", "shutil", "glob", "io") or name in ("Path",)):
                add("file", line, f"calls {name}")
            if name.split(".")[0] in ("np", "numpy") and name.split(".")[-1] in _FILE_NUMPY:
                add("file", line, f"calls {name}")
        elif isinstance(node, ast.ExceptHandler):
            caught = ast.unparse(node.type) if node.type is not None else "everything"
            if node.type is None or re.search(r"\b(KeyboardInterrupt|BaseException|SystemExit)\b", caught):
                add("swallows-interrupt", line, f"catches {caught}")
    return flags


def scan(answers, source):
    """Every flag for a submission: {grade_id: code} answers of `source` (notebook.SourceNotebook)."""
    flags = []
    for gid, code in answers.items():
        flags += scan_code(code, gid, source.functions)
    return flags


def added_cells(submission, source):
    """Code cells of a submission that are neither answer cells nor unchanged trusted cells: {label: code}."""
    trusted = {c.source.strip() for c in source.cells if c.kind == "trusted"}
    out, k = {}, 0
    for cell in submission.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        if (isinstance(meta, dict) and (meta.get("solution") or meta.get("grade"))) or src.strip() in trusted:
            continue  # answers are scanned as such; test cells are restored by nbgrader and never run here
        k += 1
        if src.strip():
            out[f"added cell {k}"] = src
    return out


def scan_submission(submission, answers, source):
    """Flags for the answer cells and for every code cell the student added (which only nbgrader runs)."""
    flags = scan(answers, source)
    for label, code in added_cells(submission, source).items():
        flags += scan_code(code, label)
    return flags
