"""How long grading one submission takes, against the floor of starting Python with numpy.

Prints medians over N runs, measured in this run, and their ratio to the baseline:
  baseline   `python -I -c "import numpy"` with one BLAS thread (what any isolated child costs)
  cli        `grade SUBMISSION --format json`, the whole command, start-up included
  api        `grade_submission()` in an already-running process (child start + load + all checks)

Usage: python bench/bench_grade.py [-n 10] [SUBMISSION ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / "submissions_example" / "correct_vectorised.py", ROOT / "submissions_example" / "seed_student.py"]


def median_seconds(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="runs per measurement (median is printed)")
    parser.add_argument("submissions", nargs="*", type=Path, default=DEFAULT)
    args = parser.parse_args()

    from grader.judge.grading import grade_submission
    from grader.judge.spec import load

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    baseline = median_seconds(lambda: subprocess.run([sys.executable, "-I", "-c", "import numpy"],
                                                     env=env, check=True), args.n)
    print(f"{'what':<44} {'median s':>9} {'x baseline':>11}")
    print(f"{'baseline: python -I -c import numpy':<44} {baseline:>9.3f} {1.0:>11.1f}")
    spec = load()
    for path in args.submissions:
        cli = median_seconds(lambda path=path: subprocess.run([grade, str(path), "--format", "json"],
                                                              stdout=subprocess.DEVNULL, check=True), args.n)
        api = median_seconds(lambda path=path: grade_submission(path, spec), args.n)
        print(f"{'cli: grade ' + path.name:<44} {cli:>9.3f} {cli / baseline:>11.1f}")
        print(f"{'api: grade_submission ' + path.name:<44} {api:>9.3f} {api / baseline:>11.1f}")


if __name__ == "__main__":
    main()
