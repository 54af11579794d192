"""The cost of sound judging: a submission whose forward is wrong is judged against a trusted variant.

A correct submission is judged against the reference; one whose forward failed forward_values against
the variant it was recognised as (variants.py), whose gradients and differences the grader computes in
its own process: no extra child. This grades the same number of each, as a batch and one file at a
time, and prints the time per submission of the wrong-forward ones as a ratio against the correct ones
from the same run (target: at most 1.3).

Usage: python bench/bench_judging.py [-n 40] [--jobs 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "submissions_example"
CORRECT = ["correct_vectorised.py", "correct_loops.py", "correct_einsum.py", "correct_deepcopy.py"]
WRONG_FORWARD = ["mutant_wrong_activation.py", "mutant_relu_activation.py", "mutant_no_activation.py",
                 "mutant_forward_no_hidden_bias.py", "mutant_last_step_only.py", "mutant_stateful_forward.py"]


def make_folder(folder: Path, names: list[str], n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        name = names[i % len(names)]
        text = (EXAMPLES / name).read_text() + f"\n# student {i}\n"  # all distinct: nothing deduplicated
        (folder / f"s{i:04d}_{name}").write_text(text)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="submissions of each kind")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3, help="single-file runs per kind (median)")
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, names in (("correct", CORRECT), ("wrong forward", WRONG_FORWARD)):
            folder = Path(tmp) / kind.replace(" ", "_")
            make_folder(folder, names, args.n)
            batch = timed([grade, str(folder), "--out", str(folder) + "_out", "--jobs", str(args.jobs), "--quiet"])
            single = statistics.median(timed([grade, str(EXAMPLES / names[k % len(names)]), "--format", "json"])
                                       for k in range(args.repeat))
            rows.append((kind, batch / args.n, single))
    base_batch, base_single = rows[0][1], rows[0][2]
    print(f"{args.n} submissions of each kind, {args.jobs} jobs")
    print(f"{'kind':<16} {'batch s/sub':>12} {'x correct':>10} {'grade FILE s':>13} {'x correct':>10}")
    for kind, batch, single in rows:
        print(f"{kind:<16} {batch:>12.3f} {batch / base_batch:>10.2f} {single:>13.2f} {single / base_single:>10.2f}")


if __name__ == "__main__":
    main()
