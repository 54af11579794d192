"""Gradescope: the autograder bundle that `grade bundle` writes, and what its `run_autograder` does.

The zip (Gradescope unpacks it into /autograder/source and builds an image from it):

    setup.sh          once per image: a virtual environment at /autograder/venv with the grader installed
    run_autograder    per submission: grade the file found in /autograder/submission, write
                      /autograder/results/results.json (Gradescope's format) and log the text view
    rnn-grader/       the grader's source, and beside it a pack of one assignment: the spec, its
                      reference, support modules and examples (from the spec's own pack)

The grader is installed editable from rnn-grader/ because it finds specs/ and reference/ beside its
package (see README); the reference stays outside anything a submission's interpreter imports from.
"""

from __future__ import annotations

import json
import os

import zipfile
from pathlib import Path

from grader.course.discovery import choose, files_line
from grader.judge.spec import PROJECT, Spec

SOURCE = "rnn-grader"  # the folder inside the bundle that holds the grader's source
PACKAGE_SUFFIXES = (".py", ".json", ".md")  # the package's modules and its package data
INSTALLED_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "rnn-grader"
version = "{version}"
requires-python = ">=3.11"
dependencies = {dependencies}

[project.scripts]
grade = "grader.cli:main"

[tool.setuptools.packages.find]
include = ["grader*"]

[tool.setuptools.package-data]
grader = ["schemas/*.json", "scaffold/**/*.py", "scaffold/**/*.json", "scaffold/*.md"]
"""

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
    source = project_files()
    package = Path(__file__).resolve().parents[1]  # all of grader/: sub-packages, schemas and scaffold included
    source.update({f"grader/{p.relative_to(package).as_posix()}": p.read_bytes() for p in sorted(package.rglob("*"))
                   if p.suffix in PACKAGE_SUFFIXES and p.is_file() and "__pycache__" not in p.parts})
    # The spec, its reference, support and examples come from the spec's pack (a course's own folder);
    # inside the bundle they form the pack beside the package, where the grader finds them by id.
    source[f"specs/{spec.id}.json"] = (json.dumps(spec.data, indent=2) + "\n").encode()
    source[f"reference/{spec.data['reference']}"] = spec.reference_path.read_bytes()
    # the examples let staff run `grade selftest` inside Gradescope's image (its debugging session)
    from grader.judge.selftest import expectations

    folder = "/".join(("submissions_example", *spec.examples.relative_to(spec.pack.examples).parts))
    examples = {name: entry for name, entry in expectations(spec).items() if (spec.examples / name).exists()}
    source[f"{folder}/expectations.json"] = (json.dumps(examples, indent=2) + "\n").encode()
    source.update({f"{folder}/{name}": (spec.examples / name).read_bytes() for name in examples})
    source.update({f"support/{spec.data['support']}/{name}.py": text.encode()
                   for name, text in spec.support_modules().items()})
    files.update({f"{SOURCE}/{name}": data for name, data in source.items()})
    return files


def project_files() -> dict[str, bytes]:
    """pyproject.toml and README.md of a checkout; from an installed wheel (which has neither), a
    pyproject.toml made from the installed metadata, so that setup.sh installs the same grader."""
    if (PROJECT / "pyproject.toml").is_file():
        return {name: (PROJECT / name).read_bytes() for name in ("pyproject.toml", "README.md")}
    from importlib import metadata

    requires = [r for r in metadata.requires("rnn-grader") or [] if "extra ==" not in r]
    return {"pyproject.toml": INSTALLED_PYPROJECT.format(version=metadata.version("rnn-grader"),
                                                         dependencies=json.dumps(requires)).encode()}


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
    """The file to grade among what a student uploaded: the batch's rule (`discovery.choose`)."""
    return choose(folder, marker)[0]


def autograde(root: Path, spec: Spec):
    """Grade what Gradescope put in ROOT/submission: Gradescope's results and, if graded, the report."""
    from grader.judge.grading import grade_submission
    from grader.report import clean
    from grader.report.views import gradescope_results

    folder = root / "submission"
    found, others, problem = choose(folder, spec.marker) if folder.is_dir() else (None, [], None)
    if found is None:
        uploaded = sorted(clean(str(p.relative_to(folder))) for p in folder.rglob("*") if p.is_file())[:10] \
            if folder.is_dir() else []
        holds = ", ".join(uploaded) or "nothing"
        why = (f"Your submission could not be graded: {clean(problem)}." if problem and "symbolic link" in problem
               else f"No .py or .ipynb file was found in your submission (it holds: {holds}).")
        return {"score": 0.0, "execution_time": 0,
                "output": f"{why} Upload the file that defines {spec.marker.split()[1]}.",
                "visibility": "visible",  # whatever the spec says: the student must learn this now
                "stdout_visibility": spec.visibility("stdout"), "tests": []}, None
    report = grade_submission(found, spec, display_name=str(found.relative_to(folder)))
    results = gradescope_results(report)
    # which file was graded, and which were handed in but not (a helper, a first try), first thing
    results["output"] = files_line(clean(str(found.relative_to(folder))), [clean(o) for o in others]) \
        + "\n" + results["output"]
    return results, report
