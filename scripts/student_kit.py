"""Build the student kit: what an instructor hands out, and nothing a student must not see.

`make student-kit` writes _build/student-kit/ and a zip of it, _build/rnn-course-student-kit.zip:

- `notebooks/`: the release notebooks of every assignment, exactly as exercises/ holds them (no solutions, no
  hidden tests: nbgrader removed them);
- `wheels/rnncore-<version>-py3-none-any.whl`: rnncore, which is what the set-up cells and the visible checks
  import (the reference functions stay locked while a student's answer is checked);
- `requirements.txt` (numpy, Jupyter and the wheel) and `requirements-torch.txt` (torch, for the notebooks that
  train a torch model: chapter 7's part 7);
- `START.md`: one page on how to start.

The grading tools are a package of their own, rnngrade/ (they name the hidden tests' machinery, the verifier's
cases and the references of the graded tasks), which the repository's pyproject.toml installs beside rnncore. The
wheel is built from a copy of rnncore/ alone, with a pyproject of its own, and is refused if it holds any rnngrade
file or any module that imports rnngrade.
"""

import ast
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "_build" / "student-kit"
ZIP = ROOT / "_build" / "rnn-course-student-kit.zip"
GRADING = "rnngrade"  # the package of the grading tools: the student wheel neither holds nor imports it


def pinned(name, constraints=ROOT / "constraints.txt"):
    """The exact version of `name` that constraints.txt pins; raise ValueError naming the package if none."""
    for line in constraints.read_text().splitlines():
        match = re.fullmatch(rf"{re.escape(name)}==(\S+)", line.strip(), flags=re.I)
        if match:
            return match.group(1)
    raise ValueError(f"constraints.txt pins no version of {name!r}")


def project_version(pyproject=ROOT / "pyproject.toml"):
    """rnncore's version, from pyproject.toml."""
    import tomllib

    return tomllib.loads(pyproject.read_text())["project"]["version"]


def assignments(root=ROOT):
    """The release notebooks, exercises/<assignment>/<assignment>.ipynb, in order."""
    found = sorted((root / "exercises").glob("*/*.ipynb"))
    if not found:
        raise SystemExit("exercises/ holds no release notebook: run `make release` first")
    return found


def uses_torch(notebook):
    """True if any code cell of the notebook imports torch (directly or through grading.import_torch)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return any(re.search(r"^\s*(import torch|from torch\b)|import_torch\(", cell.source, flags=re.M)
               for cell in nb.cells if cell.cell_type == "code")


def imports_grading(source):
    """True if the Python `source` imports rnngrade (an import statement, or import_module/__import__ of it)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            names = [str(node.args[0].value)]
        else:
            continue
        if any(name == GRADING or name.startswith(GRADING + ".") for name in names):
            return True
    return False


def grading_files(wheel):
    """The files of `wheel` that are rnngrade's or import it (what the student wheel must not hold)."""
    with zipfile.ZipFile(wheel) as whl:
        return [n for n in whl.namelist() if n.split("/")[0] == GRADING
                or (n.endswith(".py") and imports_grading(whl.read(n).decode("utf-8")))]


def build_wheel(target_dir, root=ROOT):
    """Build the student-side rnncore wheel into `target_dir`; return its path."""
    version = project_version(root / "pyproject.toml")
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        shutil.copytree(root / "rnncore", stage / "rnncore", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (stage / "README.md").write_text(
            "rnncore: the reference package of 'Recurrent Neural Networks from the Ground Up', as students install "
            "it (the checks of the graded notebooks, the layers and the data).\n")
        (stage / "pyproject.toml").write_text(f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "rnncore"
version = "{version}"
description = "The reference package of 'Recurrent Neural Networks from the Ground Up' (student edition)."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["numpy>=1.24"]

[tool.setuptools.packages.find]
include = ["rnncore*"]

[tool.setuptools.package-data]
rnncore = ["data/*", "goldens.json"]
""")
        target_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--no-build-isolation", "--wheel-dir", str(target_dir), str(stage)], check=True)
    wheel = target_dir / f"rnncore-{version}-py3-none-any.whl"
    leaked = grading_files(wheel)
    if leaked:
        raise SystemExit(f"the student wheel holds grading code ({GRADING} or what imports it): {leaked[:3]}")
    return wheel


START = """# Recurrent Neural Networks from the Ground Up: how to start

You need **Python 3.11 or newer** and a terminal. Everything below works
offline once installed, on a laptop CPU.

1. Unzip the kit and open a terminal in its folder.
2. Make a virtual environment and install what the notebooks need (numpy, Jupyter, and `rnncore`, the course's
   package, from the wheel in `wheels/`):

   ```bash
   python3 -m venv .venv
   source .venv/bin/activate          # on Windows: .venv\\Scripts\\activate
   pip install -r requirements.txt
   ```

3. {torch_line}
4. Start Jupyter and open a notebook from `notebooks/`:

   ```bash
   jupyter lab notebooks/
   ```

## How a notebook works

- Run the **set-up cell** at the top first. Then, for each part, write your code where it says `# YOUR CODE HERE`
  (delete the `raise NotImplementedError()` line) and run the cell, then the **visible checks** below it. A check
  that fails says what is wrong (which output, which shape, which time step) and which section of the book to reread.
- Keep each function's name, signature and docstring: the graders call them. Write your answer inside the answer
  cell; helper code in other cells is not seen by the grader.
- When you submit, hidden checks run as well (more cases, edge cases): passing the visible checks is necessary, not
  sufficient. Before you submit: restart the kernel and run all cells, and check that nothing fails.
- `rnncore` holds the course's reference functions, and they are locked while your answers are checked: an answer
  that calls them earns nothing. Copies of the reference or of a classmate's answer are detected and shown to your
  instructor.

## What is in the kit

| file | what |
| --- | --- |
{files}
"""


def write_start(kit, notebooks, torch_notebooks, wheel):
    """Write START.md for these notebooks."""
    if torch_notebooks:
        names = ", ".join(f"`{n.name}`" for n in torch_notebooks)
        torch_line = (f"Only for {names}: install PyTorch as well (the CPU build is enough, about 200 MB): "
                      "`pip install -r requirements-torch.txt`. The other notebooks need numpy only.")
    else:
        torch_line = "No notebook of this kit needs PyTorch."
    rows = [f"| `notebooks/{n.name}` | assignment {n.stem} |" for n in notebooks]
    rows += [f"| `wheels/{wheel.name}` | the `rnncore` package: the checks, layers and data the notebooks use |",
             "| `requirements.txt` | numpy, Jupyter and rnncore |"]
    if torch_notebooks:
        rows.append("| `requirements-torch.txt` | PyTorch, for the notebooks that train a torch model |")
    (kit / "START.md").write_text(START.format(torch_line=torch_line, files="\n".join(rows)))


def build(kit=KIT, zip_path=ZIP, root=ROOT):
    """Write the kit folder and its zip; return the folder."""
    if kit.exists():
        shutil.rmtree(kit)
    (kit / "notebooks").mkdir(parents=True)
    notebooks = []
    for source in assignments(root):
        target = kit / "notebooks" / source.name
        shutil.copy2(source, target)
        notebooks.append(target)
    wheel = build_wheel(kit / "wheels", root)
    (kit / "requirements.txt").write_text(
        "# pip install -r requirements.txt   (Python 3.11 or newer)\n"
        f"numpy=={pinned('numpy')}\n"
        f"jupyterlab=={pinned('jupyterlab')}\n"
        f"ipykernel=={pinned('ipykernel')}\n"
        f"./wheels/{wheel.name}\n")
    torch_notebooks = [n for n in notebooks if uses_torch(n)]
    if torch_notebooks:
        (kit / "requirements-torch.txt").write_text(
            f"# Only for {', '.join(n.name for n in torch_notebooks)}: pip install -r requirements-torch.txt\n"
            f"torch=={pinned('torch')}\n")
    write_start(kit, notebooks, torch_notebooks, wheel)
    if zip_path.exists():
        zip_path.unlink()
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(kit.rglob("*")):
            if path.is_file():
                zf.write(path, Path("rnn-course-student-kit") / path.relative_to(kit))
    return kit


if __name__ == "__main__":
    folder = build()
    print(f"student kit: {folder.relative_to(ROOT)}/ and {ZIP.relative_to(ROOT)}")
