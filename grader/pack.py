"""Assignment packs: where a course's specs, references, support modules and examples live.

Pure paths, no imports of the grader's: both the grading side and the sandbox's isolation checks read it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent  # a checkout: the demo pack lies here
SCHEMAS = Path(__file__).resolve().parent / "schemas"  # the engine's own: what a spec and a report follow
PACK_VARIABLE = "GRADER_PACK"


@dataclass(frozen=True)
class Pack:
    """An assignment pack: a folder with `specs/` (one JSON per assignment), `reference/` (the hidden
    solutions, read by the grader's process only), `support/` (modules students may import) and
    `submissions_example/` (examples with expectations.json). A course keeps its own pack private and
    points the grader at it (`--pack DIR` or GRADER_PACK); the engine ships none."""

    root: Path

    @property
    def specs(self) -> Path:
        return self.root / "specs"

    @property
    def references(self) -> Path:
        return self.root / "reference"

    @property
    def support(self) -> Path:
        return self.root / "support"

    @property
    def examples(self) -> Path:
        return self.root / "submissions_example"


def current_pack() -> Pack:
    """The pack named by GRADER_PACK, else the demo pack beside the package (a checkout)."""
    named = os.environ.get(PACK_VARIABLE)
    return Pack(Path(named).resolve()) if named else Pack(PROJECT)
