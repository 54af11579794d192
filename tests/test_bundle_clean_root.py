"""The Gradescope bundle in a clean Debian root, the nearest this machine gets to Gradescope's image.

tests/test_bundle.py runs the scripts in a folder laid out like /autograder, on this machine's Python
with its pip configuration: a bundle that needs anything the stock image lacks (venv's pip bootstrap,
apt's package lists, a PyPI reachable without local indexes) passes there and fails on Gradescope.
Here debootstrap builds Debian bookworm (its own python3, no python3-venv, empty package lists as in a
container image), the bundle goes to /autograder/source, setup.sh runs as root with no environment but
PATH, and run_autograder grades a submission into /autograder/results/results.json.

Slow: the first run builds the root (about 3 minutes, cached in debian_root.CACHE), and every run
installs python3-venv with apt and the grader's dependencies from PyPI (a minute or two).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import debian_root
from grader import cli
from grader.judge.spec import EXAMPLES

GRADESCOPE_SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())


def _mounted_under(path: Path) -> list[str]:
    """Mount points at or under `path` in this process's namespace (there should be none)."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [p for p in points if Path(p) == path or Path(p).is_relative_to(path)]


@pytest.fixture
def clean_root(tmp_path):
    reason = debian_root.why_not()
    if reason:
        pytest.skip(f"no clean Debian root can be built here: {reason}")
    root = debian_root.fresh_root(tmp_path / "root")
    yield root
    # ~600 MB once the grader is installed; removed only when nothing is mounted inside (the mounts live
    # in run_in's private namespace, so there never should be: this keeps rmtree off the host's /dev)
    if not _mounted_under(root):
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(3000)
def test_setup_and_run_autograder_work_in_a_clean_debian_root(tmp_path, clean_root):
    bundle = tmp_path / "autograder.zip"
    made = CliRunner().invoke(cli.main, ["bundle", "--spec", "rnn-seq2one", "--out", str(bundle)])
    assert made.exit_code == 0, made.output
    autograder = clean_root / "autograder"
    for folder in ("source", "submission", "results"):
        (autograder / folder).mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(bundle), "-d", str(autograder / "source")], check=True)
    shutil.copy2(autograder / "source" / "run_autograder", autograder / "run_autograder")
    shutil.copy(EXAMPLES / "seed_student.py", autograder / "submission" / "rnn.py")

    setup = debian_root.run_in(clean_root, "cd /autograder/source && bash ./setup.sh", timeout=1800)
    assert setup.returncode == 0, f"setup.sh failed in a clean root:\n{setup.stdout[-4000:]}\n{setup.stderr[-4000:]}"
    assert "grade, version" in setup.stdout

    graded = debian_root.run_in(clean_root, "cd /autograder && ./run_autograder", timeout=600)
    assert graded.returncode == 0, f"run_autograder failed:\n{graded.stdout[-4000:]}\n{graded.stderr[-4000:]}"
    results = json.loads((autograder / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert results["score"] == 8.5, results["output"]
    assert sorted(t["name"] for t in results["tests"] if t["status"] == "failed") == ["gradient_d_bs", "update"]
    assert "rnn.py: 8.5 / 10" in graded.stdout  # the log Gradescope keeps: the text summary
