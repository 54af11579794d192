"""Assignment packs: `grade new-pack` makes one that grades its own examples through --pack and
GRADER_PACK; a missing or malformed pack is a usage error; an installed wheel ships no course's
reference and works with a pack of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli
from grader.judge.spec import PACK_VARIABLE, PROJECT

PACK_ID = "hw-3-tanh"


@pytest.fixture(autouse=True)
def no_pack_named():
    """--pack sets GRADER_PACK in this process: start each test without one, and leave none behind
    (monkeypatch.delenv would not restore a variable that was absent when it was called)."""
    before = os.environ.pop(PACK_VARIABLE, None)
    yield
    os.environ.pop(PACK_VARIABLE, None)
    if before is not None:
        os.environ[PACK_VARIABLE] = before


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("course") / "HW 3_tanh"
    result = CliRunner().invoke(cli.main, ["new-pack", str(folder)])
    assert result.exit_code == 0, result.output
    os.environ.pop(PACK_VARIABLE, None)  # a module fixture: monkeypatch cannot undo for it
    return folder


def grade(args: list[str], env: dict | None = None):
    """One run of `grade`, as in a new process: --pack sets GRADER_PACK, and the next run must not see it."""
    os.environ.pop(PACK_VARIABLE, None)
    return CliRunner().invoke(cli.main, args, env=env)


def test_new_pack_writes_a_pack_named_after_its_folder_and_says_what_to_run(tmp_path):
    folder = tmp_path / "HW 3_tanh"
    result = grade(["new-pack", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "specs" / f"{PACK_ID}.json").is_file()
    assert (folder / "reference" / "hw_3_tanh.py").is_file()
    assert (folder / "support" / PACK_ID / "layer_utils.py").is_file()
    assert (folder / "submissions_example" / PACK_ID / "expectations.json").is_file()
    data = json.loads((folder / "specs" / f"{PACK_ID}.json").read_text())
    assert (data["id"], data["reference"], data["support"]) == (PACK_ID, "hw_3_tanh.py", PACK_ID)
    assert not list(folder.rglob("*toy*")), "every name of the scaffold's id is renamed"
    assert f"grade selftest --pack '{folder}'" in result.output
    assert f"--pack '{folder}' --spec {PACK_ID}" in result.output
    every = [p for p in folder.rglob("*") if p.is_file()]
    assert all(str(p) in result.output for p in every)
    assert all("SCAFFOLD" in p.read_text()[:300] for p in every), "each file says it is a scaffold to replace"


def test_new_pack_takes_the_id_given(tmp_path):
    assert grade(["new-pack", str(tmp_path / "p"), "--id", "rnn-2025"]).exit_code == 0
    assert (tmp_path / "p" / "specs" / "rnn-2025.json").is_file()
    assert (tmp_path / "p" / "reference" / "rnn_2025.py").is_file()
    made = grade(["new-pack", str(tmp_path / "hw3")], env={PACK_VARIABLE: str(tmp_path / "hw3")})
    assert made.exit_code == 0, "GRADER_PACK may name the pack about to be made"
    result = grade(["new-pack", str(tmp_path / "q"), "--id", "Not An Id"])
    assert result.exit_code == 2 and "cannot name an assignment" in result.output
    assert not (tmp_path / "q").exists()


def test_new_pack_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("a course's own file")
    result = grade(["new-pack", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not empty (it holds notes.txt)" in result.output and "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "a course's own file"


def test_a_new_pack_passes_selftest_through_the_option(pack):
    result = grade(["selftest", "--pack", str(pack)])
    assert result.exit_code == 0, result.output
    assert "selftest passed: 6 submissions scored as expected" in result.output


def expected(pack: Path) -> dict[str, dict]:
    return json.loads((pack / "submissions_example" / PACK_ID / "expectations.json").read_text())


@pytest.mark.parametrize("how", ["option", "variable", "group option"])
def test_each_example_loses_exactly_its_expectation(pack, how):
    entries = expected(pack)
    assert len(entries) == 5 and sum(bool(e["fails"]) for e in entries.values()) == 4
    for name, entry in entries.items():
        file = str(pack / "submissions_example" / PACK_ID / name)
        args, env = [file, "--spec", PACK_ID, "--format", "json"], None
        if how == "option":
            args += ["--pack", str(pack)]
        elif how == "group option":
            args = ["--pack", str(pack), *args]
        else:
            env = {PACK_VARIABLE: str(pack)}
        result = grade(args, env)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)  # (stderr may name missing isolation layers)
        failed = sorted(t["name"] for t in report["tests"] if t["status"] != "passed")
        assert failed == sorted(entry["fails"]), name
        lost = sum(t["max_score"] for t in report["tests"] if t["name"] in entry["fails"])
        assert report["score"] == report["max_score"] - lost and lost >= len(entry["fails"]), name
        assert sorted(d["id"] for d in report["diagnoses"]) == sorted(entry["diagnoses"]), name


def test_a_folder_of_a_pack_is_graded_by_forked_workers(pack, tmp_path):
    examples = pack / "submissions_example" / PACK_ID
    result = grade([str(examples), "--out", str(tmp_path / "out"), "--pack", str(pack), "--spec", PACK_ID,
                    "--jobs", "2", "--quiet", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["count"], summary["graded"], summary["mean_score"]) == (5, 5, (10 + 8 + 9 + 9 + 7) / 5)
    assert json.loads((tmp_path / "out" / "correct.json").read_text())["score"] == 10


def test_list_specs_lists_the_pack_whatever_the_order(pack):
    for args in (["--pack", str(pack), "--list-specs"], ["--list-specs", "--pack", str(pack)]):
        result = grade(args)
        assert result.exit_code == 0, result.output
        assert result.output.split()[0] == PACK_ID and "rnn-seq2one" not in result.output


def test_a_missing_or_malformed_pack_is_a_usage_error(tmp_path, pack):
    (tmp_path / "half" / "specs").mkdir(parents=True)
    submission = str(pack / "submissions_example" / PACK_ID / "correct.py")
    cases = [(["selftest", "--pack", str(tmp_path / "nowhere")], f"--pack {tmp_path / 'nowhere'}: ", "does not exist"),
             ([submission, "--pack", str(tmp_path / "half")], "--pack", "has no reference/ folder"),
             (["bundle", "--pack", str(tmp_path)], "--pack", "has no specs/ or reference/ folder"),
             (["--pack", str(submission), "--list-specs"], "--pack", "is a file")]
    for args, where, why in cases:
        result = grade(args)
        assert result.exit_code == 2, result.output
        assert where in result.output and why in result.output and "Traceback" not in result.output
    result = grade(["selftest"], env={PACK_VARIABLE: str(tmp_path / "half")})
    assert result.exit_code == 2 and f"{PACK_VARIABLE}={tmp_path / 'half'}: " in result.output


def test_the_bundle_of_a_pack_ships_that_pack_and_no_demo_assignment(pack, tmp_path):
    out = tmp_path / "autograder.zip"
    result = grade(["bundle", "--pack", str(pack), "--spec", PACK_ID, "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        reference = archive.read("rnn-grader/reference/hw_3_tanh.py")
    assert reference == (pack / "reference" / "hw_3_tanh.py").read_bytes()
    for needed in [f"specs/{PACK_ID}.json", f"support/{PACK_ID}/layer_utils.py", "grader/schemas/spec.schema.json",
                   f"submissions_example/{PACK_ID}/expectations.json", f"submissions_example/{PACK_ID}/correct.py"]:
        assert f"rnn-grader/{needed}" in names
    shipped = {n.split("/", 2)[1] + "/" + Path(n).name for n in names if n.count("/") >= 2}
    demo = {f"reference/{p.name}" for p in (PROJECT / "reference").glob("*.py")}
    assert not shipped & demo


# ------------------------------------------------------------------ an installed wheel

def _copy_of_the_project(into: Path) -> Path:
    """The project's sources without its venv and build output (a build writes into its source tree)."""
    skipped = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")
    return Path(shutil.copytree(PROJECT, into, ignore=skipped))


@pytest.mark.slow
def test_a_wheel_installs_without_any_course_reference_and_grades_a_pack_of_its_own(tmp_path):
    source = _copy_of_the_project(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    shutil.rmtree(source)  # nothing may come from the sources now
    bin_grade = str(venv / "bin" / "grade")
    env = {k: v for k, v in os.environ.items() if k != PACK_VARIABLE}
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str):
        return subprocess.run([bin_grade, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)

    record = next((venv / "lib").glob("python3*/site-packages/rnn_grader-*.dist-info/RECORD")).read_text()
    installed = [line.split(",")[0] for line in record.splitlines()]
    assert "grader/cli/__init__.py" in installed and "grader/schemas/spec.schema.json" in installed
    assert "grader/scaffold/specs/toy-layer.json" in installed
    assert not [p for p in installed if p.split("/")[0] in ("reference", "specs", "submissions_example", "support")]
    demo = {p.name for folder in ("specs", "reference") for p in (PROJECT / folder).iterdir()
            if p.suffix in (".py", ".json") and not p.name.endswith(".schema.json")}
    assert not [p for p in installed if Path(p).name in demo]

    version = run("--version")
    assert version.returncode == 0 and "grade, version" in version.stdout

    (work / "sub.py").write_text("class RNN:\n    pass\n")
    lost = run("sub.py")
    assert lost.returncode == 2, lost.stdout + lost.stderr
    assert "no assignment pack" in lost.stderr and "--pack DIR" in lost.stderr and "grade new-pack DIR" in lost.stderr
    assert "Traceback" not in lost.stderr
    doctor = run("doctor")  # with no pack there is no reference for Landlock to hide
    assert doctor.returncode == 0 and "cannot hide the reference" not in doctor.stdout, doctor.stdout
    listed = run("--list-specs")
    assert listed.returncode == 2 and "no assignment pack" in listed.stderr

    made = run("new-pack", "mine", "--id", "toy")
    assert made.returncode == 0, made.stderr
    selftest = run("selftest", "--pack", "mine")
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr
    assert "selftest passed" in selftest.stdout
    graded = run("mine/submissions_example/toy/correct.py", "--pack", "mine", "--spec", "toy", "--format", "json")
    assert graded.returncode == 0 and json.loads(graded.stdout)["score"] == 10

    bundled = run("bundle", "--pack", "mine", "--spec", "toy", "--out", "a.zip")
    assert bundled.returncode == 0, bundled.stderr
    with zipfile.ZipFile(work / "a.zip") as archive:
        pyproject = tomllib.loads(archive.read("rnn-grader/pyproject.toml").decode())
        assert "rnn-grader/reference/toy.py" in archive.namelist()
    assert pyproject["project"]["name"] == "rnn-grader"
    assert any(d.startswith("numpy") for d in pyproject["project"]["dependencies"])
