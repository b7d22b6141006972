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


def run_jobs(course, jobs, workers=None):
    """Run `jobs`, [(what, log name, argv, before)], as processes in `course`, `workers` at a time (default: one per
    CPU), in the order given; `before()` runs just before each start (and again before a retry).

    A run whose kernel lost a port to another run's kernel (PORT_RACE) is run again, up to twice; any other failure
    fails at once, with the end of its log.
    """
    workers = workers or os.cpu_count() or 1
    pending, running = [(job, 0) for job in jobs], {}
    while pending or running:
        while pending and len(running) < workers:
            job, attempt = pending.pop(0)
            _, log_name, argv, before = job
            before()
            log = course / log_name
            with open(log, "w") as out:
                running[log] = (subprocess.Popen(argv, cwd=course, stdout=out, stderr=subprocess.STDOUT), job, attempt)
        for log, (proc, job, attempt) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[log]
            if proc.returncode != 0:
                text = log.read_text()
                if PORT_RACE in text and attempt < 2:
                    pending.insert(0, (job, attempt + 1))
                    continue
                raise AssertionError(f"{job[0]} failed ({log.name}):\n{text[-5000:]}")
        time.sleep(0.1)


def autograde_all(course, names, workers=None, chunk=8):
    """`nbgrader autograde` every submission of the assignments in `names`, `workers` runs at a time (default: one
    per CPU), each run grading at most `chunk` students of one assignment, the largest batches first (`run_jobs`).

    sqlite is not safe for concurrent writers, so each run grades into its own copy of the course gradebook;
    `gradebooks.json` in the course says which copy holds which (assignment, student), and `scores` reads it.
    """
    batches = []
    for name in names:
        students = sorted(p.name for p in (course / "submitted").iterdir() if (p / name).is_dir())
        batches += [(name, k // chunk, students[k : k + chunk], students) for k in range(0, len(students), chunk)]
    batches.sort(key=lambda batch: -len(batch[2]))
    index, jobs = {}, []
    for name, k, students, everyone in batches:
        db = course / f"gradebook_{name}_{k}.db"
        index.update({f"{name}/{student}": db.name for student in students})
        others = ",".join(s for s in everyone if s not in students)  # nbgrader's --student takes one glob
        argv = [sys.executable, "-m", "nbgrader", "autograde", name, "--force", f"--db=sqlite:///{db}",
                f"--CourseDirectory.student_id_exclude={others}"]
        jobs.append(("nbgrader autograde", f"autograde_{name}_{k}.log", argv,
                     lambda db=db: shutil.copyfile(course / "gradebook.db", db)))  # a fresh copy at every start
    run_jobs(course, jobs, workers)
    (course / "gradebooks.json").write_text(json.dumps(index, indent=1))


def score_variants(course, variants, workers=None):
    """Run `tests/variants.py` on every assignment's variants, `workers` kernels at a time (default: one per CPU),
    the assignments with the most variants first (`run_jobs`).

    variants : {assignment: [{"key": str, "path": notebook, "skip": [grade_id, ...]}, ...]}
    Returns {(assignment, key): {grade_id: (score, max_score, first error or "")}}, scored as nbgrader scores test
    cells, with the cell timeout and ignored stderr of the course's nbgrader_config.py.
    """
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    jobs = []
    for name in sorted(variants, key=lambda name: -len(variants[name])):
        given, result = course / f"variants_{name}.json", course / f"variants_{name}_result.json"
        given.write_text(json.dumps({"timeout": config.Execute.timeout, "ignore": config.IgnorePattern.pattern,
                                     "variants": variants[name]}))
        argv = [sys.executable, str(ROOT / "tests" / "variants.py"), str(given), str(result)]
        jobs.append((f"scoring the variants of {name}", f"variants_{name}.log", argv, lambda: None))
    run_jobs(course, jobs, workers)
    return {(name, key): {g: tuple(v) for g, v in grades.items()} for name in variants
            for key, grades in json.loads((course / f"variants_{name}_result.json").read_text()).items()}


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
