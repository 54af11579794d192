"""The result model: what each check found, the misconceptions it names, and the whole report.

One model, several views (see `views`). Reports are plain data: `Report.to_dict()` is the JSON report,
valid against specs/report.schema.json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from grader.pack import SCHEMAS

PASSED, FAILED, ERROR = "passed", "failed", "error"
NOT_SCORED = "not scored yet"  # what every view shows for a report whose status is `error` (the grader's failure)


def spreadsheet_cell(value):
    """A CSV cell a spreadsheet shows as text: one that starts like a formula (= + - @, a tab or a return)
    gets a leading apostrophe (OWASP's advice on CSV injection), since names and feedback come from
    students and staff open these files in Excel or LibreOffice before they upload them."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def score_text(score: float, max_score: float, status: str) -> str:
    """A score as every view shows it: "7.5 / 10", or "not scored yet" where the grader itself failed, so
    that no view, page or gradebook shows a number the grader could not stand behind."""
    return NOT_SCORED if status == "error" else f"{score:g} / {max_score:g}"

# What a student's text (an exception message, a line of code, a file name) must never carry into a
# view: terminal escape sequences (CSI, OSC up to BEL or ST, or any other ESC pair), C0 controls but
# newline and tab, DEL, C1 controls, bidi overrides and isolates (they reorder what a TA reads), and
# lone surrogates (a JSON escape can make one; no terminal or file can encode it).
_UNSAFE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?|\x9b[0-?]*[ -/]*[@-~]?"
                     r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean(text: str) -> str:
    """Student-derived text made safe to show anywhere: control characters and escape sequences go.

    Carriage returns become newlines (a bare CR would let a line overwrite the one before it)."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub(lambda m: "\ufffd" if "\ud800" <= m.group()[0] <= "\udfff" else "", text)


@dataclass
class Diagnosis:
    """A named misconception: a failure that matches a mistake students are known to make."""

    id: str
    message: str
    hint: str
    checks: list[str]

    def to_dict(self) -> dict:
        return {"id": self.id, "message": clean(self.message), "hint": clean(self.hint), "checks": list(self.checks)}


@dataclass
class CheckResult:
    name: str
    max_score: float
    status: str = PASSED
    output: str = ""
    tags: list[str] = field(default_factory=list)
    visibility: str = "visible"
    diagnoses: list[Diagnosis] = field(default_factory=list)
    fault: str = "submission"  # whose fault an error is: "submission", or "grader" (its own code failed)

    @property
    def score(self) -> float:
        return self.max_score if self.status == PASSED else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "score": self.score, "max_score": self.max_score, "status": self.status,
                "output": clean(self.output), "tags": list(self.tags), "visibility": self.visibility}


@dataclass
class Report:
    spec_id: str
    spec_version: str
    submission_name: str
    sha256: str
    grader_version: str
    seed: int
    tests: list[CheckResult]
    status: str = "graded"
    execution_time: float = 0.0
    notes: list[str] = field(default_factory=list)
    printed_bytes: int = 0
    spec_sha256: str = ""  # the spec and its reference, as graded: a batch re-grades when it changes
    visibility: str = "visible"
    stdout_visibility: str = "hidden"
    isolation: dict | None = None  # {"active": [layer, ...], "missing": [layer, ...]}, see grader.sandbox.isolation

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    @property
    def diagnoses(self) -> list[Diagnosis]:
        """Each misconception once, with every check it explains."""
        merged: dict[str, Diagnosis] = {}
        for test in self.tests:
            for d in test.diagnoses:
                if d.id in merged:
                    if test.name not in merged[d.id].checks:
                        merged[d.id].checks.append(test.name)
                else:
                    merged[d.id] = Diagnosis(d.id, d.message, d.hint, [test.name])
        return list(merged.values())

    @property
    def failed(self) -> list[str]:
        return [t.name for t in self.tests if t.status != PASSED]

    def summary(self) -> str:
        """The overall feedback a student reads. Never a staff-only fact: not the seed, not which
        isolation layers were missing (`isolation_note` says that, to course staff)."""
        lines = []
        if self.status != "graded":
            lines.append(self.notes[0] if self.notes else "The submission could not be read.")
        elif not self.failed:
            lines.append(f"All {len(self.tests)} checks passed.")
        else:
            lines.append(f"{len(self.failed)} of {len(self.tests)} checks did not pass: {', '.join(self.failed)}.")
        lines.extend(n for n in self.notes if self.status == "graded" or n != self.notes[0])
        return clean("\n".join(lines))

    def isolation_note(self) -> str:
        """For course staff only (stderr, never a view a student sees): the layers that were missing."""
        return isolation_note(self.isolation)

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "execution_time": round(self.execution_time, 3),
            "output": self.summary(),
            "visibility": self.visibility,
            "stdout_visibility": self.stdout_visibility,
            "tests": [t.to_dict() for t in self.tests],
            "diagnoses": [d.to_dict() for d in self.diagnoses],
            "spec": {"id": self.spec_id, "version": self.spec_version,
                     **({"sha256": self.spec_sha256} if self.spec_sha256 else {})},
            "submission": {"name": clean(self.submission_name), "sha256": self.sha256},
            "grader": {"version": self.grader_version},
            "seed": self.seed,
            "printed_bytes": self.printed_bytes,
            **({"isolation": self.isolation} if self.isolation is not None else {}),
        }


def isolation_note(isolation: dict | None) -> str:
    """One line for course staff when a submission ran without some isolation layer; "" otherwise."""
    if not isolation or not isolation.get("missing"):
        return ""
    return (f"Graded without these isolation layers: {', '.join(isolation['missing'])} "
            "(`grade doctor` says how to add them).")


def write_atomic(path, text: str, durable: bool = True, private: bool = False) -> None:
    """A report (or summary) on disk is either absent or whole, even if the grader is killed while
    writing it: written beside it, flushed to disk, then renamed over it. `durable=False` skips the
    flush (pages rebuilt from the reports on every run: a crash costs a rebuild, not a grade);
    `private=True` keeps it readable by its owner only (secrets), whatever the umask."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    if not private:  # mkstemp makes it 0600; the file is as open as the user's umask says
        os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        if durable:
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _umask() -> int:
    """The process's umask, read without changing it (Linux says it in /proc); else set and restored."""
    import os

    try:
        for line in open("/proc/self/status"):
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def validate(report: dict) -> None:
    """Raise jsonschema.ValidationError when a report does not follow specs/report.schema.json."""
    import jsonschema

    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
