"""Grading a folder on a Dask cluster (`--cluster`): a real scheduler and two worker processes on
127.0.0.1, a class with hostile submissions, a worker killed midway, every report compared with a
local batch's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from classroom import make_class
from grader.course import batch
from grader.course.shipping import PackError, make_pack, unpack
from grader.course.policy import lacking, parse_layers
from grader.judge.spec import EXAMPLES, SPECS, load

DASK = Path(sys.executable).parent / "dask"
HOSTILE = ["hostile_exit_get_weights.py", "hostile_segfault_backward.py", "hostile_hang_update.py",
           "hostile_memory_hog_update.py", "hostile_flood_output.py", "hostile_fork_children.py"]

# A submission that is right only if it can read the pack a worker unpacked (the reference is there):
# its forward is correct when it finds a pack folder, and off by one otherwise.
PACK_THIEF = (EXAMPLES / "correct_vectorised.py").read_text().replace(
    "    def forward(self, x: np.ndarray) -> np.ndarray:\n",
    "    def forward(self, x: np.ndarray) -> np.ndarray:\n"
    "        return self._forward(x) + (0.0 if _pack_seen() else 1.0)\n\n"
    "    def _forward(self, x: np.ndarray) -> np.ndarray:\n") + '''

def _pack_seen(top="/tmp", depth=3):
    import os
    try:
        for entry in os.scandir(top):
            if entry.name.startswith("rnn-grader-pack-"):
                for root, _, files in os.walk(entry.path):
                    for name in files:
                        open(os.path.join(root, name), "rb").read(1)
                        return True
            if depth and entry.is_dir(follow_symlinks=False) and _pack_seen(entry.path, depth - 1):
                return True
    except OSError:
        pass
    return False
'''


def quick_spec(folder: Path) -> Path:
    """The default spec with short time limits, so that hostile submissions cost seconds, not tens."""
    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    data["limits"].update(load_seconds=4, statement_seconds=1, call_seconds=2)
    path = folder / "quick-spec.json"
    path.write_text(json.dumps(data))
    return path


def descendants(pid: int) -> set[int]:
    parents = {}
    for name in os.listdir("/proc"):
        try:
            parents[int(name)] = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError, IndexError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two single-thread workers, bound to 127.0.0.1 only, each worker's TMPDIR its own
    short folder under /tmp (where it unpacks the pack, and where PACK_THIEF looks)."""
    root = Path(tempfile.mkdtemp(prefix="rg-cluster-"))
    env = {k: v for k, v in os.environ.items() if k != "GRADER_ISOLATION"}
    procs = []
    try:
        address_file = root / "scheduler.json"
        procs.append(subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                       "--scheduler-file", address_file], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(root / "scheduler.log", "w")))
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = []
        for name in ("a", "b"):
            (root / name).mkdir()
            worker = subprocess.Popen([DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard", "--death-timeout", "60",
                                       "--local-directory", root / name],
                                      env={**env, "TMPDIR": str(root / name)}, stdout=subprocess.DEVNULL,
                                      stderr=open(root / f"worker-{name}.log", "w"))
            procs.append(worker)
            workers.append(worker)
        yield {"address": address, "workers": workers, "root": root, "spec": quick_spec(root)}
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def grade_cli(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def reports_in(out: Path) -> dict[str, dict]:
    """Reports without their timings. A flood's printed byte count is one too (how much a child prints
    before its call's time is up follows the machine's load, on one machine as on a cluster): for a
    report past the output cap, the scores and statuses are compared, not the counts in its texts."""
    found = {}
    for path in out.glob("*.json"):
        report = json.loads(path.read_text())
        report.pop("execution_time", None)
        if report.get("printed_bytes", 0) > 1 << 20:
            report["printed_bytes"] = "over the cap"
            report["tests"] = [(t["name"], t["score"], t["status"]) for t in report["tests"]]
            report.pop("output", None)
        found[path.name] = report
    return found


def test_a_class_graded_on_the_cluster_with_a_worker_killed_midway_matches_a_local_batch(tmp_path, cluster):
    folder = tmp_path / "class"
    make_class(folder, 30, hostile_share=len(HOSTILE) / 30, hostile=HOSTILE, duplicates=2, seed=5)
    (folder / "thief.py").write_text(PACK_THIEF)
    spec = load(cluster["spec"])
    batch.grade_folder(folder, tmp_path / "local", spec, jobs=2, quiet=True)

    out = tmp_path / "cluster"
    proc = grade_cli(folder, "--out", out, "--spec", cluster["spec"], "--cluster", cluster["address"])
    victim = cluster["workers"][0]
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.json"))) < 8 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    doomed = descendants(victim.pid)
    assert doomed, "the worker had started no grading process"
    victim.send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "31 submissions" in stdout and "0 not graded because of a grader error" in stdout

    local, remote = reports_in(tmp_path / "local"), reports_in(out)
    assert sorted(remote) == sorted(local)
    for name in local:
        assert remote[name] == local[name], name
    assert (out / "summary.csv").read_text() == (tmp_path / "local" / "summary.csv").read_text()
    # the hostile ones were caught, and the pack was out of reach of a submission on the worker
    assert {t["name"] for t in remote["thief.json"]["tests"] if t["status"] != "passed"} >= {"forward_values"}
    assert remote["thief.json"]["isolation"]["active"] == local["thief.json"]["isolation"]["active"]
    # every submission counted once: a result that came twice (a retried task) is not written again
    counts = [int(line.split()[1].split("/")[0]) for line in stderr.splitlines() if line.startswith("graded ")]
    assert max(counts) == 31 and counts == sorted(counts), stderr
    # the killed worker's grading processes, zygote and children went with it
    deadline = time.monotonic() + 15
    while alive(doomed) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(doomed)

    again = grade_cli(folder, "--out", out, "--spec", cluster["spec"], "--cluster", cluster["address"])
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0 and "31 of 31 reports are up to date" in stderr
    assert reports_in(out) == remote


def test_require_isolation_refuses_workers_that_lack_a_layer(tmp_path, cluster):
    folder = tmp_path / "class"
    make_class(folder, 3, hostile_share=0, seed=1)
    out = tmp_path / "out"
    proc = grade_cli(folder, "--out", out, "--spec", cluster["spec"], "--cluster", cluster["address"],
                     "--isolation", "seccomp", "--require-isolation", "seccomp,landlock")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert "lacks the isolation layer(s) landlock" in stderr and "Traceback" not in stderr
    assert not list(out.glob("*.json"))


def test_an_unreachable_scheduler_is_a_clear_refusal(tmp_path):
    folder = tmp_path / "class"
    make_class(folder, 1, hostile_share=0, seed=1)
    proc = grade_cli(folder, "--out", tmp_path / "out", "--cluster", "tcp://127.0.0.1:9")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in stderr
    assert "Traceback" not in stderr


def test_a_pack_is_refused_when_its_contents_do_not_give_its_fingerprint(tmp_path):
    spec = load("rnn-cell")
    pack = make_pack(spec)
    unpacked = unpack(pack, base=str(tmp_path))
    assert unpacked.fingerprint == spec.fingerprint and unpacked.support_modules() == spec.support_modules()
    assert oct(unpacked.pack.root.stat().st_mode & 0o777) == "0o700"
    pack["support"] = {name: source + "\n# changed\n" for name, source in pack["support"].items()}
    with pytest.raises(PackError, match="fingerprint"):
        unpack(pack, base=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [unpacked.pack.root.name]  # the refused one is removed


def test_required_layers_are_checked_by_name():
    assert parse_layers("namespaces, landlock,limits") == ("namespaces", "landlock")
    with pytest.raises(ValueError, match="unknown isolation layer"):
        parse_layers("namespace")
    assert lacking({"active": ["limits", "seccomp"], "missing": []}, ("seccomp", "landlock")) == ["landlock"]


def test_a_result_from_another_grader_or_without_a_required_layer_is_refused():
    from grader import __version__
    from grader.course.cluster import ClusterPool

    pool = object.__new__(ClusterPool)  # its judgement of answers alone, no scheduler
    pool.spec, pool.require = load("rnn-seq2one"), ("landlock",)
    report = {"grader": {"version": __version__}, "spec": {"sha256": pool.spec.fingerprint},
              "isolation": {"active": ["limits", "landlock"], "missing": []}}
    assert pool.problem({"report": report, "worker": "tcp://w:1"}) is None
    old = {**report, "grader": {"version": "0.0.1"}}
    assert "runs grader 0.0.1" in pool.problem({"report": old, "worker": "tcp://w:1"})
    bare = {**report, "isolation": {"active": ["limits"], "missing": ["landlock"]}}
    assert "tcp://w:1 lacks the isolation layer(s) landlock" in pool.problem({"report": bare, "worker": "tcp://w:1"})
    assert "cannot grade: it refused" in pool.problem({"refused": "it refused the pack", "worker": "tcp://w:1"})
