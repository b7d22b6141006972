"""Score many variants of one graded notebook in one Jupyter kernel, cell by cell, the way nbgrader scores them.

`nbgrader autograde` starts a kernel, imports numpy (and torch) and writes a gradebook for every submission: about
two seconds per notebook before its first cell, and most of the assignment tests' time when every plausible wrong
implementation (about two hundred) is a submission of its own. Here one kernel runs them all: before each variant
the kernel's namespace is reset and its working directory moved to the variant's own folder (where the notebook
file is, as in autograde, so the helper-code warning reads the right notebook); then every code cell runs with
nbgrader's cell timeout, the stderr lines nbgrader's `IgnorePattern` drops are dropped, and every test cell is
scored by nbgrader's own `determine_grade`. `test_assignments.py` checks that this gives exactly the scores of the
real pipeline on the submissions it sends through both.

Usage: python tests/variants.py JOBS.json RESULT.json
JOBS: {"timeout": seconds, "ignore": regex, "variants": [{"key": str, "path": notebook, "skip": [grade_id, ...]}]}
RESULT: {key: {grade_id: [score, max_score, first error "ename: evalue" or ""]}}; a skipped test cell is not run
and not in the result.
"""

import json
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell
from nbgrader.utils import determine_grade, is_grade, is_solution


def _drop_ignored(cell, ignore):
    """What nbgrader's IgnorePattern does: stderr stream outputs that match the pattern are removed."""
    cell.outputs = [o for o in cell.outputs
                    if not (o.output_type == "stream" and o.name == "stderr" and ignore.search(o.text or ""))]


def _first_error(cell):
    for o in cell.outputs:
        if o.output_type == "error":
            return f"{o.ename}: {o.evalue}"
    return ""


def run(jobs):
    ignore = re.compile(jobs["ignore"])
    variants = jobs["variants"]
    result = {}
    first = nbformat.read(variants[0]["path"], as_version=4)
    folder = str(Path(variants[0]["path"]).parent)
    client = NotebookClient(first, timeout=jobs["timeout"], interrupt_on_timeout=True, allow_errors=True,
                            kernel_name="python3", resources={"metadata": {"path": folder}})
    with client.setup_kernel():
        for variant in variants:
            path = Path(variant["path"])
            nb = nbformat.read(str(path), as_version=4)
            client.nb = nb
            reset = new_code_cell(f"%reset -f\nimport os as _os\n_os.chdir({str(path.parent)!r})\ndel _os")
            client.execute_cell(reset, 0)
            errors = [o for o in reset.outputs if o.output_type == "error"]
            if errors:
                raise RuntimeError(f"could not reset the kernel before {variant['key']}: {errors[0].evalue}")
            skip = set(variant.get("skip", ()))
            scores = {}
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in skip:
                    continue
                client.execute_cell(cell, index)
                _drop_ignored(cell, ignore)
                if is_grade(cell) and not is_solution(cell):
                    score, max_score = determine_grade(cell)
                    scores[grade_id] = [score, max_score, _first_error(cell)]
            result[variant["key"]] = scores
    return result


if __name__ == "__main__":
    jobs_file, result_file = sys.argv[1:3]
    Path(result_file).write_text(json.dumps(run(json.loads(Path(jobs_file).read_text()))))
