"""Cluster throughput: `grade FOLDER --cluster` on a local Dask cluster against `grade FOLDER --jobs N`,
same class, same run.

A generated class (about half correct, half with one bug, a few hostile ones) is graded locally with
`--jobs 2`, then on a scheduler with 2 single-thread workers on 127.0.0.1 (the cluster is started
before the clock, as a standing cluster would be; the coordinator's own start-up, Dask's import and the
workers' grading processes booting, is inside it), then on 1 worker with a smaller class against
`--jobs 1`. Prints seconds, submissions per second, the ratio to the local batch, and the time the
cluster adds per submission; and, since wall time on a shared machine follows its load, the CPU time
per submission of every process involved: what the coordinator and scheduler spend per submission is
serial, and bounds the throughput any number of workers can reach.

Usage: python bench/bench_cluster.py [-n 1000] [--n1 250] [--hostile 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench_batch import QUICK_HOSTILE
from classroom import make_class

BIN = Path(sys.executable).parent


def cpu_of(pid: int) -> float:
    """CPU seconds of a live process and of its children it has reaped (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@contextmanager
def local_cluster(root: Path, workers: int, cpu: dict):
    """`dask scheduler` and `workers` single-thread `dask worker`s on 127.0.0.1; yields the address.
    On leaving, `cpu` gets the scheduler's and the workers' CPU seconds (with their grading processes)."""
    root.mkdir(parents=True)
    address_file = root / "scheduler.json"
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", address_file], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        for _ in range(workers):
            procs.append(subprocess.Popen([BIN / "dask", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                           "--no-nanny", "--no-dashboard", "--local-directory", root],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(3)  # workers register
        yield address
        time.sleep(1)  # the workers' grading processes end once the coordinator unregisters them
        cpu["scheduler"] = cpu_of(procs[0].pid)
        cpu["workers"] = sum(cpu_of(p.pid) for p in procs[1:])
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def timed(folder: Path, out: Path, *options: str) -> tuple[float, float]:
    """Wall seconds of `grade`, and the CPU seconds of it and everything it reaped."""
    start = time.perf_counter()
    proc = subprocess.Popen([BIN / "grade", folder, "--out", out, "--quiet", *options], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"grade exited {proc.returncode}"
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def same_reports(a: Path, b: Path) -> bool:
    def load(folder: Path) -> dict:
        found = {}
        for path in folder.glob("*.json"):
            report = json.loads(path.read_text())
            report.pop("execution_time", None)
            found[path.name] = report
        return found
    return load(a) == load(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="submissions in the class graded with 2 workers")
    parser.add_argument("--n1", type=int, default=250, help="submissions in the class graded with 1 worker")
    parser.add_argument("--hostile", type=int, default=20, help="how many of the n are hostile")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for workers, n in ((2, args.n), (1, args.n1)):
            folder = tmp / f"class{workers}"
            make_class(folder, n, hostile_share=args.hostile / args.n, hostile=QUICK_HOSTILE, seed=11)
            local, local_cpu = timed(folder, tmp / f"local{workers}", "--jobs", str(workers))
            cpu: dict = {}
            with local_cluster(tmp / f"dask{workers}", workers, cpu) as address:
                remote, coordinator_cpu = timed(folder, tmp / f"cluster{workers}", "--cluster", address)
            same = same_reports(tmp / f"local{workers}", tmp / f"cluster{workers}")
            rows.append((workers, n, local, remote, same, local_cpu, coordinator_cpu, cpu))
            shutil.rmtree(folder)
    print(f"{'what':<34} {'n':>5} {'seconds':>8} {'subs/s':>7} {'x local':>8} {'+ms/sub':>8} reports")
    for workers, n, local, remote, same, *_ in rows:
        print(f"{f'local --jobs {workers}':<34} {n:>5} {local:>8.1f} {n / local:>7.2f} {1.0:>8.2f} {'':>8}")
        print(f"{f'--cluster, {workers} worker(s) x 1 thread':<34} {n:>5} {remote:>8.1f} {n / remote:>7.2f} "
              f"{remote / local:>8.2f} {1000 * (remote - local) / n:>8.1f} {'identical' if same else 'DIFFER'}")
    (_, n2, _, r2, *_), (_, n1, _, r1, *_) = rows
    print(f"wall-clock throughput 2 workers / 1 worker: {(n2 / r2) / (n1 / r1):.2f}x (follows the machine's load)")
    print()
    print(f"CPU ms per submission   {'local':>8} {'cluster':>8} {'x local':>8} | {'coordinator':>11} {'scheduler':>9} "
          f"{'workers':>8}")
    for workers, n, _, _, _, local_cpu, coordinator_cpu, cpu in rows:
        total = coordinator_cpu + cpu["scheduler"] + cpu["workers"]
        print(f"{f'{workers} worker(s), n={n}':<23} {1000 * local_cpu / n:>8.0f} {1000 * total / n:>8.0f} "
              f"{total / local_cpu:>8.2f} | {1000 * coordinator_cpu / n:>11.1f} {1000 * cpu['scheduler'] / n:>9.1f} "
              f"{1000 * cpu['workers'] / n:>8.0f}")
    workers, n, _, _, _, local_cpu, coordinator_cpu, cpu = rows[0]
    serial = (coordinator_cpu + cpu["scheduler"]) / n
    per_core = (cpu["workers"] / n)
    print(f"one worker core grades {1 / per_core:.1f} subs/s; the coordinator and scheduler spend {1000 * serial:.1f} ms "
          f"per submission (start-up included), so they saturate a core each near {1 / serial:.0f} subs/s, "
          f"about {per_core / serial:.0f} worker cores")


if __name__ == "__main__":
    main()
