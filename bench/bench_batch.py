"""Batch throughput: `grade FOLDER --out OUTDIR` against running `grade FILE` once per file, same run.

A generated class of N submissions (about half correct, half with one bug, a few hostile ones that exit,
crash, flood output or exhaust memory) is graded both ways with the same number of parallel jobs; the
script prints seconds, submissions per second and the ratio.

Usage: python bench/bench_batch.py [-n 100] [--jobs 2] [--hostile 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from classroom import make_class

QUICK_HOSTILE = ["hostile_exit_get_weights.py", "hostile_segfault_backward.py", "hostile_flood_output.py",
                 "hostile_memory_hog_update.py"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="submissions in the generated class")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel jobs for both ways")
    parser.add_argument("--hostile", type=int, default=4, help="how many of the n are hostile")
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        make_class(folder, args.n, hostile_share=args.hostile / args.n, hostile=QUICK_HOSTILE, seed=11)
        files = sorted(p for p in folder.rglob("*.py"))

        start = time.perf_counter()
        subprocess.run([grade, str(folder), "--out", str(Path(tmp) / "out"), "--jobs", str(args.jobs), "--quiet"],
                       stdout=subprocess.DEVNULL, check=True)
        batch = time.perf_counter() - start

        def one(path: Path) -> None:
            subprocess.run([grade, str(path), "--format", "json"], stdout=subprocess.DEVNULL, check=True)

        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(one, files))
        per_file = time.perf_counter() - start

    print(f"class of {args.n} ({args.hostile} hostile), {args.jobs} jobs")
    print(f"{'what':<40} {'seconds':>8} {'subs/s':>8} {'x per-file':>11}")
    print(f"{'baseline: grade FILE, once per file':<40} {per_file:>8.2f} {args.n / per_file:>8.1f} {1.0:>11.2f}")
    print(f"{'grade FOLDER --out OUTDIR':<40} {batch:>8.2f} {args.n / batch:>8.1f} {per_file / batch:>11.2f}")


if __name__ == "__main__":
    main()
