"""What each isolation layer adds to starting a child: median time from `Sandbox.start()` to the first
reply (the child imports numpy or is forked, applies its layers, loads a tiny file), per choice of
GRADER_ISOLATION, with ratios against a baseline measured in the same run.

Three tables: exec'd children (`grade FILE`), each layer alone against `minimal`; exec'd children,
`full` against `full` without one layer (what that layer costs a submission); children forked by a
zygote (batch grading), the same. Then the IPC namespace alone (`unshare` with and without `--ipc`).

Usage: python bench/bench_isolation.py [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from grader.sandbox import isolation
from grader.sandbox import zygote as zygotes
from grader.sandbox.process import Sandbox

NEW = ("capabilities", "memory")


def start_seconds(path: str, choice: str) -> float:
    box = Sandbox(path, plan=isolation.plan(choice))
    started = time.perf_counter()
    box.start()
    try:
        assert box.load({}).failure is None
        return time.perf_counter() - started
    finally:
        box.close()


def without(layer: str) -> str:
    return ",".join(name for name in isolation.plan("full").active if name != layer)


def interleaved(path: str, choices: list[str], n: int, zygote: bool) -> dict[str, float]:
    """Median per choice; rounds alternate the choices so that load on the machine hits each alike. With
    a zygote, each round's first start of a choice (which starts its zygote) is not counted."""
    times = {c: [] for c in choices}
    per_round = 5 if zygote else 1
    zygotes.use_zygote(zygote)
    try:
        for _ in range(max(1, n // per_round)):
            for choice in choices:
                if zygote:
                    start_seconds(path, choice)
                times[choice] += [start_seconds(path, choice) for _ in range(per_round)]
    finally:
        zygotes.use_zygote(False)
    return {c: statistics.median(t) for c, t in times.items()}


def show(title: str, medians: dict[str, float], baseline: dict[str, str]) -> None:
    print(title)
    for choice, median in medians.items():
        base = medians[baseline[choice]]
        print(f"  {choice:<44} {median * 1000:7.1f} ms  x{median / base:5.2f}  "
              f"({(median - base) * 1000:+6.1f} ms against {baseline[choice]})")


def costs(title: str, medians: dict[str, float], minus: dict[str, str]) -> None:
    print(title)
    for layer, choice in minus.items():
        base, full = medians[choice], medians["full"]
        print(f"  {layer:<13} full {full * 1000:7.1f} ms, without it {base * 1000:7.1f} ms: x{full / base:5.2f} "
              f"({(full - base) * 1000:+6.1f} ms)")


def ipc_namespace(n: int) -> dict[str, float]:
    plain = ["unshare", "--pid", "--net", "--fork", "--kill-child", "true"]
    with_ipc = [*plain[:3], "--ipc", *plain[3:]]
    times = {"unshare --pid --net": [], "unshare --pid --net --ipc": []}
    for _ in range(n):
        for label, argv in zip(times, (plain, with_ipc)):
            started = time.perf_counter()
            subprocess.run(argv, check=True)
            times[label].append(time.perf_counter() - started)
    return {label: statistics.median(t) for label, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="starts per choice (the median is printed)")
    args = parser.parse_args()
    layers = isolation.detect()
    alone = [name for name in isolation.DEEP_LAYERS if name != "uid" and layers[name].available]
    new = [name for name in NEW if layers[name].available]
    with open("/proc/loadavg") as fh:
        print(f"load average at start: {fh.read().split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "tiny.py")
        Path(path).write_text("def f():\n    return 1\n")
        medians = interleaved(path, ["minimal", *alone, "full"], args.n, zygote=False)
        show("exec'd child, each layer alone:", medians, {c: "minimal" for c in medians})
        minus = {name: without(name) for name in new}
        costs("exec'd child (grade FILE), what each new layer costs:",
              interleaved(path, ["full", *minus.values()], args.n, zygote=False), minus)
        if "namespaces" in isolation.plan("full").active:
            costs("zygote-forked child (batch), what each new layer costs:",
                  interleaved(path, ["full", *minus.values()], args.n, zygote=True), minus)
            medians = ipc_namespace(args.n)
            show("the IPC namespace (unshare running `true`):", medians,
                 {label: "unshare --pid --net" for label in medians})
    with open("/proc/loadavg") as fh:
        print(f"load average at end: {fh.read().split()[0]}")


if __name__ == "__main__":
    main()
