"""Grading a folder on a Dask cluster: `grade FOLDER --out OUTDIR --cluster tcp://HOST:8786`.

`ClusterPool` has the interface of the local batch's `Pool` (`run(jobs)` yields `(key, report dict or
{"error": ...})`, then `close()`), so `batch.grade_folder` discovers, reuses, deduplicates, writes every
report and the summary, and shows progress exactly as it does for a local batch. Only where a
submission is graded changes:

- the coordinator sends each distinct submission's bytes (never a path) as a Dask task;
- on each worker, `GraderPlugin` keeps one grading process (`grader.course.runner`) per worker thread,
  which received the pack (spec, reference, support modules, checked by fingerprint) once and forks
  every submission's child from its own zygote, with the isolation that machine has;
- a worker that dies mid-batch costs nothing: the scheduler runs its tasks on another worker, the task
  is idempotent (bytes in, report out, no side effect), and the coordinator writes each report once,
  the first result for a key winning.

Before grading, a probe task on every worker checks the pack's fingerprint, the grader's version and
the isolation layers; `--require-isolation` refuses a cluster (or a later worker's result) that lacks
a required layer. Dask is imported only here, so only `--cluster` needs it (`pip install '.[cluster]'`).
"""

from __future__ import annotations

import base64
import os
import queue
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from distributed import Client, WorkerPlugin, as_completed, get_worker

from grader import __version__
from grader.course.shipping import make_pack
from grader.course.policy import Refused, lacking
from grader.course.runner import read_frame, write_frame
from grader.judge.spec import Spec

RETRIES = 2  # a task that raised (say, on a worker that joined before the plugin reached it) runs again


# ---------------------------------------------------------------------------- on each worker

class RunnerGone(Exception):
    """The grading process refused the pack, or died."""


class Runner:
    """A worker's handle on one grading process, started by exec with the pack sent at once, so it
    unpacks and boots its zygote while the worker waits for tasks."""

    def __init__(self, pack: dict, choice: str | None):
        self.proc = subprocess.Popen([sys.executable, "-m", "grader.course.runner"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, close_fds=True)
        self.info: dict | None = None
        try:
            write_frame(self.proc.stdin, {"pack": pack, "isolation": choice})
        except OSError:
            pass  # found dead by ready()

    def ready(self) -> dict:
        if self.info is None:
            reply = self._reply()
            if "refused" in reply:
                raise RunnerGone(f"it refused the pack: {reply['refused']}")
            self.info = reply["ready"]
        return self.info

    def grade(self, job: dict) -> dict:
        self.ready()
        try:
            write_frame(self.proc.stdin, {"grade": job})
        except OSError:
            pass
        return self._reply()

    def _reply(self) -> dict:
        try:
            reply = read_frame(self.proc.stdout)
        except (OSError, ValueError):
            reply = None
        if reply is None:
            self.close()
            raise RunnerGone(f"the grading process died (exit code {self.proc.returncode})")
        return reply

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class GraderPlugin(WorkerPlugin):
    """Installed on every worker (and every worker that joins later) for one batch: its runners."""

    def __init__(self, name: str, pack: dict, choice: str | None):
        self.name, self.pack, self.choice = name, pack, choice

    def setup(self, worker) -> None:
        self.address = worker.address
        self.lock = threading.Lock()
        self.idle: queue.Queue[Runner] = queue.Queue()
        self.runners = [Runner(self.pack, self.choice) for _ in range(max(1, worker.state.nthreads))]
        for runner in self.runners:
            self.idle.put(runner)

    def teardown(self, worker) -> None:
        for runner in self.runners:
            runner.close()

    def grade(self, job: dict) -> dict:
        runner = self.idle.get()
        try:
            data = {**job, "data": base64.b64encode(job["data"]).decode("ascii")}
            return runner.grade(data)
        except RunnerGone as exc:
            if runner.info is None:  # never ready: this worker cannot grade this pack at all
                return {"refused": str(exc)}
            return {"error": f"on worker {self.address}, {exc}"}
        finally:
            self._give_back(runner)

    def probe(self) -> dict:
        runner = self.idle.get()
        try:
            return {"ready": runner.ready()}
        except RunnerGone as exc:
            return {"refused": str(exc)}
        finally:
            self._give_back(runner)

    def _give_back(self, runner: Runner) -> None:
        if runner.proc.poll() is not None:  # the next job gets a fresh grading process
            with self.lock:
                self.runners.remove(runner)
                runner = Runner(self.pack, self.choice)
                self.runners.append(runner)
        self.idle.put(runner)


def _plugin(name: str) -> GraderPlugin:
    plugin = get_worker().plugins.get(name)
    if plugin is None:  # raised, so Dask runs the task again (here once the plugin arrives, or elsewhere)
        raise RuntimeError(f"the grader's plugin {name} is not on this worker yet")
    return plugin


def grade_task(name: str, job: dict) -> dict:
    """One submission, graded by this worker's grading process: {"report"|"error"|"refused", "worker"}."""
    plugin = _plugin(name)
    return {**plugin.grade(job), "worker": plugin.address}


def probe_task(name: str) -> dict:
    plugin = _plugin(name)
    return {**plugin.probe(), "worker": plugin.address}


# ---------------------------------------------------------------------------- the coordinator

class ClusterPool:
    """The local `Pool`'s interface over a Dask scheduler; `workers` is ignored (the cluster's size rules)."""

    def __init__(self, address: str, spec: Spec, seed: int, require: tuple[str, ...] = (),
                 connect_seconds: float = 15, wait_seconds: float = 60):
        self.spec, self.seed, self.require = spec, seed, require
        self.name = f"rnn-grader-{uuid.uuid4().hex[:12]}"
        try:
            self.client = Client(address, timeout=connect_seconds, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise Refused(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                               "`dask scheduler` and workers with `dask worker ADDRESS`") from None
        try:
            try:
                self.client.wait_for_workers(1, timeout=wait_seconds)
            except TimeoutError:
                raise Refused(f"the Dask scheduler at {address} has no worker after {wait_seconds:g} s; "
                                   f"start some with `dask worker {address}`") from None
            plugin = GraderPlugin(self.name, make_pack(spec), os.environ.get("GRADER_ISOLATION"))
            self.client.register_plugin(plugin, name=self.name)
            self.workers = self._probe()
        except BaseException:
            self.close()
            raise

    def _probe(self) -> dict[str, dict]:
        """Every worker's grading process, ready: its fingerprint, grader version and isolation checked."""
        addresses = list(self.client.scheduler_info(n_workers=-1)["workers"])
        futures = [self.client.submit(probe_task, self.name, workers=[a], allow_other_workers=False, pure=False,
                                      key=f"{self.name}-probe-{i}") for i, a in enumerate(addresses)]
        found, problems = {}, []
        for future in futures:
            try:
                answer = future.result(timeout=300)
            except Exception as exc:  # a worker that died while probed: its tasks go elsewhere
                problems.append(f"a worker could not be probed ({type(exc).__name__}: {exc})")
                continue
            problem = self.problem(answer)
            if problem:
                problems.append(problem)
            found[answer["worker"]] = answer.get("ready", {})
        if problems:
            raise Refused("\n".join(problems))
        return found

    def problem(self, answer: dict) -> str | None:
        """Why a worker's answer (a probe's or a grade's) cannot be accepted, or None."""
        worker = answer.get("worker", "a worker")
        if "refused" in answer:
            return f"worker {worker} cannot grade: {answer['refused']}"
        info = answer.get("ready") or {}
        report = answer.get("report")
        if report:  # a worker that joined after the probe answers for itself in its report
            info = {"version": report["grader"]["version"], "fingerprint": report["spec"].get("sha256")}
        if info and info.get("version") != __version__:
            return (f"worker {worker} runs grader {info.get('version')}, this coordinator {__version__}; "
                    "install the same grader on every worker")
        if info and info.get("fingerprint") != self.spec.fingerprint:
            return f"worker {worker} unpacked a spec with another fingerprint"
        layers = info.get("isolation") or (answer.get("report") or {}).get("isolation")
        missing = lacking(layers, self.require)
        if self.require and missing:
            return (f"worker {worker} lacks the isolation layer(s) {', '.join(missing)} that --require-isolation "
                    "asks for; `grade doctor` on that machine says how to add them (docs/cluster.md)")
        return None

    def run(self, jobs: list[tuple[str, str, str]]):
        """Yield (key, report dict or {"error": text}) for every job, in the order they finish; a bounded
        window of tasks is in flight, so a class of any size costs the scheduler the same."""
        threads = sum(w.get("nthreads", 1) for w in self.client.scheduler_info(n_workers=-1)["workers"].values())
        window = max(32, 4 * threads)
        pending, keys = iter(jobs), {}
        finished = as_completed(loop=self.client.loop)
        self.futures = keys

        def submit_next() -> None:
            job = next(pending, None)
            if job is None:
                return
            key, path, name = job
            data = Path(path).read_bytes()
            future = self.client.submit(grade_task, self.name,
                                        {"data": data, "suffix": Path(path).suffix, "name": name, "seed": self.seed},
                                        key=f"{self.name}-{key}", retries=RETRIES, pure=False)
            keys[future.key] = (key, future)
            finished.add(future)

        for _ in range(window):
            submit_next()
        for future in finished:
            key, _ = keys.pop(future.key, (None, None))
            if key is None:  # a result already taken: the first one wins
                continue
            try:
                answer = future.result()
            except Exception as exc:  # KilledWorker, cancelled, a task that raised past its retries
                answer = {"error": f"the cluster could not grade it ({type(exc).__name__}: {exc})"[:300]}
            future.release()
            problem = self.problem(answer)
            if problem:
                raise Refused(problem)
            submit_next()
            yield key, answer["report"] if "report" in answer else {"error": answer["error"]}

    def close(self) -> None:
        for _, future in getattr(self, "futures", {}).values():
            future.cancel()
        try:
            self.client.unregister_worker_plugin(self.name)  # the workers' grading processes end
        except Exception:
            pass  # not registered, or the cluster is gone: the runners end with their workers
        self.client.close()
