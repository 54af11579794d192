"""Grading speed against the usual staff setup (a hidden pytest file per submission), in one run.

Prints, with ratios against a baseline measured in the same run:
  single   `grade FILE` wall time vs `pytest test_hidden.py` on the same file (medians of -n runs)
  batch    a class of --class-size correct submissions: `grade FOLDER --jobs J` vs pytest once per
           submission with J at a time, and vs the arithmetic floor (bench_floor.py: the same hidden
           suite in J warm processes, no isolation), with the targets (under 3 s, within 2x the floor)
  sizes    in-process grading time with hidden size 64 and T = 50 vs the spec's own sizes
  hostile  a submission that hangs in update vs the spec's call limit

Usage: python bench/bench_speed.py [-n 5] [--class-size 100] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_floor import floor_seconds, make_class

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "submissions_example"
HIDDEN_TESTS = ROOT / "bench" / "pytest_baseline" / "test_hidden.py"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(fn, n: int) -> float:
    return statistics.median(timed(fn) for _ in range(n))


def pytest_once(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HIDDEN_TESTS)],
                   env=dict(os.environ, SUBMISSION=str(path)), stdout=subprocess.DEVNULL, check=True)


def row(what: str, seconds: float, base: float) -> None:
    print(f"  {what:<52} {seconds:>8.3f} s {seconds / base:>8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs per single-submission measurement")
    parser.add_argument("--class-size", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    correct = EXAMPLES / "correct_vectorised.py"

    print("single submission (correct_vectorised.py), ratio to pytest:")
    base = median(lambda: pytest_once(correct), args.n)
    row("pytest on a hidden test file (no isolation)", base, base)
    row("grade FILE", median(lambda: subprocess.run([grade, str(correct)], stdout=subprocess.DEVNULL,
                                                    check=True), args.n), base)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        files = make_class(folder, args.class_size, correct)
        print(f"batch of {args.class_size} correct submissions, {args.jobs} at a time, ratio to pytest:")
        with ThreadPoolExecutor(args.jobs) as pool:
            base = timed(lambda: list(pool.map(pytest_once, files)))
        row("pytest once per submission", base, base)
        runs = iter(range(1000))  # a fresh OUTDIR each time: nothing is reused from an earlier run
        batch = median(lambda: subprocess.run([grade, str(folder), "--out", str(Path(tmp) / f"out{next(runs)}"),
                                               "--jobs", str(args.jobs), "--quiet"],
                                              stdout=subprocess.DEVNULL, check=True), 3)
        row("grade FOLDER --out OUTDIR (median of 3)", batch, base)
        print(f"  speed-up over pytest: {base / batch:.1f}x")
        floor = statistics.median(floor_seconds(files, args.jobs) for _ in range(3))
        row("floor: the hidden suite in warm processes (median of 3)", floor, base)
        print(f"  batch / floor: {batch / floor:.2f}x (target 2x: {'met' if batch <= 2 * floor else 'NOT met'}); "
              f"under 3 s: {'met' if batch < 3 else 'NOT met'}")

        from grader.judge.grading import grade_submission
        from grader.judge.spec import SPECS, load

        spec = load()
        data = json.loads((SPECS / "rnn-seq2one.json").read_text())
        data["configs"] = [dict(c, hidden_size=64, steps=50) for c in data["configs"]]
        big_path = Path(tmp) / "big.json"
        big_path.write_text(json.dumps(data))
        big = load(big_path)
        print("model size, in-process grade_submission, ratio to the spec's own sizes:")
        base = median(lambda: grade_submission(correct, spec), args.n)
        row("spec sizes (H <= 5, T <= 6)", base, base)
        row("hidden size 64, T = 50 in every configuration", median(lambda: grade_submission(correct, big), 3),
            base)
        # get_numerical_gradient itself costs two forward calls per weight (~4,500 weights here): that
        # is the student's function, not the grader's work, and a spec may run it on smaller models
        for check in data["checks"]:
            if check["kind"] == "numerical_gradient":
                check["configs"] = [len(data["configs"])]
        data["configs"].append(json.loads((SPECS / "rnn-seq2one.json").read_text())["configs"][0])
        big_path.write_text(json.dumps(data))
        mixed = load(big_path)
        row("the same, numerical_gradient on the spec's first size", median(lambda: grade_submission(correct, mixed), 3),
            base)

        print("hostile: hangs in update, ratio to one call limit:")
        limit = spec.limits().call_seconds
        row("call limit (call_seconds in the spec)", limit, limit)
        row("grade hostile_hang_update.py", timed(lambda: grade_submission(EXAMPLES / "hostile_hang_update.py",
                                                                             spec)), limit)


if __name__ == "__main__":
    main()
