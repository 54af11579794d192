"""The batch's local workers: N forked processes, each grading one submission at a time with children
forked from its own zygote; a worker that dies is replaced and its job reported. The batch feeds it a
list (`run`); the service's dispatcher feeds it as submissions arrive (`finished`)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import wait as wait_for
from pathlib import Path

from grader.judge.spec import Spec


def _worker(conn, spec: Spec, seed: int, parent: int, zygote) -> None:
    """Grade what the batch sends, one submission at a time, until told to stop (or orphaned)."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    from grader.sandbox import zygote as zygotes
    from grader.judge.grading import grade_submission

    # children forked from a numpy-loaded zygote: ~5 ms each instead of ~120
    zygotes.adopt_zygote(zygote) if zygote else zygotes.use_zygote()
    while True:
        try:
            job = conn.recv()
        except EOFError:
            job = None
        if job is None:
            zygotes.use_zygote(False)
            return
        key, path, name = job
        try:
            result = grade_submission(Path(path), spec, seed=seed, display_name=name).to_dict()
        except Exception as exc:  # a fault of the grader's, not the student's: say so, keep going
            result = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        conn.send((key, result))


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() != parent:  # the batch died before the line above took effect
        os._exit(0)


class Pool:
    """N forked workers fed one job at a time; a worker that dies is replaced, its job reported."""

    def __init__(self, jobs: int, spec: Spec, seed: int):
        from grader.sandbox import isolation
        from grader.sandbox import zygote as zygotes

        self.context = multiprocessing.get_context("fork")
        self.spec, self.seed = spec, seed
        # each worker's zygote boots (an interpreter, numpy) while the workers load the grader
        plan = isolation.plan()
        self.zygotes = [zygotes.start_zygote(plan) for _ in range(max(1, jobs))]
        self.workers = [self._start(zygote) for zygote in self.zygotes]

    def _start(self, zygote=None) -> dict:
        mine, theirs = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(theirs, self.spec, self.seed, os.getpid(), zygote),
                                       daemon=True)
        process.start()
        theirs.close()
        return {"process": process, "conn": mine, "job": None}

    def run(self, jobs: list[tuple[str, str, str]]):
        """Yield (key, report dict or {"error": text}) for every job, in the order they finish."""
        queue = list(reversed(jobs))
        while queue or any(w["job"] for w in self.workers):
            for worker in self.workers:
                if worker["job"] is None and queue:
                    worker["job"] = queue.pop()
                    worker["conn"].send(worker["job"])
            yield from self.finished()

    def finished(self, timeout: float | None = None) -> list[tuple[str, dict]]:
        """What the busy workers finish within `timeout` (None: until one does), as (key, report dict or
        {"error": text}); a worker that died mid-job is replaced and its job reported."""
        busy = {w["conn"]: w for w in self.workers if w["job"]}
        sentinels = {w["process"].sentinel: w for w in busy.values()}
        found = []
        for ready in wait_for(list(busy) + list(sentinels), timeout):
            worker = busy.get(ready) or sentinels[ready]
            if worker["job"] is None:
                continue
            key = worker["job"][0]
            try:
                if ready is worker["conn"] or worker["conn"].poll():
                    found.append(worker["conn"].recv())
                    worker["job"] = None
                    continue
            except (EOFError, OSError):
                pass
            worker["job"] = None  # the worker died mid-job
            worker["process"].join(timeout=5)
            code = worker["process"].exitcode
            self._replace(worker)
            found.append((key, {"error": f"the grading worker died (exit code {code})"}))
        return found

    def _replace(self, worker: dict) -> None:
        worker["conn"].close()
        worker["process"].join(timeout=1)
        worker.update(self._start())

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker["conn"].send(None)
            except OSError:
                pass
        for worker in self.workers:
            worker["process"].join(timeout=5)
            if worker["process"].is_alive():
                worker["process"].kill()
                worker["process"].join()
        from grader.sandbox import zygote as zygotes

        for zygote in filter(None, self.zygotes):
            zygotes.stop_zygote(zygote)
