"""Deadline burst against `grade serve`: S students hand in N times within W seconds (an HTTP client on
this machine), and each attempt's upload-to-feedback time is measured (p50, p95, max), with nothing lost
and nothing graded twice; the service's throughput is compared with the batch's (`grade FOLDER`) on the
same files in the same run, the floor it should reach. --kill-midway kills the server with SIGKILL halfway
through the window and starts it again at once (clients retry what was refused meanwhile).

Usage: python bench/bench_serve.py [--students 300] [-n 600] [--window 60] [--jobs 2] [--kill-midway]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from classroom import make_class

STAFF = "bench-staff-token-0123456789abcdef"
QUICK_HOSTILE = ["hostile_exit_get_weights.py", "hostile_segfault_backward.py", "hostile_flood_output.py"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(grade: str, data: Path, port: int, *args: str) -> subprocess.Popen:
    process = subprocess.Popen([grade, "serve", "--data", str(data), "--port", str(port), *args],
                               env=dict(os.environ, GRADER_STAFF_TOKEN=STAFF), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("grade serve did not start")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("-n", type=int, default=600, help="attempts in the burst (distinct files)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds over which the attempts arrive")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--kill-midway", action="store_true", help="kill -9 the server halfway, start it again")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch baseline")
    args = parser.parse_args()
    grade = shutil.which("grade", path=str(Path(sys.executable).parent)) or "grade"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_class(tmp / "class", args.n, hostile_share=len(QUICK_HOSTILE) / args.n, hostile=QUICK_HOSTILE, seed=7)
        files = sorted((tmp / "class").rglob("*.py"))
        batch_rate = None
        if not args.no_batch:
            began = time.perf_counter()
            subprocess.run([grade, str(tmp / "class"), "--out", str(tmp / "out"), "--jobs", str(args.jobs), "--quiet"],
                           stdout=subprocess.DEVNULL, check=True)
            batch_rate = len(files) / (time.perf_counter() - began)
        run(grade, tmp, files, args, batch_rate)


def run(grade: str, tmp: Path, files: list[Path], args, batch_rate: float | None) -> None:
    (tmp / "roster.csv").write_text("id,name\n" + "".join(f"s{i:04d},\n" for i in range(args.students)))
    (tmp / "course.toml").write_text("[service]\nattempts_per_hour = 1000\n")
    port, data = free_port(), tmp / "data"
    base = f"http://127.0.0.1:{port}"
    options = ("--roster", str(tmp / "roster.csv"), "--course", str(tmp / "course.toml"), "--jobs", str(args.jobs))
    server = [start(grade, data, port, *options)]
    tokens = {}
    for line in (data / "links.csv").read_text().splitlines()[1:]:
        sid, link = line.split(",", 1)
        tokens[sid] = link.split("token=", 1)[1]
    sessions = {}
    for sid, token in tokens.items():
        client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        client.post("/signin", data={"token": token})  # a link's button (no session yet: no form token)
        sessions[sid] = (client, re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1))
    rng = random.Random(3)
    plan = sorted((rng.uniform(0, args.window), path, f"s{i % args.students:04d}") for i, path in enumerate(files))
    sent, graded, lock = {}, {}, threading.Lock()  # attempt number -> first try's time; -> time seen graded
    refused = []
    began = time.monotonic()

    def upload(at: float, path: Path, sid: str) -> None:
        time.sleep(max(0.0, began + at - time.monotonic()))
        first = time.monotonic()
        client, csrf = sessions[sid]
        while time.monotonic() - first < 120:
            try:
                response = client.post("/submit", params={"csrf": csrf}, files={"file": (path.name, path.read_bytes())})
                if response.status_code == 303:
                    with lock:
                        sent[int(response.headers["location"].rsplit("/", 1)[1])] = first
                    return
                if response.status_code < 500:
                    refused.append((sid, response.status_code))
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # the server is down (killed): try again, as a browser's user would
        refused.append((sid, "gave up"))

    done = threading.Event()

    def poll() -> None:
        headers = {"Authorization": f"Bearer {STAFF}"}
        while not done.is_set():
            try:
                states = httpx.get(f"{base}/api/states", headers=headers, timeout=10).json()
                now = time.monotonic()
                for number, state in states.items():
                    if state == "graded" and int(number) not in graded:
                        graded[int(number)] = now
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)

    def killer() -> None:
        time.sleep(args.window / 2)
        server[0].send_signal(signal.SIGKILL)
        server[0].wait()
        server[0] = start(grade, data, port, *options)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    kill = threading.Thread(target=killer, daemon=True) if args.kill_midway else None
    if kill:
        kill.start()
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(lambda item: upload(*item), plan))
    if kill:
        kill.join()
    limit = time.monotonic() + max(300.0, 3 * len(files) / (batch_rate or 1.0))
    while set(sent) - set(graded) and time.monotonic() < limit:
        time.sleep(0.2)
    done.set()
    poller.join()
    status = httpx.get(f"{base}/api/status", headers={"Authorization": f"Bearer {STAFF}"}, timeout=30).json()
    server[0].send_signal(signal.SIGINT)
    server[0].wait(timeout=60)
    latencies = [graded[n] - sent[n] for n in sent if n in graded]
    lost = len(set(sent) - set(graded))
    end = max(graded.values()) if graded else began
    rate = len(latencies) / (end - began) if latencies else 0.0
    print(f"{args.students} students, {len(files)} attempts within {args.window:g} s, {args.jobs} grading jobs, "
          f"{os.cpu_count()} cores" + (", server killed with SIGKILL at half time and restarted" if kill else ""))
    print(f"accepted {len(sent)}, refused {len(refused)}, stored but not acknowledged "
          f"{status['submissions'] - len(sent)}, lost {lost}, graded twice {status['graded_twice']}")
    print(f"upload-to-feedback: p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
          f"max {max(latencies, default=float('nan')):.2f} s")
    line = f"service throughput {rate:.2f} attempts/s (from the first upload to the last feedback)"
    if batch_rate:
        line += f"; batch {batch_rate:.2f}/s on the same files; service / batch = {rate / batch_rate:.2f}"
    print(line)


if __name__ == "__main__":
    main()
