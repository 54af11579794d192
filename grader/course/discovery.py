"""Finding the submissions in a class folder, and the one rule for the file to grade in a student's folder
(the batch and Gradescope's `gradescope-run` both use `choose`). Ids come from the names course platforms
give their downloads (Canvas, Moodle, Gradescope), made safe as file names and never shared."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader import student_ids
from grader.course import lateness

PEEK_BYTES = 2_000_000  # how much of a candidate is read to see whether it defines the class
SUFFIXES = (".py", ".ipynb")
IGNORED_PARTS = ("__pycache__", ".ipynb_checkpoints", "__MACOSX")

# Names learning-management systems give bulk downloads; each yields the student's id and, where the
# name carries it, the file name the student chose (which their feedback should use).
CANVAS_FILE = re.compile(r"^[^_]+_(?P<late>late_)?(?P<id>\d+)_(?P<number>\d+)_(?P<name>.+)$", re.IGNORECASE)
MOODLE_FILE = re.compile(r"^.+?_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<name>.+)$", re.IGNORECASE)  # without folders
MOODLE_FOLDER = re.compile(r"^.+?_(?P<id>\d+)_assignsubmission_[a-z]+_?$", re.IGNORECASE)
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


@dataclass
class Submission:
    """One student's hand-in: the file to grade, or why there is none to grade."""

    id: str
    path: Path | None  # None when the folder holds no candidate, or several and none was picked
    name: str  # what the student calls the file, used in their feedback
    problem: str | None = None
    sha256: str = ""
    others: list[str] = field(default_factory=list)  # other candidates in the student's folder, not graded
    # when it was handed in, as the platform says (never a file's mtime, which a zip or a copy sets):
    late: bool = False  # the platform marked the graded file late (Canvas's `_late_`), how late unknown
    handed_in: str = ""  # ISO 8601, from Moodle's grading worksheet or Gradescope's metadata
    pick_missed: bool = False  # --pick matched none of this student's files (the rule chose without it)


def discover(folder: Path, pick: str | None = None, exclude: Path | None = None,
             marker: str | None = None) -> tuple[list[Submission], list[Path]]:
    """Every .py/.ipynb file directly in `folder`, and every sub-folder holding one, is a submission;
    but the files a platform names with one student's id (Canvas's, Moodle's without folders: a main
    file, helpers, a resubmission) are that student's one submission.

    Returns the submissions (ids unique, in a stable order) and the top-level files that were ignored.
    In a sub-folder or among a student's files, the one rule picks the file (the others are listed).
    When it was handed in comes from what the platform wrote (`_late_` in a Canvas name, Moodle's
    grading worksheet as a .csv in `folder`, Gradescope's submission_metadata.yml), never from mtimes.
    """
    found, ignored = [], []  # (the name that orders it, the submission)
    files: dict[str, list[Path]] = {}  # a platform's id -> that student's files directly in `folder`
    gradescope_ids, gradescope_times = _gradescope(folder)
    worksheet: dict[str, str] = {}
    extra: dict[str, list[Path]] = {}  # a platform's id -> that student's files that are not code
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED_PARTS or exclude and _same(entry, exclude):
            continue
        if entry.suffix in SUFFIXES and _platform(entry.name) and not entry.is_dir():
            files.setdefault(_platform(entry.name)["id"], []).append(entry)
        elif entry.is_file() and not entry.is_symlink() and _platform(entry.name, any_suffix=True) \
                and entry.suffix.lower() != ".csv":
            extra.setdefault(_platform(entry.name, any_suffix=True)["id"], []).append(entry)  # a PDF, a zip
        elif entry.is_symlink():  # never followed: it could name any file the grader can read
            if entry.suffix in SUFFIXES or entry.is_dir():
                student, name = _from_file_name(entry.name) if entry.suffix in SUFFIXES else (entry.name, entry.name)
                found.append((entry.name, Submission(student, None, name, f"{entry.name} is a symbolic link; "
                                                     "hand in the file itself")))
            else:
                ignored.append(entry)
        elif entry.is_file():
            if entry.suffix in SUFFIXES:
                found.append((entry.name, Submission(Path(entry.name).stem, entry, entry.name)))
            elif entry.suffix.lower() == ".csv" and (times := lateness.read_worksheet(entry)) is not None:
                worksheet.update(times)  # Moodle's grading worksheet: when each participant handed in
            elif entry.name != "submission_metadata.yml":
                ignored.append(entry)
        elif entry.is_dir():
            sub = _from_folder(entry, pick, gradescope_ids, marker)
            sub.handed_in = gradescope_times.get(entry.name, "")
            found.append((entry.name, sub))
            for member in gradescope_ids.get(entry.name, [])[1:]:  # a group's hand-in: a row per member
                found.append((entry.name, replace(sub, id=member, others=list(sub.others))))
    for student, paths in files.items():
        sub = _from_files(student, paths, pick, marker)
        sub.others += [_platform(p.name, any_suffix=True)["name"] for p in extra.pop(student, [])]
        found.append((paths[0].name, sub))
    for student, paths in extra.items():  # handed in, but nothing the grader can grade: a row that says so
        names = [_platform(p.name, any_suffix=True)["name"] for p in paths]
        found.append((paths[0].name, Submission(student, None, names[0], (
            f"handed in only {', '.join(names[:5])}: no .py or .ipynb file to grade"),
            late=bool(_platform(paths[0].name, any_suffix=True).groupdict().get("late")))))
    submissions = [sub for _, sub in sorted(found, key=lambda pair: pair[0])]
    for sub in submissions:
        sub.handed_in = sub.handed_in or worksheet.get(sub.id, "")
    _make_ids_unique(submissions)
    return submissions, ignored


def _platform(name: str, any_suffix: bool = False):
    """The match of a platform's file name (Moodle's without folders, Canvas's) carrying the student's id
    (a .py or .ipynb file's, or with `any_suffix` any file's)."""
    for pattern in (MOODLE_FILE, CANVAS_FILE):
        match = pattern.match(name)
        if match and (any_suffix or Path(match["name"]).suffix in SUFFIXES):
            return match
    return None


def _from_files(student: str, paths: list[Path], pick: str | None, marker: str | None) -> Submission:
    """One student's files in a platform's download, directly in the class folder (a main file,
    helpers, a resubmission): the one rule chooses the file to grade, and the others are listed."""
    candidates = [p for p in paths if fnmatch.fnmatch(p.name, pick) or fnmatch.fnmatch(_platform(p.name)["name"], pick)
                  ] if pick else []
    missed = bool(pick) and not candidates
    candidates = candidates or paths

    def newest_first(path: Path) -> int:  # Canvas numbers each upload: a resubmission's number is higher
        number = _platform(path.name).groupdict().get("number")
        return -int(number) if number else 0

    chosen = min(candidates, key=lambda p: (*_rank(p, marker, links=[]), newest_first(p), p.name))
    match = _platform(chosen.name)
    late = bool(match.groupdict().get("late"))
    # the other files by the names the student gave them (the platform's prefix is not theirs)
    others = [_platform(p.name)["name"] + (" (an earlier upload)" if _platform(p.name)["name"] == match["name"] else "")
              for p in sorted(paths) if p != chosen]
    if chosen.is_symlink():
        return Submission(student, None, match["name"], f"{chosen.name} is a symbolic link; hand in the file itself",
                          others=others, late=late, pick_missed=missed)
    return Submission(student, chosen, match["name"], others=others, late=late, pick_missed=missed)


def _from_file_name(name: str) -> tuple[str, str]:
    match = _platform(name)
    if match:
        return match["id"], match["name"]
    return Path(name).stem, name


def _from_folder(folder: Path, pick: str | None, gradescope_ids: dict[str, list[str]],
                 marker: str | None) -> Submission:
    moodle, gradescope = MOODLE_FOLDER.match(folder.name), GRADESCOPE_FOLDER.match(folder.name)
    members = gradescope_ids.get(folder.name) or [folder.name]
    student = moodle["id"] if moodle else members[0] if gradescope else folder.name
    chosen, others, problem = choose(folder, marker, pick)
    missed = bool(pick) and not any(fnmatch.fnmatch(p.name, pick) for p in _candidates(folder)[0])
    if chosen is None:
        return Submission(student, None, folder.name, problem, pick_missed=missed)
    return Submission(student, chosen, _from_file_name(chosen.name)[1], others=others, pick_missed=missed)


def files_line(graded: str, others: list[str]) -> str:
    """Which file was graded and which were handed in but not, in one sentence (the batch's report and
    Gradescope's results.json both say it)."""
    if not others:
        return f"Graded {graded}."
    shown = ", ".join(others[:8]) + (" and more" if len(others) > 8 else "")
    return f"Graded {graded}; also handed in, not graded: {shown}."


def choose(folder: Path, marker: str | None, pick: str | None = None) -> tuple[Path | None, list[str], str | None]:
    """The one rule for the file to grade in a student's folder (a batch's sub-folder, Gradescope's
    upload): the candidates are the .py and .ipynb files anywhere under it (hidden folders,
    __pycache__, .ipynb_checkpoints and __MACOSX aside); `pick` (a glob on the name, course staff's)
    narrows them; then files that define the spec's class or first function (`marker`) come before files
    that do not, .py before .ipynb, shallower before deeper, then by path. A symbolic link is never
    followed: a linked folder is not entered, a linked file comes last, and if it is the choice, it is
    refused. Returns (the file, the other candidates as relative paths, why there is none)."""
    candidates, links = _candidates(folder)
    if pick:
        candidates = [p for p in candidates if fnmatch.fnmatch(p.name, pick)] or candidates
    if not candidates:
        if links:
            link = str(links[0].relative_to(folder))
            return None, [], f"{link} in the folder {folder.name} is a symbolic link; hand in the file itself"
        return None, [], f"the folder {folder.name} holds no .py or .ipynb file"

    def order(path: Path):
        relative = path.relative_to(folder)
        return (*_rank(path, marker, links), len(relative.parts), str(relative))

    chosen = min(candidates, key=order)
    if chosen in links:
        return None, [], (f"{chosen.relative_to(folder)} in the folder {folder.name} is a symbolic link; hand in "
                          "the file itself")
    return chosen, [str(p.relative_to(folder)) for p in sorted(candidates) if p != chosen], None


def _rank(path: Path, marker: str | None, links: list[Path]) -> tuple:
    """The start of the one rule's order, shared by a student's folder and a student's files in a
    platform's download: a linked file last, files defining the marker first, .py before .ipynb."""
    return (path in links or path.is_symlink(), not _defines(path, marker), path.suffix != ".py")


def _candidates(folder: Path) -> tuple[list[Path], list[Path]]:
    """The .py/.ipynb files under a student's folder, and the symbolic links among them or on the way
    to them (a linked folder is not entered: whatever it holds is the link's)."""
    candidates, links = [], []
    for here, folders, names in os.walk(folder):  # never follows a link to a folder
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in IGNORED_PARTS)
        for name in folders:
            if os.path.islink(os.path.join(here, name)):
                links.append(Path(here) / name)
        for name in names:
            path = Path(here) / name
            if path.suffix in SUFFIXES and not name.startswith("."):
                candidates.append(path)
                if path.is_symlink():
                    links.append(path)
    return sorted(candidates), links


def _defines(path: Path, marker: str | None) -> bool:
    """Does the file itself (never what a link names, never a pipe that would block) hold the marker?"""
    if not marker:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    with open(fd, "rb") as fh:
        return stat.S_ISREG(os.fstat(fd).st_mode) and marker.encode() in fh.read(PEEK_BYTES)


def _gradescope(folder: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Gradescope's export lists each submission folder's submitters in submission_metadata.yml:
    each submitter's `:sid:` (else their email) is an id (a group's hand-in is each member's), and `:created_at:` (e.g.
    `2026-12-04 23:10:05.123456000 -0800`) when it was handed in. Read with patterns, not a YAML
    parser: only these keys matter, and the file's layout is fixed."""
    metadata = folder / "submission_metadata.yml"
    if not metadata.is_file():
        return {}, {}
    ids: dict[str, list[dict]] = {}
    times, depths, current = {}, {}, None
    submitters = None  # the indent of the current submission's `:submitters:` key while in its list
    for line in metadata.read_text(errors="replace").splitlines():
        depth = len(line) - len(line.lstrip())
        if re.match(r"^submission_\d+:", line):
            current, submitters = line.split(":", 1)[0], None
            ids.setdefault(current, [])
            continue
        if current is None:
            continue
        if re.match(r"^\s*:submitters:", line):
            submitters = depth
            continue
        if submitters is not None and depth <= submitters and not line.lstrip().startswith("-"):
            submitters = None  # the list ended
        if submitters is not None:
            if line.lstrip().startswith("-"):
                ids[current].append({})  # a new member; their :sid: and :email: follow
            match = re.match(r"^\s*-?\s*:(sid|email):\s*['\"]?([^'\"\s]+)", line)
            if match and ids[current]:
                ids[current][-1].setdefault(match[1], match[2])
        elif re.match(r"^\s*:created_at:", line):  # the submission's own, not an earlier one's
            moment = lateness.parse_moment(line.split(":created_at:", 1)[1].strip().strip("'\""))
            if moment is not None and depth < depths.get(current, 1 << 30):
                times[current], depths[current] = moment.isoformat(), depth
    found = {name: [m.get("sid") or m["email"] for m in members if m.get("sid") or m.get("email")]
             for name, members in ids.items()}
    return found, times


# Names the batch writes in OUTDIR itself: a student's id never takes one, whatever its case, or the
# batch's file would overwrite their report (one rule with the service's roster: grader/student_ids.py).
RESERVED_IDS = student_ids.RESERVED


def safe_id(text: str) -> str:
    """An id as a file name may hold it (the roster's ids are cleaned the same way)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "submission"


def _make_ids_unique(submissions: list[Submission]) -> None:
    """Ids become file names: keep them safe, never let two students share one (even on a file
    system that ignores case), and never give one a name the batch writes itself."""
    taken = set(RESERVED_IDS)
    for sub in submissions:
        base = safe_id(sub.id)
        sub.id, number = base, 1
        while sub.id.lower() in taken:
            number += 1
            sub.id = f"{base}-{number}"
        taken.add(sub.id.lower())


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
