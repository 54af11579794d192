"""Assignment packs: where a course's specs, references, support modules and examples live.

Pure paths and stdlib, no imports of the grader's: both the grading side and the sandbox's isolation checks read
it. `new_pack` makes one from the scaffold (grader/scaffold/, a toy assignment shipped as package data).
"""

from __future__ import annotations

import os
import re
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


# ---------------------------------------------------------------------------- making one

SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
SCAFFOLD_ID = "toy-layer"
SCAFFOLD_MODULE = "toy_layer"  # the reference's file name (a module name: no dashes)
COPIED_SUFFIXES = (".py", ".json", ".md")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # as spec.schema.json's `id`
FALLBACK_ID = "assignment"


class PackError(Exception):
    """A folder that cannot become a pack, or is not one; the text says why and what to do."""


def safe_id(name: str) -> str:
    """A folder's name as a spec id: lower case, runs of anything but letters and digits as one dash."""
    made = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return made if ID_PATTERN.match(made) else FALLBACK_ID


def new_pack(folder: Path, assignment_id: str | None = None) -> list[Path]:
    """Copy the scaffold into `folder` (new or empty) as a pack whose one assignment has the id given
    (default: the folder's name, made id-safe). Returns the files written, in order."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PackError(f"{folder} is a file; give a new or empty folder for the pack.")
    if folder.is_dir() and any(folder.iterdir()):
        found = sorted(p.name for p in folder.iterdir())
        raise PackError(f"{folder} is not empty (it holds {', '.join(found[:5])}{' ...' if len(found) > 5 else ''}); "
                        "new-pack writes only into a new or empty folder, so that it never overwrites a course's "
                        "files. Give another folder.")
    new_id = assignment_id if assignment_id is not None else safe_id(folder.resolve().name)
    if not ID_PATTERN.match(new_id):
        raise PackError(f"--id {new_id!r} cannot name an assignment: use lower-case letters, digits and dashes, "
                        "starting with a letter or digit (for example hw3-rnn).")
    module = new_id.replace("-", "_")
    written = []
    for source in sorted(p for p in SCAFFOLD.rglob("*") if p.is_file() and p.suffix in COPIED_SUFFIXES
                         and "__pycache__" not in p.parts):
        parts = [new_id if part == SCAFFOLD_ID else part for part in source.relative_to(SCAFFOLD).parts]
        parts[-1] = parts[-1].replace(f"{SCAFFOLD_MODULE}.py", f"{module}.py").replace(SCAFFOLD_ID, new_id)
        target = folder.joinpath(*parts)
        text = source.read_text().replace(SCAFFOLD_ID, new_id).replace(f"{SCAFFOLD_MODULE}.py", f"{module}.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written.append(target)
    return written


def problem(root: Path) -> str | None:
    """What keeps `root` from being a pack, in a sentence; None when it is one (specs/ with at least one
    spec, and reference/). A spec's own mistakes are reported when it loads."""
    root = Path(root)
    if not root.exists():
        return f"{root} does not exist"
    if not root.is_dir():
        return f"{root} is a file, not a pack folder"
    missing = [name for name in ("specs", "reference") if not (root / name).is_dir()]
    if missing:
        return (f"{root} is not an assignment pack: it has no {' or '.join(f'{m}/' for m in missing)} folder (a pack "
                "holds specs/, reference/, support/ and submissions_example/; `grade new-pack DIR` makes one)")
    if not any(p for p in (root / "specs").glob("*.json") if not p.name.endswith(".schema.json")):
        return f"{root} is not an assignment pack yet: its specs/ folder holds no spec (<id>.json)"
    return None
