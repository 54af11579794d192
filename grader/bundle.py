"""Gradescope: the autograder bundle that `grade bundle` writes, and what its `run_autograder` does.

The zip (Gradescope unpacks it into /autograder/source and builds an image from it):

    setup.sh          once per image: a virtual environment at /autograder/venv with the grader installed
    run_autograder    per submission: grade the file found in /autograder/submission, write
                      /autograder/results/results.json (Gradescope's format) and log the text view
    rnn-grader/       the grader's source, the spec, its reference and its examples

The grader is installed editable from rnn-grader/ because it finds specs/ and reference/ beside its
package (see README); the reference stays outside anything a submission's interpreter imports from.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

from grader.spec import EXAMPLES, PROJECT, REFERENCES, SPECS, Spec

SOURCE = "rnn-grader"  # the folder inside the bundle that holds the grader's source
SUBMISSION_SUFFIXES = (".py", ".ipynb")
SKIPPED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX"}
MOST_FILES = 2000  # a submission folder is walked this far and no further
PEEK_BYTES = 2_000_000  # how much of a candidate is read to see whether it defines the class

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. It installs the grader into
# its own virtual environment (Ubuntu's Python refuses system-wide pip installs). The grader needs
# Python 3.11 or newer: choose Gradescope's Ubuntu 24.04 base image (Python 3.12).
# AUTOGRADER_ROOT and GRADER_PYTHON exist only to try the bundle outside Gradescope.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: the grader needs Python 3.11 or newer, and $PYTHON is $("$PYTHON" --version 2>&1)." \\
         "Choose the Ubuntu 24.04 base image in the autograder settings." >&2
    exit 1
fi
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    # Ubuntu and Debian ship venv's pip bootstrap separately, and a container image (Gradescope's base
    # among them) comes with empty package lists: without the update there is nothing to install
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3-venv
fi
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --editable "$HERE/{source}"
"$ROOT/venv/bin/grade" --version
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades the file the documented rule picks from
# /autograder/submission (see `grade gradescope-run --help`) and writes /autograder/results/results.json.
# Anything printed here goes to Gradescope's stdout log (visibility set by the spec).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADER_PYTHON:-$ROOT/venv/bin/python}"
exec "$PYTHON" -m grader.cli gradescope-run --root "$ROOT" --spec {spec_id}
"""


def bundle_files(spec: Spec) -> dict[str, bytes]:
    """Every file of the bundle, by its path inside the zip."""
    files = {"setup.sh": SETUP_SH.replace("{source}", SOURCE).encode(),
             "run_autograder": RUN_AUTOGRADER.replace("{spec_id}", spec.id).encode()}
    source = {name: (PROJECT / name).read_bytes() for name in ("pyproject.toml", "README.md")}
    source.update({f"grader/{p.name}": p.read_bytes() for p in sorted((PROJECT / "grader").glob("*.py"))})
    # the package data pyproject.toml names: without it the installed grader cannot load a spec
    source.update({f"grader/schemas/{p.name}": p.read_bytes()
                   for p in sorted((PROJECT / "grader" / "schemas").glob("*.json"))})
    source.update({f"specs/{p.name}": p.read_bytes() for p in sorted(SPECS.glob("*.schema.json"))})
    # the spec may come from a course's own path; inside the bundle it is found by its id
    source[f"specs/{spec.id}.json"] = (json.dumps(spec.data, indent=2) + "\n").encode()
    source[f"reference/{spec.data['reference']}"] = (REFERENCES / spec.data["reference"]).read_bytes()
    # the examples let staff run `grade selftest` inside Gradescope's image (its debugging session)
    from grader.selftest import expectations

    folder = "/".join(("submissions_example", *spec.examples.relative_to(EXAMPLES).parts))
    examples = {name: entry for name, entry in expectations(spec).items() if (spec.examples / name).exists()}
    source[f"{folder}/expectations.json"] = (json.dumps(examples, indent=2) + "\n").encode()
    source.update({f"{folder}/{name}": (spec.examples / name).read_bytes() for name in examples})
    source.update({f"support/{spec.data['support']}/{name}.py": text.encode()
                   for name, text in spec.support_modules().items()})
    files.update({f"{SOURCE}/{name}": data for name, data in source.items()})
    return files


def write_bundle(spec: Spec, out: Path) -> list[str]:
    """Write the zip; the two scripts are executable (Gradescope copies run_autograder and runs it)."""
    files = bundle_files(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # same spec, same bytes
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(tmp, out)
    return list(files)


def find_submission(folder: Path, marker: str) -> Path | None:
    """The file to grade among what a student uploaded, by one documented rule.

    Candidates are the .py and .ipynb files anywhere under the folder (hidden folders, __pycache__,
    .ipynb_checkpoints and __MACOSX aside). The first of them in this order is graded: files that
    define the spec's class or first function (`marker`: `class RNN`, `def rnn_cell_forward`) before files
    that do not, .py before .ipynb, shallower
    before deeper, then by path. A symbolic link is never followed (a linked folder is not entered,
    a linked file is read by nobody and comes last, and if it is all there is, grading refuses it).
    The files are only read as text here, never run.
    """
    candidates: list[Path] = []
    for here, folders, names in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in SKIPPED_FOLDERS)
        candidates += [Path(here) / n for n in names if Path(n).suffix in SUBMISSION_SUFFIXES]
        if len(candidates) >= MOST_FILES:
            break

    def defines_class(path: Path) -> bool:
        try:  # the file itself, never what a link names, never a pipe that would block
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return False
        with open(fd, "rb") as fh:
            return stat.S_ISREG(os.fstat(fd).st_mode) and marker.encode() in fh.read(PEEK_BYTES)

    def order(path: Path):
        relative = path.relative_to(folder)
        return (path.is_symlink(), not defines_class(path), path.suffix != ".py", len(relative.parts),
                str(relative))

    return min(candidates, key=order, default=None)


def autograde(root: Path, spec: Spec):
    """Grade what Gradescope put in ROOT/submission: Gradescope's results and, if graded, the report."""
    from grader.engine import grade_submission
    from grader.report import clean
    from grader.views import gradescope_results

    folder = root / "submission"
    found = find_submission(folder, spec.marker) if folder.is_dir() else None
    if found is None:
        uploaded = sorted(clean(str(p.relative_to(folder))) for p in folder.rglob("*") if p.is_file())[:10] \
            if folder.is_dir() else []
        return {"score": 0.0, "execution_time": 0,
                "output": (f"No .py or .ipynb file was found in your submission (it holds: "
                           f"{', '.join(uploaded) or 'nothing'}). Upload the file that defines "
                           f"{spec.marker.split()[1]}."),
                "visibility": "visible",  # whatever the spec says: the student must learn this now
                "stdout_visibility": spec.visibility("stdout"), "tests": []}, None
    report = grade_submission(found, spec, display_name=str(found.relative_to(folder)))
    return gradescope_results(report), report
