"""Bring submissions into the course, accounting for every file: a zip or folder from an LMS, or a folder already
shaped like nbgrader's `submitted/`.

What is accepted (`collect(course, assignment, path, ...)`):

- a folder shaped `<student>/<assignment>/<notebook>.ipynb` (optionally with `timestamp.txt`), for example a copy
  of another course's `submitted/` folder or what nbgrader's exchange collected;
- a .zip or .tar(.gz) archive, a folder of loose files, or one file, named by an LMS. Each file's name inside it is
  matched by a pattern: a preset for an LMS's bulk download (`lms="canvas"` or `"moodle"`, see LMS), or a regular
  expression (`regexp`) with the named groups `student_id` (required), `file_id` and `timestamp` (optional), matched
  with re.match against "/" + the file's path inside the archive or folder (so a pattern written for nbgrader's
  `zip_collect`, `.*/(?P<student_id>...)_(?P<file_id>...)$`, works as it is). By default `<student>_<notebook>.ipynb`.

Renamed copies (`ch02_forward-1.ipynb` from Canvas, `ch02_forward (1).ipynb` from a browser) count as the same
notebook. When a student has several uploads, all are kept in the report and the latest is graded: the latest by
the time the LMS gives (a `timestamp` in the name, else the archive entry's time, else the file's modification time),
then by Canvas's submission id, then by the rename number. The chosen one is copied to
`submitted/<student>/<assignment>/<assignment>.ipynb` with what `nbgrader submit` would have left beside it: a
`timestamp.txt` (its upload time: nbgrader's late penalty and `release_feedback` read it) and a
`submission_secret.txt` (a random token: `release_feedback` names the student's feedback file with it; a student who
did not submit through the exchange gets the feedback from you, not with `fetch_feedback`).

An upload older than the one already graded for that student (its upload time and hash are kept in the ledger,
`ledger.record_upload`) never replaces it unless `force_older`; it is reported as "not replaced". Nothing aborts
the batch: every file given ends in the Collection's report with its fate (graded, superseded by which file, not
replaced, not matched) and the reason, written to a CSV next to the grades.
"""

import csv
import datetime
import hashlib
import json
import re
import secrets
import shutil
import tarfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import notebook
from ..export import ledger

MAX_BYTES = 64 * 2**20  # the largest notebook taken from an upload
RENAMED = r"(?:-\d+| ?\(\d+\))?"  # what LMSs and browsers add to a file name already taken: -1, " (1)"

# Each preset: the pattern of a file's path inside the LMS's bulk download, and how its groups read.
LMS = {
    # Canvas "Download Submissions": lastfirst[_LATE]_<user id>_<submission id>_<the student's file name>
    "canvas": re.compile(r"^/(?:.*/)?(?P<name>[^/_]+)_(?P<late>LATE_)?(?P<lms_id>\d+)_(?P<sub_id>\d+)_"
                         r"(?P<file_id>[^/]+)$"),
    # Moodle "Download all submissions" (3.1+, one folder per student and plugin):
    #   Full Name_<participant id>_assignsubmission_file_/<file path>; with "download as folders" off the same
    #   without the slash: Full Name_<participant id>_assignsubmission_file_<file name>.
    "moodle": re.compile(r"^/(?:.*/)?(?P<name>[^/]+?)_(?P<lms_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_"
                         r"(?:/(?:.*/)?)?(?P<file_id>[^/]+)$"),
}
FATES = ("graded", "superseded", "not replaced", "not matched")


@dataclass
class Upload:
    """One file of what was given, and what became of it."""

    file: str  # its whole path inside the archive or folder
    student: str = ""
    uploaded: datetime.datetime | None = None
    fate: str = ""
    detail: str = ""
    sha256: str = ""
    lms_id: str = ""
    late: bool = False
    order: tuple = ()
    data: bytes = field(default=b"", repr=False)

    @property
    def when(self):
        return "" if self.uploaded is None else self.uploaded.strftime("%Y-%m-%d %H:%M:%S")

    def row(self):
        return [self.file, self.student, self.when, self.fate, self.detail]


@dataclass
class Collection:
    """What one collection did: every file given, with its fate; `students`, those that now have a submission."""

    assignment: str
    source: str
    pattern: str
    uploads: list = field(default_factory=list)
    students: list = field(default_factory=list)
    lms_ids: dict = field(default_factory=dict)  # student -> LMS user id read from the file names (Canvas)

    def counts(self):
        return {fate: sum(1 for u in self.uploads if u.fate == fate) for fate in FATES}

    def write(self, path):
        """The report as CSV: file, student, uploaded, fate, detail (one line per file given, in name order)."""
        with ledger._atomic(path) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["file", "student", "uploaded", "fate", "detail"])
            for u in sorted(self.uploads, key=lambda u: u.file):
                writer.writerow(u.row())
        return Path(path)

    def lines(self):
        """The report as text lines (for the summary): a count, then every file with its fate."""
        c = self.counts()
        out = [f"collected {self.source} ({self.pattern}): {len(self.uploads)} file(s): " +
               ", ".join(f"{n} {fate}" for fate, n in c.items() if n)]
        for u in sorted(self.uploads, key=lambda u: (FATES.index(u.fate), u.student, u.file)):
            who = f" -> {u.student}" if u.student else ""
            when = f" [{u.when}]" if u.uploaded else ""
            out.append(f"  {u.fate:<12} {u.file}{who}{when}" + (f": {u.detail}" if u.detail else ""))
        return out


def default_regexp(notebooks):
    """The default file-name pattern: `<student>_<notebook>.ipynb` for one of `notebooks` (names without .ipynb)."""
    names = "|".join(re.escape(n) for n in notebooks)
    return rf".*/(?P<student_id>[^/]+?)_(?P<file_id>(?:{names}){RENAMED}\.ipynb)$"


def check_pattern(regexp=None, lms=None):
    """Validate the choice of pattern; raise ValueError naming the argument, what it must be and what it is."""
    if lms is not None and regexp is not None:
        raise ValueError(f"collect: give `--lms` or `--regexp`, not both (got --lms {lms!r} and --regexp {regexp!r})")
    if lms is not None and lms not in LMS:
        raise ValueError(f"collect: `--lms` must be one of {sorted(LMS)}, got {lms!r}")
    if regexp is not None:
        try:
            compiled = re.compile(regexp)
        except re.error as exc:
            raise ValueError(f"collect: `--regexp` must be a regular expression, got {regexp!r} ({exc})") from None
        if "student_id" not in compiled.groupindex:
            raise ValueError(f"collect: `--regexp` must have a named group (?P<student_id>...), got {regexp!r} "
                             f"(groups: {sorted(compiled.groupindex) or 'none'})")


def _split_renamed(name):
    """('ch02_forward', 1) for 'ch02_forward (1).ipynb' or 'ch02_forward-1.ipynb'; (stem, 0) if not renamed."""
    m = re.fullmatch(r"(?P<stem>.*?)(?:-(?P<n>\d+)| ?\((?P<p>\d+)\))?\.ipynb", name, flags=re.IGNORECASE | re.S)
    if not m:
        return name, 0
    return m["stem"], int(m["n"] or m["p"] or 0)


def _slug(text):
    """A student id made of a name: 'Zoë Ng-Li' -> 'zoe_ng_li'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _usable_id(student):
    """Why a student id can't be a folder name ('' if it can)."""
    if not student or student.strip() != student:
        return "an empty or padded student id"
    if "/" in student or "\\" in student or student.startswith(".") or "\0" in student:
        return f"student id {student!r} is not a usable folder name"
    return ""


def _from_epoch(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None)


def _utc(moment):
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _entries(path):
    """([(name inside, time or None, size, read() or None)], close()) of what was given: an archive, a folder or
    one file (read() is None for what is not a regular file)."""
    if path.is_dir():
        out = []
        for f in sorted(path.rglob("*")):
            if f.is_symlink():
                out.append((f.relative_to(path).as_posix(), None, 0, None))
            elif f.is_file():
                st = f.stat()
                out.append((f.relative_to(path).as_posix(), _from_epoch(st.st_mtime),
                            st.st_size, f.read_bytes))
        return out, lambda: None
    if zipfile.is_zipfile(path):
        zf = zipfile.ZipFile(path)
        return [(i.filename, datetime.datetime(*i.date_time), i.file_size,
                 (lambda i=i: zf.read(i))) for i in zf.infolist() if not i.is_dir()], zf.close
    if tarfile.is_tarfile(path):
        tf = tarfile.open(path)
        return [(m.name, _from_epoch(m.mtime), m.size,
                  (lambda m=m: tf.extractfile(m).read()) if m.isfile() else None)
                for m in tf.getmembers() if not m.isdir()], tf.close
    if path.suffix.lower() in (".zip", ".tar", ".tgz", ".gz"):  # an archive by its name, not by its content
        raise zipfile.BadZipFile(f"its name ends in {path.suffix} but it is not a zip or tar archive (a broken or "
                                 "unfinished download?)")
    st = path.stat()
    return [(path.name, _from_epoch(st.st_mtime), st.st_size, path.read_bytes)], lambda: None


def _parse_time(text):
    from dateutil.parser import parse

    try:
        return _utc(parse(text))
    except (ValueError, OverflowError):
        return None


class _Matcher:
    """Match one file name to (student, lms id, late, submission id, file id) or say why not."""

    def __init__(self, assignment, regexp, lms, roster):
        self.assignment, self.lms, self.roster = assignment, lms, roster
        self.pattern = LMS[lms] if lms else re.compile(regexp or default_regexp([assignment]))
        self.by_lms = {r["lms_user_id"]: sid for sid, r in roster.items() if r.get("lms_user_id")}
        self.by_name = {}
        for sid, r in roster.items():
            first, last = (r.get("first_name") or "").strip(), (r.get("last_name") or "").strip()
            if first or last:
                for full in (f"{first} {last}", f"{last} {first}", f"{last}, {first}"):
                    self.by_name[" ".join(full.split()).casefold()] = sid

    def describe(self):
        return f"--lms {self.lms}" if self.lms else f"--regexp {self.pattern.pattern}"

    def match(self, u, entry_time):
        name = u.file
        base = name.rsplit("/", 1)[-1]
        if name.startswith("__MACOSX/") or base == ".DS_Store" or base.startswith("._"):
            return "macOS metadata, not a submission"
        m = self.pattern.match("/" + name)
        if not m:
            return f"the name does not match {self.describe()}"
        groups = m.groupdict()
        file_id = groups.get("file_id") or base
        if not file_id.lower().endswith(".ipynb"):
            return f"not a notebook (file `{file_id}`)"
        stem, renamed = _split_renamed(file_id)
        if self.lms is None and stem != self.assignment:
            return f"file `{file_id}` is not {self.assignment}.ipynb"
        notes = []
        if stem != self.assignment:
            notes.append(f"named `{file_id}`, graded as {self.assignment}.ipynb")
        uploaded = _parse_time(groups["timestamp"]) if groups.get("timestamp") else None
        if groups.get("timestamp") and uploaded is None:
            notes.append(f"timestamp {groups['timestamp']!r} unreadable: the entry's time used")
        u.uploaded = uploaded or entry_time
        if self.lms == "canvas":
            u.lms_id, u.late = groups["lms_id"], bool(groups.get("late"))
            u.student = self.by_lms.get(u.lms_id, groups["name"])  # duplicates of a name resolved in collect()
        elif self.lms == "moodle":
            full = groups["name"]
            u.student = self.by_name.get(" ".join(full.split()).casefold()) or _slug(full)
            if u.student not in self.roster:
                notes.append(f"`{full}` is not in the roster by name: filed as {u.student}")
        else:
            u.student = groups["student_id"]
        why = _usable_id(u.student)
        if why:
            u.student = ""
            return why
        if u.late:
            notes.append("late (Canvas _LATE_)")
        sub_id = int(groups["sub_id"]) if (groups.get("sub_id") or "").isdigit() else -1
        u.order = (u.uploaded or datetime.datetime.min, sub_id, renamed, name)
        u.detail = "; ".join(notes)
        return ""


def _existing(course, assignment, student, graded):
    """(sha256, uploaded, file) of the copy in submitted/ now, or None; from the ledger, else from the folder."""
    sub = course.submitted / student / assignment / f"{assignment}.ipynb"
    if not sub.exists():
        return None
    sha = hashlib.sha256(sub.read_bytes()).hexdigest()
    row = graded.get(student)
    if row and row["sha256"] == sha:
        return sha, _parse_time(row["uploaded"]) if row["uploaded"] else None, row["file"]
    stamp = sub.parent / "timestamp.txt"
    return sha, _parse_time(stamp.read_text().strip()) if stamp.exists() else None, f"submitted/{student}"


def _place(course, assignment, u):
    dest = course.submitted / u.student / assignment
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / f"{assignment}.ipynb").write_bytes(u.data)
    # what nbgrader submit writes beside a notebook (nbgrader's timestamp format); the upload's own files, when it
    # brought them (a folder shaped like submitted/), are copied over these afterwards
    when = u.uploaded or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    (dest / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    (dest / "submission_secret.txt").write_text(secrets.token_hex(64))


def _shaped(folder, assignment):
    """True if `folder` holds <student>/<assignment>/*.ipynb."""
    return any(p.is_file() for p in folder.glob(f"*/{assignment}/*.ipynb"))


def _collect_shaped(course, assignment, path, force_older):
    """A folder shaped like submitted/: each <student>/<assignment>/ is one upload (its notebook decides)."""
    result = Collection(assignment, str(path), "a folder shaped <student>/<assignment>/")
    graded = ledger.uploads(course.verified_db, assignment)
    others = []
    for f in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
        rel = f.relative_to(path).as_posix()
        parts = rel.split("/")
        if len(parts) != 3 or parts[1] != assignment or f.is_symlink() or parts[0].startswith("."):
            result.uploads.append(Upload(rel, fate="not matched",
                                         detail=f"not a regular file of <student>/{assignment}/"))
            continue
        if not f.name.endswith(".ipynb"):
            others.append(Upload(rel, student=parts[0]))  # travels with its student's notebook
            continue
        u = Upload(rel, student=parts[0], data=f.read_bytes())
        stamp = f.parent / "timestamp.txt"
        u.uploaded = _parse_time(stamp.read_text().strip()) if stamp.exists() else None
        u.uploaded = u.uploaded or _from_epoch(f.stat().st_mtime)
        u.order = (u.uploaded, -1, int(f.stem == assignment), rel)
        result.uploads.append(u)
    _decide(course, assignment, [u for u in result.uploads if not u.fate], graded, force_older, result,
            extra=lambda u: [g for g in (path / u.student / assignment).iterdir()
                             if g.is_file() and not g.is_symlink() and not g.name.endswith(".ipynb")])
    fates = {u.student: u for u in result.uploads if u.student}
    for u in others:
        nb = fates.get(u.student)
        u.fate = nb.fate if nb else "not matched"
        u.detail = f"goes with {nb.file}" if nb else "no notebook beside it"
        result.uploads.append(u)
    result.students = course.students(assignment)
    return result


def _older(upload, before):
    """True if `upload` is older than `before` (sha256, uploaded, file), the one graded now.

    Two Canvas files of one student compare by Canvas's submission id, which grows with every upload (a zip
    downloaded again may carry new entry times); anything else by upload time.
    """
    if upload.order and upload.order[1] >= 0:
        m = LMS["canvas"].match("/" + before[2])
        if m and m["lms_id"] == upload.lms_id and int(m["sub_id"]) != upload.order[1]:
            return upload.order[1] < int(m["sub_id"])
    return before[1] is not None and upload.uploaded is not None and upload.uploaded < before[1]


def _decide(course, assignment, matched, graded, force_older, result, extra=None):
    """Keep the latest upload of each student; place it unless an upload graded before is newer."""
    by_student = {}
    for u in matched:
        by_student.setdefault(u.student, []).append(u)
    for student, ups in sorted(by_student.items()):
        ups.sort(key=lambda u: u.order or (u.uploaded or datetime.datetime.min, -1, 0, u.file))
        latest = ups[-1]
        for u in ups[:-1]:
            u.fate = "superseded"
            u.detail = "; ".join(x for x in (f"by {latest.file} [{latest.when}]", u.detail) if x)
        latest.sha256 = hashlib.sha256(latest.data).hexdigest()
        notes = [latest.detail] if latest.detail else []
        try:
            notebook.read_submission(json.loads(latest.data.decode("utf-8")))
        except Exception as exc:  # noqa: BLE001  (whatever is wrong with it, it is graded as it is: 0)
            notes.append(f"not a readable notebook ({type(exc).__name__}: {str(exc)[:80]}): graded as it is")
        before = _existing(course, assignment, student, graded)
        older = before is not None and _older(latest, before)
        if before is not None and before[0] == latest.sha256:
            latest.fate = "graded"
            notes.append("same as the copy graded before")
        elif older and not force_older:
            latest.fate = "not replaced"
            notes.insert(0, f"older than the graded {before[2]} [{before[1]:%Y-%m-%d %H:%M:%S}], which is kept; "
                            "--force-older grades this one instead")
        else:
            latest.fate = "graded"
            if before is not None:
                notes.append(f"replaces {before[2]}" + (f" [{before[1]:%Y-%m-%d %H:%M:%S}]" if before[1] else "")
                             + (" although older (--force-older)" if older else ""))
            _place(course, assignment, latest)
            for g in (extra(latest) if extra else []):
                if g.name != "timestamp.txt":  # the upload time chosen (the same, or the file's time)
                    shutil.copyfile(g, course.submitted / student / assignment / g.name)
            ledger.record_upload(course.verified_db, assignment, student, {
                "file": latest.file, "sha256": latest.sha256,
                "uploaded": latest.uploaded.isoformat(sep=" ") if latest.uploaded else "",
                "late": latest.late, "lms_id": latest.lms_id, "source": result.source})
        latest.detail = "; ".join(notes)
        if latest.lms_id:
            result.lms_ids[student] = latest.lms_id
    for u in matched:
        u.data = b""


def _read_all(entries, matcher, result):
    """Match every entry; read the matched ones (a damaged entry is reported, the rest goes on)."""
    for name, when, size, read in entries:
        u = Upload(name)
        result.uploads.append(u)
        why = matcher.match(u, when)
        if not why and read is None:
            why = "not a regular file"
        if not why and size > MAX_BYTES:
            why = f"larger than {MAX_BYTES // 2**20} MB"
        if why:
            u.fate, u.detail = "not matched", why
            continue
        try:
            u.data = read()
        except Exception as exc:  # noqa: BLE001  (a damaged archive entry: reported, the rest goes on)
            u.fate, u.detail = "not matched", f"unreadable in the archive ({exc})"[:200]


def collect(course, assignment, path, regexp=None, lms=None, force_older=False, roster=None):
    """Put the submissions at `path` into the course's submitted folder; return the Collection (its report).

    Parameters
    ----------
    course : autograde.Course
    assignment : assignment id
    path : a .zip or .tar(.gz) archive, a folder of loose files, one file, or a folder shaped <student>/<assignment>/
    regexp : file-name pattern (see the module's docstring; default `default_regexp`)
    lms : a preset of LMS ("canvas" or "moodle") in place of `regexp`
    force_older : grade an upload even when it is older than the one graded before
    roster : {student id: {first_name, last_name, email, lms_user_id}} (see roster()); Canvas files are filed
        under the roster's student with their LMS user id, Moodle files under the student with their full name
    """
    check_pattern(regexp, lms)
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"collect: `--submissions` {path} does not exist")
    ledger.connect(course.verified_db).close()
    if path.is_dir() and regexp is None and lms is None and _shaped(path, assignment):
        return _collect_shaped(course, assignment, path, force_older)
    matcher = _Matcher(assignment, regexp, lms, roster or {})
    result = Collection(assignment, str(path), matcher.describe())
    try:
        entries, close = _entries(path)
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise ValueError(f"collect: `--submissions` must be a readable zip, tar, folder or file; {path} is not "
                         f"({exc})") from None
    try:
        _read_all(entries, matcher, result)
    finally:
        close()
    matched = [u for u in result.uploads if not u.fate]
    if lms == "canvas":  # two Canvas users with one name part: each filed as <name>_<user id>
        ids = {}
        for u in matched:
            ids.setdefault(u.student, set()).add(u.lms_id)
        taken = {sid: (r.get("lms_user_id") or "") for sid, r in (roster or {}).items()}
        for u in matched:
            if u.lms_id in matcher.by_lms:
                continue
            other = taken.get(u.student, "")
            if len(ids[u.student]) > 1 or (other and other != u.lms_id):
                u.student = f"{u.student}_{u.lms_id}"
                u.detail = "; ".join(x for x in (u.detail, "another student has this name: filed with the "
                                                 "Canvas user id") if x)
    _decide(course, assignment, matched, ledger.uploads(course.verified_db, assignment), force_older, result)
    result.students = course.students(assignment)
    return result


# -- the roster: nbgrader's students table ---------------------------------------------------------------------

ROSTER_COLUMNS = ("id", "first_name", "last_name", "email", "lms_user_id")


def roster(course):
    """{student id: {first_name, last_name, email, lms_user_id}}: every student of nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        return {s.id: {k: getattr(s, k) for k in ROSTER_COLUMNS[1:]} for s in gb.students}


def import_roster(course, path):
    """Add or update the students of a roster CSV in nbgrader's gradebook; return their ids.

    Columns: `id` (required), `first_name`, `last_name`, `email`, `lms_user_id` (or `lms_id`), as `nbgrader db
    student import` reads them; other columns are ignored. An empty cell leaves what the gradebook has.
    """
    from nbgrader.api import Gradebook

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"roster: `--roster` {path} does not exist")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)} for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"roster: `--roster` {path} must be a CSV file in UTF-8 ({exc})") from None
    if "id" not in columns:
        raise ValueError(f"roster: `--roster` {path} must have an `id` column, got columns {columns}")
    ids = []
    with Gradebook(course.db_url) as gb:
        for n, row in enumerate(rows, start=2):
            sid = row.pop("id")
            why = _usable_id(sid)
            if why:
                raise ValueError(f"roster: `--roster` {path} line {n}: `id` must be a usable student id ({why})")
            if row.get("lms_id") and not row.get("lms_user_id"):
                row["lms_user_id"] = row["lms_id"]
            values = {k: row[k] for k in ROSTER_COLUMNS[1:] if row.get(k)}
            gb.update_or_create_student(sid, **values)
            ids.append(sid)
    return ids


def keep_lms_ids(course, lms_ids):
    """Record LMS user ids read from file names for students whose gradebook entry has none."""
    if not lms_ids:
        return
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gb:
        for sid, uid in lms_ids.items():
            try:
                if gb.find_student(sid).lms_user_id:
                    continue
            except MissingEntry:
                pass
            gb.update_or_create_student(sid, lms_user_id=uid)

