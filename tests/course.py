"""Helpers that drive nbgrader on a temporary copy of the course (used by the assignment tests)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from rnngrade.notebook import assignment_ids

ROOT = Path(__file__).resolve().parent.parent


def assignments():
    """Every assignment id: the folders of solutions/ that hold a notebook."""
    return assignment_ids(ROOT / "solutions")


def make_course(tmp):
    """Copy the nbgrader config and solutions/ into `tmp`, release every assignment there, return `tmp`.

    One process runs nbgrader's `generate_assignment` for every assignment (what `nbgrader generate_assignment NAME
    --force` does for each, without starting nbgrader once per assignment).
    """
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions", tmp / "solutions")
    program = ("import sys\nfrom nbgrader.apps import NbGraderAPI\nfrom nbgrader.coursedir import CourseDirectory\n"
               "from traitlets.config.loader import PyFileConfigLoader\n"
               "config = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
               "api = NbGraderAPI(CourseDirectory(config=config), config=config)\n"
               "for name in sys.argv[1:]:\n"
               "    result = api.generate_assignment(name, force=True)\n"
               "    if not result['success']:\n"
               "        sys.exit(f'generate_assignment {name} failed:\\n{result[\"error\"]}\\n{result[\"log\"]}')\n")
    proc = subprocess.run([sys.executable, "-c", program, *assignments()], cwd=tmp, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader generate_assignment failed:\n{proc.stdout}\n{proc.stderr}")
    return tmp


def nbgrader(course, *args):
    """Run one nbgrader command in `course`; fail with its log if it fails."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def submit(course, student, assignment, nb):
    """Place notebook `nb` as `student`'s submission of `assignment`."""
    dest = course / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{assignment}.ipynb")


# jupyter_client picks a kernel's ports by binding to port 0 and closing them again, so two nbgrader runs at once
# can hand the same free port to two kernels; the loser dies before it replies (jupyter/jupyter_client#487).
PORT_RACE = "Address already in use"


def autograde_all(course, names, workers=None, chunk=8):
    """`nbgrader autograde` every submission of the assignments in `names`, `workers` runs at a time (default: one
    per CPU), each run grading at most `chunk` students of one assignment, the largest batches first.

    sqlite is not safe for concurrent writers, so each run grades into its own copy of the course gradebook;
    `gradebooks.json` in the course says which copy holds which (assignment, student), and `scores` reads it.
    A run whose kernel lost a port to another run's kernel (PORT_RACE) is run again, up to twice; any other
    failure fails at once.
    """
    workers = workers or os.cpu_count() or 1
    jobs = []
    for name in names:
        students = sorted(p.name for p in (course / "submitted").iterdir() if (p / name).is_dir())
        for k in range(0, len(students), chunk):
            jobs.append((name, k // chunk, students[k : k + chunk], students, 0))
    jobs.sort(key=lambda job: -len(job[2]))
    index, running = {}, {}
    while jobs or running:
        while jobs and len(running) < workers:
            job = jobs.pop(0)
            name, k, students, everyone, attempt = job
            db = course / f"gradebook_{name}_{k}.db"
            shutil.copyfile(course / "gradebook.db", db)
            index.update({f"{name}/{student}": db.name for student in students})
            others = ",".join(s for s in everyone if s not in students)  # nbgrader's --student takes one glob
            cmd = [sys.executable, "-m", "nbgrader", "autograde", name, "--force", f"--db=sqlite:///{db}",
                   f"--CourseDirectory.student_id_exclude={others}"]
            log = course / f"autograde_{name}_{k}.log"
            with open(log, "w") as out:
                running[log] = (subprocess.Popen(cmd, cwd=course, stdout=out, stderr=subprocess.STDOUT), job)
        for log, (proc, job) in list(running.items()):
            if proc.poll() is not None:
                del running[log]
                if proc.returncode != 0:
                    text = log.read_text()
                    if PORT_RACE in text and job[4] < 2:
                        jobs.insert(0, (*job[:4], job[4] + 1))
                        continue
                    raise AssertionError(f"nbgrader autograde failed ({log.name}):\n{text[-5000:]}")
        time.sleep(0.1)
    (course / "gradebooks.json").write_text(json.dumps(index, indent=1))


def score_variants(course, variants, workers=None):
    """Run `tests/variants.py` on every assignment's variants, `workers` kernels at a time (default: one per CPU).

    variants : {assignment: [{"key": str, "path": notebook, "skip": [grade_id, ...]}, ...]}
    Returns {(assignment, key): {grade_id: (score, max_score, first error or "")}}, scored as nbgrader scores test
    cells, with the cell timeout and ignored stderr of the course's nbgrader_config.py.
    """
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    workers = workers or os.cpu_count() or 1
    pending = sorted(variants, key=lambda name: -len(variants[name]))
    running, out = {}, {}
    attempts = dict.fromkeys(variants, 0)
    while pending or running:
        while pending and len(running) < workers:
            name = pending.pop(0)
            jobs, result = course / f"variants_{name}.json", course / f"variants_{name}_result.json"
            jobs.write_text(json.dumps({"timeout": config.Execute.timeout, "ignore": config.IgnorePattern.pattern,
                                        "variants": variants[name]}))
            log = open(course / f"variants_{name}.log", "w")
            cmd = [sys.executable, str(ROOT / "tests" / "variants.py"), str(jobs), str(result)]
            running[name] = (subprocess.Popen(cmd, cwd=course, stdout=log, stderr=subprocess.STDOUT), log, result)
        for name, (proc, log, result) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            log.close()
            text = Path(log.name).read_text()
            if proc.returncode != 0:
                if PORT_RACE in text and attempts[name] < 2:
                    attempts[name] += 1
                    pending.insert(0, name)
                    continue
                raise AssertionError(f"scoring the variants of {name} failed:\n{text[-5000:]}")
            for key, grades in json.loads(result.read_text()).items():
                out[(name, key)] = {g: tuple(v) for g, v in grades.items()}
        time.sleep(0.1)
    return out


def scores(course, assignment, student, manual=False):
    """{grade_id: (score, max_score)} for every autograded cell (test cell) of a student's autograded submission;
    with `manual`, for every graded cell, the manually graded answers included."""
    from nbgrader.api import Gradebook

    index = course / "gradebooks.json"
    name = json.loads(index.read_text()).get(f"{assignment}/{student}") if index.exists() else None
    with Gradebook(f"sqlite:///{course / (name or 'gradebook.db')}") as gb:
        sub = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.score, g.max_score) for g in sub.grades if manual or g.name.startswith("test_")}


def read_nb(path):
    return nbformat.read(str(path), as_version=4)


def cell_by_id(nb, grade_id):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def canonical(path):
    """A notebook's JSON with keys sorted, for exact comparison."""
    return json.dumps(json.loads(Path(path).read_text()), sort_keys=True, indent=1)
