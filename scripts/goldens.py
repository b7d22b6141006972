"""Write rnncore/goldens.json: the visible checks' golden values for the tasks whose reference students lack.

For every task registered in rnngrade/assign/tasks/ and every one of its visible cases: the inputs, the
reference's outputs, and the outputs and message of every known mistake that gives something else on that case.
`make release` runs this; a test fails if the file is not what this writes. `--check` only compares.
"""

import copy
import json
import sys
from pathlib import Path

import numpy as np

from rnncore import goldens
from rnngrade.assign import tasks

TARGET = goldens.GOLDENS


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


def _differs(a, b):
    if len(a) != len(b):
        return True
    for x, y in zip(a, b, strict=True):
        try:
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            if goldens.to_json(x) != goldens.to_json(y):
                return True
            continue
        if x.shape != y.shape or not np.allclose(x, y, atol=1e-8, rtol=1e-6):
            return True
    return False


def table():
    """{function: {label: {"inputs", "expected", "known"}}} for every registered task."""
    references = tasks.load()
    out = {}
    for function in sorted(tasks.VISIBLE):
        if function not in references:
            raise SystemExit(f"tasks: {function!r} has visible cases but no reference")
        out[function] = {}
        for case in tasks.VISIBLE[function]:
            expected = _outputs(references[function](**copy.deepcopy(case.inputs)))
            known = []
            for entry in tasks.MISTAKES.get(function, []):
                try:
                    got = _outputs(entry.compute(**copy.deepcopy(case.inputs)))
                except ValueError:  # the mistake makes no difference on this case (as in rnncore.mistakes)
                    continue
                if _differs(got, expected):
                    known.append({"name": entry.name, "message": entry.message, "outputs": goldens.to_json(got)})
            out[function][case.label] = {"inputs": goldens.to_json(case.inputs), "expected": goldens.to_json(expected),
                                         "known": known}
    return out


def render():
    return json.dumps(table(), indent=1, sort_keys=True) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            raise SystemExit(f"{TARGET} is stale: run `python scripts/goldens.py`")
        return
    Path(TARGET).write_text(text)
    print(f"wrote {TARGET} ({len(json.loads(text))} tasks)")


if __name__ == "__main__":
    main(sys.argv[1:])
