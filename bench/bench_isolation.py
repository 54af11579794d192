"""What each isolation layer adds to starting a child: median time from `Sandbox.start()` to the first
reply (the child imports numpy, applies its layers, loads a tiny file), per GRADER_ISOLATION choice.

Usage: python bench/bench_isolation.py [-n 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from grader import isolation
from grader.sandbox import Sandbox

CHOICES = ["minimal", "namespaces", "landlock", "seccomp", "full"]


def start_seconds(path: str, choice: str) -> float:
    box = Sandbox(path, plan=isolation.plan(choice))
    started = time.perf_counter()
    box.start()
    try:
        assert box.load({}).failure is None
        return time.perf_counter() - started
    finally:
        box.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="starts per choice (median is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiny.py"
        path.write_text("def f():\n    return 1\n")
        choices = [c for c in CHOICES if c in ("minimal", "full") or isolation.detect()[c].available]
        times = {c: [] for c in choices}
        for _ in range(args.n):  # interleaved, so that load on the machine hits every choice alike
            for choice in choices:
                times[choice].append(start_seconds(str(path), choice))
    base = statistics.median(times["minimal"])
    for choice in choices:
        median = statistics.median(times[choice])
        print(f"{choice:<11} {median * 1000:7.1f} ms  (+{(median - base) * 1000:5.1f} ms)  "
              f"layers: {', '.join(isolation.plan(choice).to_dict()['active'])}")


if __name__ == "__main__":
    main()
