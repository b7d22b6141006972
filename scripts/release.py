"""Regenerate exercises/ (the student release) from solutions/ with `nbgrader generate_assignment`.

Run from anywhere: it runs nbgrader in the repository root (nbgrader run elsewhere makes a stray
gradebook). Every assignment folder in solutions/ is released, replacing what was there.
"""

import subprocess
import sys
from pathlib import Path

from rnngrade.notebook import assignment_ids

ROOT = Path(__file__).resolve().parent.parent


def release(root=ROOT, db_url=None):
    """Run generate_assignment --force for every assignment; raise CalledProcessError if nbgrader fails."""
    extra = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    for name in assignment_ids(root / "solutions"):
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force", *extra]
        subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True)
        print(f"released {name} into exercises/{name}")


if __name__ == "__main__":
    release()
