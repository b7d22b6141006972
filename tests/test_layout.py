"""The repository's two packages: rnncore (what students install) and rnngrade (the grading tools, by stage).

rnncore must never import rnngrade (the student kit ships rnncore alone); every module of rnngrade imports; each
stage's docstring names its modules; the console script `rnn-grade` is rnngrade's and runs.
"""

import importlib
import importlib.metadata
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from student_kit import imports_grading

import rnngrade

STAGES = ("assign", "collect", "grade", "integrity", "export")


@pytest.mark.parametrize("source, imports", [
    ("import rnngrade", True),
    ("import numpy, rnngrade.cli as c", True),
    ("from rnngrade import cli", True),
    ("from rnngrade.grade.verify import verify", True),
    ("def f():\n    from rnngrade.assign import tasks\n    return tasks", True),
    ("import importlib\nimportlib.import_module('rnngrade.assign.tasks')", True),
    ("__import__('rnngrade')", True),
    ("import rnncore\nfrom rnncore import grading", False),
    ("from . import rnngrade_notes", False),
    ("import rnngradebook", False),
    ("text = 'import rnngrade'", False),
])
def test_imports_grading_sees_every_form_of_import(source, imports):
    assert imports_grading(source) is imports, source


def test_rnncore_imports_nothing_from_rnngrade():
    sources = sorted((ROOT / "rnncore").rglob("*.py"))
    assert len(sources) > 20, sources
    offenders = [str(p.relative_to(ROOT)) for p in sources if imports_grading(p.read_text(encoding="utf-8"))]
    assert offenders == [], f"rnncore modules that import rnngrade (students would lack it): {offenders}"


def test_rnngrade_lives_beside_rnncore_and_nothing_is_left_in_rnncore():
    assert Path(rnngrade.__file__).resolve().parent == ROOT / "rnngrade"
    assert not (ROOT / "rnncore" / "instructor").exists()


def _modules():
    """Every module of rnngrade but `_child` (the sandbox's program text, which runs when executed)."""
    names = [m.name for m in pkgutil.walk_packages(rnngrade.__path__, "rnngrade.")]
    return [n for n in names if not n.endswith("._child")]


@pytest.mark.parametrize("name", _modules())
def test_every_module_of_rnngrade_imports(name):
    importlib.import_module(name)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_says_what_it_holds(stage):
    package = importlib.import_module(f"rnngrade.{stage}")
    doc = package.__doc__ or ""
    assert doc.startswith(f"{stage.capitalize()}:"), f"rnngrade.{stage}'s docstring should say what the stage does"
    held = sorted(p.stem for p in (ROOT / "rnngrade" / stage).iterdir()
                  if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists()))
    assert held, stage
    missing = [m for m in held if f"`{m}`" not in doc]
    assert missing == [], f"rnngrade.{stage}'s docstring does not name {missing}"


def test_rnn_grade_help_runs_from_the_installed_entry_point():
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="rnn-grade")
    assert entry.value == "rnngrade.cli:main"
    script = Path(sys.executable).parent / "rnn-grade"
    assert script.is_file(), f"{script} is not installed: run `make setup`"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage: rnn-grade"), proc.stdout[:300]
    for option in ("--submissions", "--lms", "--db-url", "--shard", "--override", "--policy"):
        assert option in proc.stdout, option
