"""The student kit as a student meets it: installed into a fresh virtual environment, every notebook started.

`make student-kit` builds it (scripts/student_kit.py). Here it is built into a temporary folder and installed with
its own requirements.txt into a new venv that has neither torch nor this repository, and in that venv every
release notebook's set-up cell runs, its blank answer cells run, and every visible check fails with a message of
its own that names its function: never an ImportError, a NameError, or a bare NotImplementedError.
"""

import json
import subprocess
import sys
import zipfile

import nbformat
import pytest
import student_kit
from conftest import ROOT

# Run inside the kit's venv: execute the release notebook's cells in order, in a kernel of that venv, and report
# each cell's grade_id with the error it raised (or None).
DRIVER = r"""
import json, sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
report = []
for cell in nb.cells:
    if cell.cell_type != "code":
        continue
    error = next(({"ename": o["ename"], "evalue": o["evalue"]} for o in cell.get("outputs", [])
                  if o.get("output_type") == "error"), None)
    report.append({"grade_id": cell.metadata.get("nbgrader", {}).get("grade_id"), "error": error})
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    base = tmp_path_factory.mktemp("kit")
    return student_kit.build(kit=base / "student-kit", zip_path=base / "kit.zip")


@pytest.fixture(scope="module")
def kit_python(kit, tmp_path_factory):
    """A fresh venv with the kit's requirements.txt installed (and nothing of this repository); its python."""
    venv = tmp_path_factory.mktemp("venv") / "student"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                           "--disable-pip-version-check", "-r", "requirements.txt"],
                          cwd=kit, capture_output=True, text=True)
    assert proc.returncode == 0, f"pip install -r requirements.txt failed:\n{proc.stdout}\n{proc.stderr}"
    return python


def test_kit_holds_the_release_and_nothing_of_the_instructors(kit):
    names = sorted(p.name for p in (kit / "notebooks").glob("*.ipynb"))
    assert names == sorted(p.name for p in (ROOT / "exercises").glob("*/*.ipynb"))
    for nb_path in (kit / "notebooks").glob("*.ipynb"):
        assert nb_path.read_bytes() == next((ROOT / "exercises").glob(f"*/{nb_path.name}")).read_bytes()
        text = nb_path.read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{nb_path.name} holds {marker!r}"
    (wheel,) = (kit / "wheels").glob("rnncore-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        files = whl.namelist()
    needed = {"rnncore/grading.py", "rnncore/goldens.py", "rnncore/goldens.json", "rnncore/data/sunspots.csv"}
    assert needed <= set(files), needed - set(files)
    assert not [f for f in files if f.startswith("rnngrade/")], "the student wheel ships the grading tools"
    assert student_kit.grading_files(wheel) == [], "the student wheel holds a module that imports rnngrade"
    assert not [f for f in files if f.startswith(("solutions/", "tests/"))]
    start = (kit / "START.md").read_text()
    for needed in ("python3 -m venv", "pip install -r requirements.txt", "requirements-torch.txt", "jupyter lab",
                   "set-up cell", "visible checks"):
        assert needed in start, f"START.md does not say {needed!r}"
    assert "torch" in (kit / "requirements-torch.txt").read_text()
    assert "torch" not in (kit / "requirements.txt").read_text()


def test_kit_installs_without_torch_or_the_repository(kit_python):
    probe = ("import importlib.util, rnncore; print(rnncore.__file__); "
             "print(importlib.util.find_spec('torch') is None, importlib.util.find_spec('rnngrade') is None)")
    out = subprocess.run([str(kit_python), "-c", probe], capture_output=True, text=True, check=True,
                         cwd=kit_python.parent).stdout.split()
    assert "site-packages" in out[0] and not out[0].startswith(str(ROOT / "rnncore")), out
    assert out[1:] == ["True", "True"], "the kit's venv has torch or the grading tools (rnngrade)"


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "exercises").glob("*/*.ipynb")))
def test_every_visible_check_fails_with_its_own_message_on_blank_answers(kit, kit_python, notebook, tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run([str(kit_python), str(driver), str(kit / "notebooks" / notebook)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cells = json.loads(proc.stdout)
    nb = nbformat.read(kit / "notebooks" / notebook, as_version=4)
    graded = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]  # not the written answers
    checks = [c for c in cells if (c["grade_id"] or "").endswith("_visible")]
    assert len(checks) == len(graded), f"{notebook}: {len(checks)} visible checks for {len(graded)} functions"
    for cell in cells:
        gid, error = cell["grade_id"] or "", cell["error"]
        if gid.endswith("_visible"):
            func = gid.removeprefix("test_").removesuffix("_visible")
            assert error, f"{notebook}: {gid} passed on a blank answer"
            assert error["ename"] not in {"ImportError", "ModuleNotFoundError", "NameError", "NotImplementedError"}, (
                f"{notebook}: {gid} fails with {error['ename']}: {error['evalue']}")
            assert func in error["evalue"], f"{notebook}: {gid}'s message does not name {func}: {error['evalue']}"
        elif gid == "import_torch":  # the kit's venv has no torch: the part that needs it says so, in words
            assert error and error["ename"] == "NotReadyError" and "needs PyTorch" in error["evalue"], error
        elif gid not in graded:  # the set-up and every given cell run cleanly; answer cells only define functions
            assert error is None, f"{notebook}: cell {gid!r} fails in the kit: {error}"
