"""Where a submission's grading time goes, as a batch worker grades it: one process, its own zygote.

Grades --n distinct copies of a submission one after another in this process, with every layer on,
and prints per submission: the wall time, this process's own CPU (the grader's side), the time spent
waiting on the child (the child's side: its fork, limits, layers, import and the student's calls),
children started, exchanges, steps, bytes each way, and the wall time of each phase (starting a
child, the load exchange, the checks' exchanges, the rest of the grader's work, closing). Figures are
shares of the wall time measured in the same run, so they hold on a loaded machine too.

The counters wrap the sandbox's own methods in this process (a bench, not the grader): nothing of
the student's is touched.

Usage: python bench/bench_breakdown.py [-n 40] [--file submissions_example/correct_vectorised.py]
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instrument(counters: collections.Counter):
    from grader import wire
    from grader.sandbox import process

    def timed(name, original):
        def wrapper(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                counters[name + " s"] += time.perf_counter() - start
                counters[name] += 1
        return wrapper

    process.Sandbox.start = timed("start", process.Sandbox.start)
    process.Sandbox.close = timed("close", process.Sandbox.close)
    process.Sandbox.load = timed("load", process.Sandbox.load)
    process.Sandbox.run = timed("run", process.Sandbox.run)
    original_dumps, original_loads = wire.dumps, wire.loads

    def dumps(message, *args, **kwargs):
        data = original_dumps(message, *args, **kwargs)
        counters["bytes sent"] += len(data)
        if isinstance(message, dict) and message.get("op") == "run":
            counters["steps"] += len(message.get("steps", ()))
        return data

    def loads(body, *args, **kwargs):
        counters["bytes received"] += len(body)
        return original_loads(body, *args, **kwargs)

    wire.dumps, wire.loads = dumps, loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--file", type=Path, default=ROOT / "submissions_example" / "correct_vectorised.py")
    args = parser.parse_args()
    from grader.judge.grading import grade_submission
    from grader.judge.spec import load
    from grader.sandbox import zygote

    counters: collections.Counter = collections.Counter()
    instrument(counters)
    spec = load()
    zygote.use_zygote()
    text = args.file.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(args.n + 1):
            path = Path(tmp) / f"s{i:04d}{args.file.suffix}"
            path.write_text(text + f"\n# student {i}\n")
            files.append(path)
        grade_submission(files[0], spec)  # the zygote boots; not counted
        counters.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        for path in files[1:]:
            grade_submission(path, spec)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    zygote.use_zygote(False)
    n = args.n
    per = {k: v / n for k, v in counters.items()}
    exchanges = per.get("load s", 0) + per.get("run s", 0)
    print(f"{args.file.name}, {n} submissions in one process with its zygote, every layer on")
    print(f"  wall per submission          {wall / n * 1000:8.1f} ms   100%")

    def line(what, seconds):
        print(f"  {what:<28} {seconds * 1000:8.1f} ms {seconds / (wall / n) * 100:5.0f}%")

    line("grader CPU (this process)", cpu / n)
    line("start a child", per.get("start s", 0))
    line("load exchange", per.get("load s", 0))
    line("checks' exchanges", per.get("run s", 0))
    line("close (end, reap, scratch)", per.get("close s", 0))
    line("the rest (checks, report)", wall / n - per.get("start s", 0) - exchanges - per.get("close s", 0))
    print(f"  children started   {per.get('start', 0):6.1f}   exchanges {per.get('load', 0) + per.get('run', 0):6.1f}"
          f"   steps {per.get('steps', 0):6.1f}")
    print(f"  bytes sent {per.get('bytes sent', 0):10.0f}   bytes received {per.get('bytes received', 0):10.0f}")


if __name__ == "__main__":
    main()
