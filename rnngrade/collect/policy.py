"""The final grade: verified autograde + manual points - late penalty, or an instructor's override.

Due dates, extensions and the late rule live in one small TOML file the instructor edits, `grades/policy.toml` by
default (`rnn-grade --policy` names another)::

    [late]
    rule = "percent_per_day"   # or "zero" (nothing after the grace period), or "none"
    percent_per_day = 10       # of the points earned, per started day late
    max_percent = 50           # the most a late penalty takes (percent of the points earned)
    grace_minutes = 15         # an upload this little after the due date is on time

    [due]                      # per assignment; without one, nbgrader's own duedate of the assignment
    ch02_forward = 2024-03-01T23:59:00Z

    [extensions.ch02_forward]  # per student: more days, or a due date of their own
    bob = 3
    carol = 2024-03-08T12:00:00Z

Days late = the started days between the (extended) due date plus the grace period and the upload time
(`submitted/<student>/<assignment>/timestamp.txt`, the LMS's upload time when collected). No file, no due date or
no upload time: nothing is late. Penalties are rounded to 2 decimals; the final grade is never below 0.
"""

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

RULES = ("percent_per_day", "zero", "none")


@dataclass
class Policy:
    """A course's late policy (see the module docstring)."""

    rule: str = "percent_per_day"
    percent_per_day: float = 10.0
    max_percent: float = 100.0
    grace_minutes: float = 0.0
    due: dict = field(default_factory=dict)  # assignment -> aware datetime
    extensions: dict = field(default_factory=dict)  # assignment -> {student: days (float) or aware datetime}
    path: str = ""

    def due_for(self, assignment, student, fallback=None):
        """The due date of `student` for `assignment` (extension applied), or None."""
        due = self.due.get(assignment) or _aware(fallback)
        ext = self.extensions.get(assignment, {}).get(student)
        if isinstance(ext, datetime.datetime):
            return ext
        if due is not None and ext is not None:
            return due + datetime.timedelta(days=float(ext))
        return due

    def late(self, assignment, student, uploaded, earned, fallback_due=None):
        """(days late, penalty in points) of an upload at `uploaded` that earned `earned` points before penalty."""
        due = self.due_for(assignment, student, fallback_due)
        uploaded = _aware(uploaded)
        if self.rule == "none" or due is None or uploaded is None or earned is None:
            return 0, 0.0
        over = uploaded - due - datetime.timedelta(minutes=self.grace_minutes)
        if over <= datetime.timedelta(0):
            return 0, 0.0
        days = math.ceil(over / datetime.timedelta(days=1))
        if self.rule == "zero":
            return days, round(max(float(earned), 0.0), 2)
        percent = min(self.percent_per_day * days, self.max_percent)
        return days, round(max(float(earned), 0.0) * percent / 100.0, 2)


def _aware(value):
    """A timezone-aware UTC datetime from a datetime (naive = UTC, as nbgrader stores them), an ISO string or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, 23, 59, 59)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def load(path):
    """Read a policy file; a missing file is the default policy with no due dates (nothing is late)."""
    path = Path(path)
    if not path.exists():
        return Policy(path=str(path))
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"policy: {path} is not valid TOML ({exc})") from None
    late = data.get("late", {})
    policy = Policy(path=str(path))
    policy.rule = str(late.get("rule", policy.rule))
    if policy.rule not in RULES:
        raise ValueError(f"policy: [late] rule in {path} must be one of {', '.join(RULES)}, got {policy.rule!r}")
    for key in ("percent_per_day", "max_percent", "grace_minutes"):
        if key in late:
            value = late[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"policy: [late] {key} in {path} must be a number >= 0, got {value!r}")
            setattr(policy, key, float(value))
    try:
        policy.due = {a: _aware(d) for a, d in data.get("due", {}).items()}
        for a, table in data.get("extensions", {}).items():
            policy.extensions[a] = {s: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                                        else _aware(v)) for s, v in table.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"policy: a date in {path} is not a date or a number of days ({exc})") from None
    return policy
