"""The result model: what each check found, the misconceptions it names, and the whole report.

One model, several views (see `views`). Reports are plain data: `Report.to_dict()` is the JSON report,
valid against specs/report.schema.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from grader.spec import SCHEMAS

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass
class Diagnosis:
    """A named misconception: a failure that matches a mistake students are known to make."""

    id: str
    message: str
    hint: str
    checks: list[str]

    def to_dict(self) -> dict:
        return {"id": self.id, "message": self.message, "hint": self.hint, "checks": list(self.checks)}


@dataclass
class CheckResult:
    name: str
    max_score: float
    status: str = PASSED
    output: str = ""
    tags: list[str] = field(default_factory=list)
    visibility: str = "visible"
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.max_score if self.status == PASSED else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "score": self.score, "max_score": self.max_score, "status": self.status,
                "output": self.output, "tags": list(self.tags), "visibility": self.visibility}


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
    isolation: dict | None = None  # {"active": [layer, ...], "missing": [layer, ...]}, see grader.isolation

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
        lines = []
        if self.status != "graded":
            lines.append(self.notes[0] if self.notes else "The submission could not be read.")
        elif not self.failed:
            lines.append(f"All {len(self.tests)} checks passed.")
        else:
            lines.append(f"{len(self.failed)} of {len(self.tests)} checks did not pass: {', '.join(self.failed)}.")
        lines.extend(n for n in self.notes if self.status == "graded" or n != self.notes[0])
        if self.isolation and self.isolation["missing"]:
            lines.append(f"Graded without these isolation layers: {', '.join(self.isolation['missing'])} "
                         "(`grade doctor` tells course staff how to add them).")
        return "\n".join(lines)

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
            "submission": {"name": self.submission_name, "sha256": self.sha256},
            "grader": {"version": self.grader_version},
            "seed": self.seed,
            "printed_bytes": self.printed_bytes,
            **({"isolation": self.isolation} if self.isolation is not None else {}),
        }


def write_atomic(path, text: str) -> None:
    """A report (or summary) on disk is either absent or whole, even if the grader is killed while
    writing it: written beside it, flushed to disk, then renamed over it."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def validate(report: dict) -> None:
    """Raise jsonschema.ValidationError when a report does not follow specs/report.schema.json."""
    import jsonschema

    schema = json.loads((SCHEMAS / "report.schema.json").read_text())
    jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
