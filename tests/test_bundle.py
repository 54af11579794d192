"""The Gradescope bundle, unpacked into a folder laid out like Gradescope's /autograder and run there."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader import cli
from grader.bundle import find_submission
from grader.spec import EXAMPLES

GRADESCOPE_SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())


def build(tmp_path: Path) -> Path:
    out = tmp_path / "autograder.zip"
    result = CliRunner().invoke(cli.main, ["bundle", "--spec", "rnn-seq2one", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def gradescope_layout(tmp_path: Path, *submission: Path) -> Path:
    """/autograder as Gradescope builds it: source/ holds the unzipped bundle, run_autograder is copied
    to the root, submission/ holds what the student uploaded, results/ is empty."""
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    subprocess.run(["unzip", "-q", str(build(tmp_path)), "-d", str(root / "source")], check=True)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    for path in submission:
        shutil.copy(path, root / "submission" / path.name)
    return root


def run_autograder(root: Path, python: str | None = None) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root)}
    if python:
        env["GRADER_PYTHON"] = python
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA, cls=jsonschema.Draft202012Validator)
    return results


def test_the_bundle_holds_the_two_scripts_at_its_root_and_the_grader_beside_them(tmp_path):
    out = build(tmp_path)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        run = archive.read("run_autograder").decode()
    assert names[:2] == ["setup.sh", "run_autograder"]
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    for needed in ["rnn-grader/pyproject.toml", "rnn-grader/grader/engine.py", "rnn-grader/grader/child.py",
                   "rnn-grader/specs/rnn-seq2one.json", "rnn-grader/grader/schemas/report.schema.json",
                   "rnn-grader/reference/rnn_seq2one.py", "rnn-grader/submissions_example/expectations.json",
                   "rnn-grader/submissions_example/seed_student.py"]:
        assert needed in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("rnn-grader/tests/")]
    assert "--spec rnn-seq2one" in run
    assert build(tmp_path).read_bytes() == out.read_bytes(), "the same spec gives the same bundle"


def test_a_spec_given_by_path_is_shipped_under_its_id(tmp_path):
    data = json.loads((EXAMPLES.parent / "specs" / "rnn-seq2one.json").read_text())
    data["id"], data["version"] = "rnn-course-b", "2.0.0"
    spec_path = tmp_path / "elsewhere" / "course.json"
    spec_path.parent.mkdir()
    spec_path.write_text(json.dumps(data))
    out = tmp_path / "b.zip"
    assert CliRunner().invoke(cli.main, ["bundle", "--spec", str(spec_path), "--out", str(out)]).exit_code == 0
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("rnn-grader/specs/rnn-course-b.json"))["version"] == "2.0.0"
        assert "--spec rnn-course-b" in archive.read("run_autograder").decode()


@pytest.mark.timeout(300)
def test_setup_installs_the_bundled_grader_and_run_autograder_writes_gradescope_results(tmp_path):
    """The real thing: setup.sh makes a fresh virtual environment from the bundle (about 10 s here, with
    pip's configured index), and run_autograder grades with that install, not this checkout's."""
    root = gradescope_layout(tmp_path, EXAMPLES / "seed_student.py")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source", env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    where = subprocess.run([str(root / "venv" / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert Path(where.strip()).is_relative_to(root / "source" / "rnn-grader")

    results = run_autograder(root)
    assert results["score"] == 8.5
    failed = sorted(t["name"] for t in results["tests"] if t["status"] == "failed")
    assert failed == ["gradient_d_bs", "update"]


def test_run_autograder_grades_the_file_that_defines_the_class(tmp_path):
    root = gradescope_layout(tmp_path)
    (root / "submission" / "notes.py").write_text("# my scratch work\nprint('hi')\n")
    (root / "submission" / "hw").mkdir()
    shutil.copy(EXAMPLES / "mutant_update_sign.py", root / "submission" / "hw" / "rnn.py")
    results = run_autograder(root, python=sys.executable)
    assert results["score"] == 9
    assert [t["name"] for t in results["tests"] if t["status"] == "failed"] == ["update"]


def test_run_autograder_without_a_python_file_scores_zero_and_says_what_it_found(tmp_path):
    root = gradescope_layout(tmp_path)
    (root / "submission" / "answers.pdf").write_bytes(b"%PDF-1.4")
    results = run_autograder(root, python=sys.executable)
    assert results["score"] == 0 and results["tests"] == []
    assert "No .py or .ipynb file" in results["output"] and "answers.pdf" in results["output"]


def test_the_documented_rule_for_picking_the_submission(tmp_path):
    def layout(files: dict[str, str]) -> Path:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        return folder

    def picked(files: dict[str, str]) -> str | None:
        folder = layout(files)
        found = find_submission(folder, "class RNN")
        return None if found is None else found.relative_to(folder).as_posix()

    rnn = "class RNN:\n    pass\n"
    assert picked({"a.py": "x = 1", "z/deep/rnn.py": rnn}) == "z/deep/rnn.py"  # defines the class first
    assert picked({"rnn.ipynb": rnn, "rnn_export.py": rnn}) == "rnn_export.py"  # then .py before .ipynb
    assert picked({"sub/b.py": rnn, "c.py": rnn}) == "c.py"  # then shallower
    assert picked({"b.py": rnn, "a.py": rnn}) == "a.py"  # then by path
    assert picked({"only.ipynb": "{}"}) == "only.ipynb"  # without the class, still the best guess
    assert picked({".ipynb_checkpoints/x.py": rnn, "__MACOSX/._x.py": rnn, ".git/y.py": rnn,
                   "readme.txt": rnn}) is None


def test_a_function_spec_ships_its_support_modules_and_its_own_examples(tmp_path):
    from grader.spec import load

    spec = load("rnn-cell")
    out = tmp_path / "cell.zip"
    assert CliRunner().invoke(cli.main, ["bundle", "--spec", spec.id, "--out", str(out)]).exit_code == 0
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        shipped = json.loads(archive.read("rnn-grader/submissions_example/rnn-cell/expectations.json"))
    assert "rnn-grader/support/rnn-cell/rnn_utils.py" in names
    assert "rnn-grader/reference/rnn_cell.py" in names
    assert set(shipped) == set(json.loads((spec.examples / "expectations.json").read_text()))
    assert {f"rnn-grader/submissions_example/rnn-cell/{n}" for n in shipped} <= names
    # the rule that picks the file to grade looks for the spec's first function, not a class
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "notes.py").write_text("print('hello')\n")
    (folder / "zz_cells.py").write_text((spec.examples / "correct.py").read_text())
    assert find_submission(folder, spec.marker).name == "zz_cells.py"
