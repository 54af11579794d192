"""Grading a folder: find the submissions, grade each once in parallel workers, write a report per
submission and a summary for the class.

A batch is built to be interrupted. Every report is written atomically and records what it graded
(the submission's sha256, the spec's fingerprint, the grader's version and the seed), so running the
same command again reuses every report that still matches and grades only the rest. Files with the
same content are graded once and reported under each id.

Workers are forked from this process after the spec is loaded; each grades one submission at a time
through the engine (whose children are started fresh, never forked from a worker's memory). A worker
that dies costs only the submission it was grading, which gets an `error` report and is graded again
on the next run.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for
from pathlib import Path

from grader import __version__
from grader import source
from grader.report import ERROR, CheckResult, Report, clean, write_atomic
from grader.sandbox import become_subreaper, our_children, sweep_orphans
from grader.spec import Spec

SUFFIXES = (".py", ".ipynb")
IGNORED_PARTS = ("__pycache__", ".ipynb_checkpoints", "__MACOSX")

# Names learning-management systems give bulk downloads; each yields the student's id and, where the
# name carries it, the file name the student chose (which their feedback should use).
CANVAS_FILE = re.compile(r"^[^_]+_(?:late_)?(?P<id>\d+)_\d+_(?P<name>.+)$", re.IGNORECASE)
MOODLE_FOLDER = re.compile(r"^.+?_(?P<id>\d+)_assignsubmission_[a-z]+_?$", re.IGNORECASE)
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


# ------------------------------------------------------------------ discovery

@dataclass
class Submission:
    """One student's hand-in: the file to grade, or why there is none to grade."""

    id: str
    path: Path | None  # None when the folder holds no candidate, or several and none was picked
    name: str  # what the student calls the file, used in their feedback
    problem: str | None = None
    sha256: str = ""


def discover(folder: Path, pick: str | None = None, exclude: Path | None = None) -> tuple[list[Submission], list[Path]]:
    """Every .py/.ipynb file directly in `folder`, and every sub-folder holding one, is a submission.

    Returns the submissions (ids unique, in a stable order) and the top-level files that were ignored.
    A sub-folder with several candidate files is graded only when `pick` (a glob on the file name)
    selects exactly one of them; otherwise its report says which files were found.
    """
    submissions, ignored = [], []
    gradescope_ids = _gradescope_ids(folder)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED_PARTS or exclude and _same(entry, exclude):
            continue
        if entry.is_symlink():  # never followed: it could name any file the grader can read
            if entry.suffix in SUFFIXES or entry.is_dir():
                student, name = _from_file_name(entry.name) if entry.suffix in SUFFIXES else (entry.name, entry.name)
                submissions.append(Submission(student, None, name, f"{entry.name} is a symbolic link; "
                                              "hand in the file itself"))
            else:
                ignored.append(entry)
        elif entry.is_file():
            if entry.suffix in SUFFIXES:
                student, name = _from_file_name(entry.name)
                submissions.append(Submission(student, entry, name))
            elif entry.name != "submission_metadata.yml":
                ignored.append(entry)
        elif entry.is_dir():
            submissions.append(_from_folder(entry, pick, gradescope_ids))
    _make_ids_unique(submissions)
    return submissions, ignored


def _from_file_name(name: str) -> tuple[str, str]:
    match = CANVAS_FILE.match(name)
    if match and Path(match["name"]).suffix in SUFFIXES:
        return match["id"], match["name"]
    return Path(name).stem, name


def _from_folder(folder: Path, pick: str | None, gradescope_ids: dict[str, str]) -> Submission:
    moodle, gradescope = MOODLE_FOLDER.match(folder.name), GRADESCOPE_FOLDER.match(folder.name)
    student = (moodle["id"] if moodle else gradescope_ids.get(folder.name, folder.name) if gradescope
               else folder.name)
    candidates, links = _candidates(folder)
    if pick and len(candidates) > 1:
        candidates = [p for p in candidates if fnmatch.fnmatch(p.name, pick)] or candidates
    if len(candidates) == 1 and candidates[0] in links or not candidates and links:
        link = str((candidates or links)[0].relative_to(folder))
        return Submission(student, None, folder.name,
                          f"{link} in the folder {folder.name} is a symbolic link; hand in the file itself")
    if len(candidates) == 1:
        return Submission(student, candidates[0], _from_file_name(candidates[0].name)[1])
    found = ", ".join(str(p.relative_to(folder)) for p in candidates[:8]) + (" ..." if len(candidates) > 8 else "")
    problem = (f"the folder {folder.name} holds no .py or .ipynb file" if not candidates else
               f"the folder {folder.name} holds {len(candidates)} candidate files ({found}); hand in one, "
               "or course staff choose with --pick")
    return Submission(student, None, folder.name, problem)


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


def _gradescope_ids(folder: Path) -> dict[str, str]:
    """Gradescope's export lists each submission folder's submitters in submission_metadata.yml:
    the first submitter's `:sid:` (else their email) becomes the id. Read with a pattern, not a YAML
    parser: only these two keys matter, and the file's layout is fixed."""
    metadata = folder / "submission_metadata.yml"
    if not metadata.is_file():
        return {}
    ids, current = {}, None
    for line in metadata.read_text(errors="replace").splitlines():
        if re.match(r"^submission_\d+:", line):
            current = line.split(":", 1)[0]
        elif current and current not in ids:
            match = re.match(r"^\s*-?\s*:(sid|email):\s*['\"]?([^'\"\s]+)", line)
            if match:
                ids[current] = match[2]
    return ids


# Names the batch writes in OUTDIR itself (summary.json now; the others are coming): a student's id
# never takes one, whatever its case, or the batch's file would overwrite their report.
RESERVED_IDS = {"summary", "index", "changes", "adjustments", "similarity", "gradebook", "students", "feedback"}


def _make_ids_unique(submissions: list[Submission]) -> None:
    """Ids become file names: keep them safe, never let two students share one (even on a file
    system that ignores case), and never give one a name the batch writes itself."""
    taken = set(RESERVED_IDS)
    for sub in submissions:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", sub.id).strip("._") or "submission"
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


# ------------------------------------------------------------------ reports on disk

def reusable(path: Path, sub: Submission, spec: Spec, seed: int) -> dict | None:
    """The report already on disk for this submission, if it graded exactly what would be graded now."""
    try:
        report = json.loads(path.read_text())
        same = (report["submission"]["sha256"] == sub.sha256 and report["spec"].get("sha256") == spec.fingerprint
                and report["grader"]["version"] == __version__ and report["seed"] == seed
                and report["status"] != "error" and report["submission"].get("id") == sub.id)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return report if same else None


def placeholder_report(spec: Spec, seed: int, name: str, sha256: str, why: str, status: str) -> Report:
    """A report for a submission that was not graded: every check is listed, none is scored."""
    tests = [CheckResult(c["name"], float(c["points"]), ERROR, f"Not run: {why}") for c in spec.checks]
    report = Report(spec_id=spec.id, spec_version=spec.version, submission_name=name, sha256=sha256,
                    grader_version=__version__, seed=seed, tests=tests, status=status,
                    spec_sha256=spec.fingerprint)
    report.notes.append(f"{'Ungradable' if status == 'ungradable' else 'Not graded'}: {why}")
    return report


# ------------------------------------------------------------------ workers

def _worker(conn, spec: Spec, seed: int, parent: int, zygote) -> None:
    """Grade what the batch sends, one submission at a time, until told to stop (or orphaned)."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    from grader import sandbox
    from grader.engine import grade_submission

    # children forked from a numpy-loaded zygote: ~5 ms each instead of ~120
    sandbox.adopt_zygote(zygote) if zygote else sandbox.use_zygote()
    while True:
        try:
            job = conn.recv()
        except EOFError:
            job = None
        if job is None:
            sandbox.use_zygote(False)
            return
        key, path, name = job
        try:
            result = grade_submission(Path(path), spec, seed=seed, display_name=name).to_dict()
        except Exception as exc:  # a fault of the grader's, not the student's: say so, keep going
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        conn.send((key, result))


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent:  # the batch died before the line above took effect
        os._exit(0)


class Pool:
    """N forked workers fed one job at a time; a worker that dies is replaced, its job reported."""

    def __init__(self, jobs: int, spec: Spec, seed: int):
        from grader import isolation, sandbox

        self.context = multiprocessing.get_context("fork")
        self.spec, self.seed = spec, seed
        # each worker's zygote boots (an interpreter, numpy) while the workers load the grader
        plan = isolation.plan()
        self.zygotes = [sandbox.start_zygote(plan) for _ in range(max(1, jobs))]
        self.workers = [self._start(zygote) for zygote in self.zygotes]

    def _start(self, zygote=None) -> dict:
        mine, theirs = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(theirs, self.spec, self.seed, os.getpid(), zygote),
                                       daemon=True)
        process.start()
        theirs.close()
        return {"process": process, "conn": mine, "job": None}

    def run(self, jobs: list[tuple[str, str, str]]):
        """Yield (key, report dict or {"error": text}) for every job, in the order they finish."""
        queue = list(reversed(jobs))
        while queue or any(w["job"] for w in self.workers):
            for worker in self.workers:
                if worker["job"] is None and queue:
                    worker["job"] = queue.pop()
                    worker["conn"].send(worker["job"])
            busy = {w["conn"]: w for w in self.workers if w["job"]}
            sentinels = {w["process"].sentinel: w for w in busy.values()}
            for ready in wait_for(list(busy) + list(sentinels)):
                worker = busy.get(ready) or sentinels[ready]
                if worker["job"] is None:
                    continue
                key = worker["job"][0]
                try:
                    if ready is worker["conn"] or worker["conn"].poll():
                        done_key, result = worker["conn"].recv()
                        worker["job"] = None
                        yield done_key, result
                        continue
                except (EOFError, OSError):
                    pass
                worker["job"] = None  # the worker died mid-job
                worker["process"].join(timeout=5)
                code = worker["process"].exitcode
                self._replace(worker)
                yield key, {"error": f"the grading worker died (exit code {code})"}

    def _replace(self, worker: dict) -> None:
        worker["conn"].close()
        worker["process"].join(timeout=1)
        worker.update(self._start())

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker["conn"].send(None)
            except OSError:
                pass
        for worker in self.workers:
            worker["process"].join(timeout=5)
            if worker["process"].is_alive():
                worker["process"].kill()
                worker["process"].join()
        from grader import sandbox

        for zygote in filter(None, self.zygotes):
            sandbox.stop_zygote(zygote)


# ------------------------------------------------------------------ progress

class Progress:
    """Counts and an estimate of the time left, on stderr: redrawn in place on a terminal, a line
    every tenth of the way (and at least every 10 s) otherwise."""

    def __init__(self, total: int, reused: int, quiet: bool, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done, self.quiet = total, reused, quiet
        self.started = time.monotonic()
        self.graded = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_line, self.last_tenth = 0.0, -1
        if not quiet and reused:
            self.stream.write(f"{reused} of {total} reports are up to date and were kept.\n")

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.graded += count
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        rate = self.graded / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        line = (f"graded {self.done}/{self.total} ({100 * self.done / max(self.total, 1):.0f}%), "
                f"{rate:.1f}/s, about {_duration(left)} left")
        tenth = 10 * self.done // max(self.total, 1)
        if self.tty:
            self.stream.write(f"\r{line}   ")
        elif tenth != self.last_tenth or elapsed - self.last_line >= 10 or self.done == self.total:
            self.stream.write(line + "\n")
            self.last_tenth, self.last_line = tenth, elapsed
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ------------------------------------------------------------------ the batch

@dataclass
class BatchResult:
    submissions: list[Submission]
    reports: dict[str, dict]  # id -> report
    reused: int = 0  # submissions whose report was kept from an earlier run
    graded: int = 0  # distinct files graded by this run (identical files are graded once)
    graded_submissions: int = 0  # submissions whose report this run's grading gave (graded + their copies)
    ignored: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def grade_folder(folder: Path, out: Path, spec: Spec, seed: int | None = None, jobs: int | None = None,
                 pick: str | None = None, force: bool = False, quiet: bool = False,
                 stream=None) -> BatchResult:
    """Grade every submission in `folder` into `out`; reuse reports that still match (unless force)."""
    started = time.monotonic()
    seed = spec.seed if seed is None else seed
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):  # what a killed run was writing: never a report
        stale.unlink(missing_ok=True)
    submissions, ignored = discover(folder, pick, exclude=out)
    reports: dict[str, dict] = {}
    todo: dict[str, list[Submission]] = {}  # one grading per distinct content
    for sub in submissions:
        if sub.path is None:
            sub.sha256 = hashlib.sha256(sub.problem.encode()).hexdigest()
            report = placeholder_report(spec, seed, sub.name, sub.sha256, sub.problem, "ungradable")
            reports[sub.id] = _for(sub, report.to_dict())
            continue
        sub.sha256 = source.read(sub.path).sha256  # as the engine hashes it: once, never through a link
        kept = None if force else reusable(out / f"{sub.id}.json", sub, spec, seed)
        if kept is not None:
            reports[sub.id] = kept
        else:
            todo.setdefault(f"{sub.sha256}{sub.path.suffix}", []).append(sub)
    for key, subs in list(todo.items()):  # same content as a report kept from an earlier run
        kept = next((reports[s.id] for s in submissions if s.id in reports and s.path is not None
                     and f"{s.sha256}{s.path.suffix}" == key), None)
        if kept is not None:
            for sub in todo.pop(key):
                reports[sub.id] = _for(sub, kept)
                _write_report(out, sub, reports[sub.id])
    reused = len(reports) - sum(1 for s in submissions if s.path is None)
    for sub in submissions:
        if sub.path is None:
            _write_report(out, sub, reports[sub.id])

    progress = Progress(len(submissions), len(submissions) - sum(map(len, todo.values())), quiet, stream)
    jobs_list = [(key, str(subs[0].path), subs[0].name) for key, subs in todo.items()]
    become_subreaper()  # what a killed worker's sandbox leaves behind lands here, and is swept below
    before = our_children()
    pool = Pool(min(jobs or os.cpu_count() or 1, max(1, len(jobs_list))), spec, seed) if jobs_list else None
    try:
        for key, result in (pool.run(jobs_list) if pool else ()):
            for sub in todo[key]:
                if "error" in result:
                    result = placeholder_report(spec, seed, sub.name, sub.sha256,
                                                f"the grader failed on this submission ({result['error']}); "
                                                "this is not the student's fault: run the batch again",
                                                "error").to_dict()
                reports[sub.id] = _for(sub, result)
                _write_report(out, sub, reports[sub.id])
            progress.advance(len(todo[key]))
    finally:
        if pool:
            pool.close()
        sweep_orphans(before)
        progress.finish()
    result = BatchResult(submissions, reports, reused=reused, graded=len(jobs_list), ignored=ignored,
                         graded_submissions=sum(map(len, todo.values())), seconds=time.monotonic() - started)
    write_summary(out, spec, seed, result)
    return result


def _for(sub: Submission, report: dict) -> dict:
    """A report (possibly of an identical file) as this student's: their id and their file's name."""
    rest = {k: v for k, v in report["submission"].items() if k not in ("id", "name")}
    return dict(report, submission={"id": sub.id, "name": sub.name, **rest})


def _write_report(out: Path, sub: Submission, report: dict) -> None:
    write_atomic(out / f"{sub.id}.json", json.dumps(report, indent=2) + "\n")


# ------------------------------------------------------------------ summary

def summary_rows(spec: Spec, result: BatchResult) -> list[dict]:
    rows = []
    for sub in result.submissions:
        report = result.reports[sub.id]
        scores = {t["name"]: t["score"] for t in report["tests"]}
        rows.append({"id": sub.id, "score": report["score"], "max_score": report["max_score"],
                     **{c["name"]: scores.get(c["name"], 0.0) for c in spec.checks},
                     "status": report["status"], "sha256": report["submission"]["sha256"],
                     "file": str(sub.path.name) if sub.path else ""})
    return rows


def _statuses(rows: list[dict]) -> dict[str, int]:
    return {s: sum(1 for r in rows if r["status"] == s) for s in ("graded", "ungradable", "error")}


def write_summary(out: Path, spec: Spec, seed: int, result: BatchResult) -> dict:
    """summary.csv for a spreadsheet or gradebook, summary.json with the same and the class's pass rates."""
    rows = summary_rows(spec, result)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "score", "max_score", *(c["name"] for c in spec.checks),
                                                "status", "sha256", "file"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    write_atomic(out / "summary.csv", buffer.getvalue())
    statuses = _statuses(rows)
    pass_rates = {}
    for check in spec.checks:
        passed = sum(1 for sub in result.submissions
                     if any(t["name"] == check["name"] and t["status"] == "passed"
                            for t in result.reports[sub.id]["tests"]))
        pass_rates[check["name"]] = round(passed / len(rows), 4) if rows else 0.0
    summary = {
        "spec": {"id": spec.id, "version": spec.version, "sha256": spec.fingerprint},
        "grader": {"version": __version__}, "seed": seed,
        "count": len(rows), "graded": statuses["graded"], "statuses": statuses,
        "mean_score": round(sum(r["score"] for r in rows) / len(rows), 4) if rows else 0.0,
        "max_score": spec.max_score, "pass_rates": pass_rates, "submissions": rows,
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def render_summary(result: BatchResult, out: Path, spec: Spec) -> str:
    """What course staff read at the end of a batch: counts, the class's mean, where things are."""
    rows = summary_rows(spec, result)
    statuses = _statuses(rows)
    mean = sum(r["score"] for r in rows) / len(rows) if rows else 0.0
    # two partitions of the same submissions, each adding up to the total: by status, and by where the
    # report came from (graded now, kept, or turned away without a file to grade)
    refused = sum(1 for sub in result.submissions if sub.path is None)
    copies = result.graded_submissions - result.graded
    lines = [f"{len(rows)} submissions in {_duration(result.seconds)}: {statuses['graded']} graded, "
             f"{statuses['ungradable']} ungradable, {statuses['error']} not graded because of a grader error.",
             f"This run: {result.graded_submissions} graded now"
             + (f" ({result.graded} distinct files: identical files are graded once)" if copies else "")
             + f", {result.reused} reports kept from an earlier run"
             + (f", {refused} turned away without a file to grade (their reports say why)" if refused else "")
             + ".",
             f"Mean score {mean:.2f} / {spec.max_score:g}. Reports and summary.csv are in {out}."]
    if result.ignored:
        names = clean(", ".join(p.name for p in result.ignored[:5]) + (" ..." if len(result.ignored) > 5 else ""))
        lines.append(f"Ignored {len(result.ignored)} file(s) that are not .py or .ipynb: {names}.")
    if statuses["error"]:
        lines.append("Run the same command again to retry the submissions the grader failed on.")
    return "\n".join(lines) + "\n"
