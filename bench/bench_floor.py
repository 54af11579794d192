"""The arithmetic floor of grading a class, measured in the same run as the batch, and the ratio.

The floor is the same numerical work with no isolation and no protocol: J warm processes (numpy
already imported, forked once) that each import a submission's file into themselves and run the spec's
hidden suite on it as plain calls: init_shapes and forward_shape on every configuration,
init_values on its large model, forward_values (3 calls) on every configuration, the five gradients,
update at both learning rates and weights_io on every configuration, and get_numerical_gradient on
the numerical check's configurations, each compared with the reference. It is what a staff script
that trusts its students would cost; the batch does all of that and more (a sandboxed child per
submission, its own pid and network namespace, Landlock, seccomp, a memory cgroup, strict frames,
every report and page written), so the ratio says what the isolation and the bookkeeping cost.

Usage: python bench/bench_floor.py [--class-size 100] [--jobs 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grader.judge.compare import rel_error

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "rnn-seq2one.json"
CORRECT = ROOT / "submissions_example" / "correct_vectorised.py"
REFERENCE = ROOT / "reference" / "rnn_seq2one.py"  # also the solution as students hand it in
NAMES = ("W", "R", "V", "bs", "by")


def _reference():
    spec = importlib.util.spec_from_file_location("floor_reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _close(got, want, tolerance: float) -> bool:
    """The grader's own measure (judge/compare.py), so the floor pays for the same comparison."""
    return np.shape(got) == np.shape(want) and rel_error(got, want) <= tolerance


def hidden_suite(path: str, spec: dict, ref) -> int:
    """Import one file and run the spec's checks on it as plain calls; return how many passed."""
    found = importlib.util.spec_from_file_location(f"submission_{abs(hash(path))}", path)
    sub = importlib.util.module_from_spec(found)
    found.loader.exec_module(sub)
    configs = spec["configs"]
    checks = {c["kind"]: c for c in spec["checks"]}
    rng = np.random.default_rng(0)
    passed = 0

    def model_at(config):
        sizes = {k: config[k] for k in ("input_size", "hidden_size", "output_size")}
        model = sub.RNN(**sizes)
        weights = {n: rng.uniform(-0.6, 0.6, np.shape(getattr(model, n))) for n in NAMES}
        for n, v in weights.items():
            setattr(model, n, v.copy())
        x = rng.normal(size=(config["steps"], config["input_size"]))
        return sizes, model, weights, x

    for config in configs:
        sizes, model, weights, x = model_at(config)
        fresh = sub.RNN(**sizes)
        passed += all(np.shape(getattr(fresh, n)) == np.shape(weights[n]) for n in NAMES)  # init_shapes
        y = model.forward(x)
        passed += np.shape(y) == (sizes["output_size"],)  # forward_shape
        want_y = ref.forward(weights, x)[0]
        passed += all(_close(model.forward(x), want_y, 1e-5) for _ in range(checks["forward_values"]["calls"]))
        d_loss = rng.normal(size=sizes["output_size"])
        model.forward(x)
        grads = model.backward(d_loss)
        want = ref.backward(weights, x, d_loss)
        passed += sum(_close(grads["d_" + n], want["d_" + n], 1e-4) for n in NAMES)  # the five gradients
        for lr in checks["update"]["learning_rates"]:  # update
            _, model, weights, x = model_at(config)
            model.forward(x)
            grads = model.backward(d_loss)
            model.update(lr)
            passed += all(_close(getattr(model, n), weights[n] - lr * grads["d_" + n], 1e-4) for n in NAMES)
        other = sub.RNN(**sizes)  # weights_io
        other.set_weights(model.get_weights())
        passed += all(_close(getattr(other, n), getattr(model, n), 1e-12) for n in NAMES)
    big = sub.RNN(**checks["init_values"]["config"])  # init_values
    passed += bool(np.abs(big.W).max() <= 0.2 and not np.any(big.bs))
    numerical = checks["numerical_gradient"]
    for index in numerical["configs"]:
        _, model, weights, x = model_at(configs[index])
        got = sub.get_numerical_gradient(model, x, numerical["eps"])
        want = ref.backward(weights, x, np.ones(configs[index]["output_size"]))
        passed += all(_close(got["d_" + n], want["d_" + n], 1e-3) for n in NAMES)
    return passed


def _worker(paths: list[str]) -> int:
    spec = json.loads(SPEC.read_text())
    ref = _reference()
    return sum(hidden_suite(p, spec, ref) for p in paths)


def floor_seconds(files: list[Path], jobs: int) -> float:
    """Wall time of the hidden suite over every file in `jobs` warm forked processes (numpy loaded).
    The files must all be correct: a floor that skipped work by failing early would flatter the ratio."""
    shares = [[str(f) for f in files[k::jobs]] for k in range(jobs)]
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs) as pool:
        pool.map(abs, range(jobs))  # the processes exist and are warm before the clock starts
        start = time.perf_counter()
        passed = sum(pool.map(_worker, shares))
        seconds = time.perf_counter() - start
    every = _worker([str(REFERENCE)])
    if passed != every * len(files):
        raise SystemExit(f"the floor's suite passed {passed} checks of {every * len(files)}: not all files are correct")
    return seconds


def make_class(folder: Path, n: int, source: Path = CORRECT) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    text = source.read_text()
    for i in range(n):  # all distinct, so the batch deduplicates nothing
        (folder / f"student{i:04d}.py").write_text(text + f"\n# student {i}\n")
    return sorted(folder.iterdir())


def batch_seconds(folder: Path, out: Path, jobs: int) -> float:
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    start = time.perf_counter()
    subprocess.run([grade, str(folder), "--out", str(out), "--jobs", str(jobs), "--quiet"],
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_class(Path(tmp) / "class", args.class_size)
        floor = statistics.median(floor_seconds(files, args.jobs) for _ in range(args.repeat))
        runs = [batch_seconds(Path(tmp) / "class", Path(tmp) / f"out{k}", args.jobs) for k in range(args.repeat)]
    batch = statistics.median(runs)
    print(f"{args.class_size} distinct correct submissions, {args.jobs} jobs, median of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"  {'floor: hidden suite in warm processes, no isolation':<58} {floor:>7.3f} s {1.0:>6.2f}x")
    print(f"  {'grade FOLDER --out OUTDIR, every layer on':<58} {batch:>7.3f} s {batch / floor:>6.2f}x")
    print(f"  targets: within 2x the floor ({'met' if batch <= 2 * floor else 'NOT met'}), "
          f"under 3 s ({'met' if batch < 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
