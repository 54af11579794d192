"""Running a submission in a child process: start, limits, one exchange at a time, and a clean end.

The grader's process never runs student code. It starts `grader.child` with a clean environment and
resource limits, sends it steps, and reads back plain data on a pipe of its own; printed output goes to
another pipe, read through a byte cap. Every step has a wall-clock limit. When a step hangs, crashes,
exits or corrupts the channel, the child and everything it started are killed and the outcome says
which step and why; the caller starts a new sandbox for the next check.

The process that starts children holds no hidden data it could leak: children are started with
fork+exec (subprocess), so nothing of the grader's memory survives into them.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from grader.sandbox import isolation
from grader.sandbox.reaping import become_subreaper, cpu_seconds, kill_tree, live_children, our_children, sweep_orphans
from grader.sandbox.scratch import make_folder, remove_tree
from grader.sandbox.zygote import ZygoteChild, forked_child

wire = None  # grader.wire, imported at the first exchange: starting a child must not wait for numpy


@dataclass(frozen=True)
class Limits:
    load_seconds: float = 10.0
    statement_seconds: float = 3.0
    call_seconds: float = 5.0
    memory_mb: int = 1024
    output_kb: int = 64
    cpu_seconds: int = 120
    file_mb: int = 16
    submission_seconds: float = 300.0  # all checks of one submission (the engine's)
    scratch_mb: int = isolation.SCRATCH_MB  # the scratch folder in total (a tmpfs: the `scratch` layer)
    scratch_files: int = isolation.SCRATCH_FILES  # files and folders in it


@dataclass
class Failure:
    """Why an exchange produced no reply: the child hung, died, or broke the protocol."""

    kind: str  # "timeout" | "crash" | "exit" | "protocol" | "internal" (the child's own code failed)
    step: int | None
    detail: str
    line: int | None = None


@dataclass
class Exchange:
    reply: dict | None = None
    failure: Failure | None = None
    seconds: float = 0.0


@dataclass
class Sandbox:
    path: str
    limits: Limits = field(default_factory=Limits)
    display_name: str = "submission.py"
    plan: isolation.Plan | None = None  # the isolation layers; GRADER_ISOLATION's choice when None
    printed_bytes: int = 0
    dropped_bytes: int = 0
    child_dropped: int = 0  # what the child's capped sys.stdout dropped (its own running total)
    printed: bytearray = field(default_factory=bytearray)
    deadline: float | None = None  # time.monotonic() at which the whole submission's budget runs out
    _proc: subprocess.Popen | None = None

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        become_subreaper()
        self._preexisting: set[int] = set()
        self._scratch = make_folder("child")
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._out_r, out_w = os.pipe()
        config = {"request_fd": req_r, "response_fd": resp_w, "display_name": self.display_name,
                  "memory_mb": self.limits.memory_mb, "file_mb": self.limits.file_mb,
                  "cpu_seconds": self.limits.cpu_seconds, "scratch_mb": self.limits.scratch_mb,
                  "scratch_files": self.limits.scratch_files, "output_bytes": self.limits.output_kb * 1024}
        if self.plan is None:
            self.plan = isolation.plan()
        self._submission = isolation.readable_copy(self.plan, os.path.abspath(self.path), self._scratch)
        config.update(isolation.child_config(self.plan, self._submission, self._scratch))
        if "namespaces" not in self.plan.active:  # else its parent is `unshare`, which dies with us
            config["grader_pid"] = os.getpid()
        env = isolation.child_environment(self._scratch)
        self._proc = forked_child(self.plan, config, env, self._scratch, (req_r, resp_w, out_w))
        if self._proc is None:
            config.update(isolation.memory_cgroup(self.plan, self._scratch, self.limits.memory_mb))
            self._preexisting = our_children()  # what the sweep at close must spare
            self._proc = subprocess.Popen(
                isolation.command(self.plan, [sys.executable, "-I", "-m", "grader.child", json.dumps(config)]),
                stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, pass_fds=(req_r, resp_w),
                cwd=self._scratch, env=env, start_new_session=True, close_fds=True,
                **isolation.start_options(self.plan, self._scratch))
        live_children.add(self._proc.pid)
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
        # the pipes stay open while any descendant holds them; a pidfd says when the child itself dies
        self._pidfd = os.pidfd_open(self._proc.pid) if hasattr(os, "pidfd_open") else None
        self._buffer = bytearray()  # (appended to in place: a long frame is not copied once per read)
        self._seq = 0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Kill the child and every process it started, wherever they moved to; remove the scratch."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        live_children.discard(proc.pid)
        if isinstance(proc, ZygoteChild):
            proc.wait()  # the zygote ends everything in its namespace: no need to search /proc
        else:
            kill_tree(proc.pid)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            sweep_orphans(self._preexisting)
        for fd in (self._req_w, self._resp_r, self._out_r, self._pidfd):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        remove_tree(self._scratch)
        isolation.release(self._scratch)

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- exchanges

    def load(self, members: dict, cells: list | None = None, modules: dict | None = None) -> Exchange:
        """Load the file; `cells` ([first, last] line of each notebook cell) makes each parse on its own;
        `modules` (name -> source) are installed first, for the submission to import."""
        request = {"op": "load", "path": self._submission, "members": members, "modules": modules or {},
                   "statement_seconds": self.limits.statement_seconds,
                   "load_seconds": self.limits.load_seconds, "cells": cells}
        try:
            size = os.path.getsize(self._submission)
        except OSError:
            size = 0
        # one line marker per top-level statement at most, and a statement takes at least a byte (markers
        # are fixed 16-byte frames, read as they come: they cost time, never memory)
        return self._exchange(request, [self.limits.load_seconds], lambda _: wire.load_cap(), markers=size + 1)

    def run(self, steps: list[dict]) -> Exchange:
        """Execute steps in order; each may carry its own "limit" in seconds (grader-side only)."""
        limits = [float(s.get("limit", self.limits.call_seconds)) for s in steps]
        sent = [{k: v for k, v in s.items() if k not in ("limit", "label")} for s in steps]
        return self._exchange({"op": "run", "steps": sent}, limits, lambda largest: wire.reply_cap(sent, largest),
                              markers=len(steps))

    def _exchange(self, request: dict, limits: list[float], cap, markers: int) -> Exchange:
        """Send one request and read its reply: JSON frames costing at most `cap(bytes of the largest
        array sent)` (see `wire.cost`) and `markers` progress markers, each step within its limit and
        all of it within `deadline`. Anything
        else the channel carries (a frame too large, malformed, unasked for, a forged counter) is the
        submission's protocol failure: the child is ended and its results discarded."""
        global wire
        started = time.monotonic()
        if not self.alive:
            return Exchange(failure=self._death(None, None), seconds=0.0)
        if self._buffer or select.select([self._resp_r], [], [], 0)[0]:
            # frames nobody asked for: student code wrote into the channel after the last reply
            self.close()
            return Exchange(failure=Failure("protocol", None, "wrote into the grader's channel"), seconds=0.0)
        self._seq += 1
        first = self._seq == 1  # no student code has run in this child before its first request
        request = dict(request, seq=self._seq)
        if wire is None:
            from grader import wire
        largest = [0]
        pending = memoryview(wire.dumps(request, largest))
        reading = _Reading(cap=cap(largest[0]), markers=markers, limits=limits)
        # the first limit starts now; the child may still be importing numpy, so allow a little more
        reading.set_deadline(started + (limits[0] if limits else self.limits.call_seconds) + 1.0, self.deadline)
        while True:
            wait = reading.deadline - time.monotonic()
            if wait <= 0:
                self.close()
                if reading.by_budget:
                    detail = (f"did not finish: grading stopped after {self.limits.submission_seconds:g} s, "
                              "the time limit for a whole submission")
                    return Exchange(failure=Failure("budget", reading.step, detail, reading.line),
                                    seconds=time.monotonic() - started)
                return Exchange(failure=Failure("timeout", reading.step, self._limit_text(limits, reading.step),
                                                reading.line), seconds=time.monotonic() - started)
            writers = [self._req_w] if pending else []
            watched = [self._resp_r, self._out_r] + ([self._pidfd] if self._pidfd is not None else [])
            readable, writable, _ = select.select(watched, writers, [], wait)
            if self._pidfd in readable and not select.select([self._resp_r], [], [], 0)[0]:
                return Exchange(failure=self._death(reading.step, reading.line), seconds=time.monotonic() - started)
            if writable:
                try:
                    pending = pending[os.write(self._req_w, pending[: 65536]):]
                except OSError:
                    pending = memoryview(b"")
            if self._out_r in readable:
                self._drain_output()
            if self._resp_r not in readable:
                continue
            chunk = os.read(self._resp_r, 1 << 20)
            if not chunk:
                return Exchange(failure=self._death(reading.step, reading.line), seconds=time.monotonic() - started)
            self._buffer += chunk
            try:
                for message in self._frames(reading):
                    if "progress" in message and message["seq"] == self._seq and len(message) == 2:
                        reading.progress(message["progress"], self.deadline)
                        continue
                    reply = self._take(message, reading, trusted=first)
                    if "internal_error" in reply:
                        self.close()
                        return Exchange(failure=Failure("internal", reading.step, reply["internal_error"],
                                                        reading.line), seconds=time.monotonic() - started)
                    self._drain_output()
                    self.child_dropped = reply["dropped_output"]
                    return Exchange(reply=reply, seconds=time.monotonic() - started)
            except Exception:  # whatever the channel carried that broke a rule: never the grader's failure
                self.close()
                return Exchange(failure=Failure("protocol", reading.step, "wrote into the grader's channel",
                                                reading.line), seconds=time.monotonic() - started)

    def _take(self, message: dict, reading: "_Reading", trusted: bool) -> dict:
        """The reply to the current request, checked; any other frame breaks the protocol."""
        if message.get("seq") != self._seq:
            raise wire.WireError("a frame that answers no request of the grader's")
        if set(message) != {"seq", "reply"} or not isinstance(message["reply"], dict):
            raise wire.WireError("a frame that is neither progress nor a reply")
        reply = message["reply"]
        if "internal_error" in reply:
            # only a child that has run no student code yet can be believed: later, student code may
            # write this frame itself, to pass its own failure off as the grader's
            if not (trusted and reading.step is None and reading.line is None
                    and isinstance(reply["internal_error"], str)):
                raise wire.WireError("an internal error claimed after student code ran")
            return reply
        dropped = reply.get("dropped_output")
        if type(dropped) is not int or not 0 <= dropped <= MAX_COUNT:
            raise wire.WireError("a bad count of dropped output")
        return reply

    def _frames(self, reading: "_Reading"):
        """The complete frames in the buffer, each checked against what this request may still receive
        before it is buffered whole (a header announcing more is refused) and before it is parsed."""
        buffer = self._buffer
        while len(buffer) >= wire.HEADER.size:
            if buffer[:4] == wire.PROGRESS_MAGIC:
                if len(buffer) < wire.PROGRESS.size:
                    return
                frame = bytes(buffer[:wire.PROGRESS.size])
                del buffer[:wire.PROGRESS.size]
                yield wire.parse_progress(frame)
                continue
            length = wire.parse_header(bytes(buffer[: wire.HEADER.size]))
            if length > reading.cap:  # refused from its header: never buffered, never parsed
                raise wire.WireError(f"a frame of {length} bytes where at most {reading.cap} may come")
            end = wire.HEADER.size + length
            if len(buffer) < end:
                return
            body = bytes(buffer[wire.HEADER.size:end])
            del buffer[:end]
            reading.spend(wire.cost(body))
            message = wire.loads(body)
            if not isinstance(message, dict):
                raise wire.WireError("frame is not an object")
            yield message

    def _drain_output(self) -> None:
        cap = self.limits.output_kb * 1024
        while True:
            ready, _, _ = select.select([self._out_r], [], [], 0)
            if not ready:
                return
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                return
            self.printed_bytes += len(chunk)
            room = cap - len(self.printed)
            if room > 0:
                self.printed += chunk[:room]
            self.dropped_bytes += max(0, len(chunk) - max(room, 0))

    def _death(self, step: int | None, line: int | None) -> Failure:
        proc = self._proc
        code, cpu = None, 0.0
        if proc is not None:
            cpu = cpu_seconds(proc.pid)  # before reaping, while /proc still has the dead child
            try:
                code = proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        out_of_memory = proc.out_of_memory() if isinstance(proc, ZygoteChild) else \
            isolation.killed_for_memory(self._scratch)
        self.close()
        if out_of_memory:
            return Failure("crash", step, f"crashed ({_signal_name(signal.SIGKILL)})", line)
        if cpu >= self.limits.cpu_seconds - 0.5:  # killed by RLIMIT_CPU (unshare reports that as status 1)
            return Failure("timeout", step, f"used up its CPU time ({self.limits.cpu_seconds} s "
                                            "for all calls in one process)", line)
        if code is not None and code < 0:
            name = _signal_name(-code)
            return Failure("crash", step, f"crashed ({name})", line)
        return Failure("exit", step, f"ended the process (exit status {code})", line)

    def _limit_text(self, limits: list[float], step: int | None) -> str:
        seconds = limits[min(step or 0, len(limits) - 1)] if limits else self.limits.call_seconds
        return f"did not finish within {seconds:g} s"


MAX_COUNT = 2**53  # no honest count of bytes comes near it


@dataclass
class _Reading:
    """What one request may still receive, and the clock of the step it is on."""

    cap: int  # what may still come, in wire.cost: the reply's allowance less every JSON frame so far
    markers: int  # progress markers the child's own loop can send for this request
    limits: list[float]  # each step's limit, from its progress marker on
    step: int | None = None
    line: int | None = None
    deadline: float = 0.0
    by_budget: bool = False  # the deadline is the submission's, not the step's

    def spend(self, cost: int) -> None:
        if cost > self.cap:
            raise wire.WireError("more data than the steps sent can return")
        self.cap -= cost

    def set_deadline(self, at: float, budget: float | None) -> None:
        self.by_budget = budget is not None and budget <= at
        self.deadline = budget if self.by_budget else at

    def progress(self, marker: dict, budget: float | None) -> None:
        self.markers -= 1
        if self.markers < 0:
            raise wire.WireError("more progress markers than steps")
        if "step" in marker:
            # steps only move forward, each once: a forged marker cannot buy more time
            if not (self.step is None or marker["step"] > self.step) or marker["step"] >= len(self.limits):
                raise wire.WireError("a progress marker for a step already started")
            self.step = marker["step"]
            at = time.monotonic() + self.limits[self.step]
            self.by_budget = budget is not None and budget <= at
            self.deadline = budget if self.by_budget else at
        if "line" in marker:
            self.line = marker["line"]


def _signal_name(number: int) -> str:
    names = {signal.SIGSEGV: "segmentation fault", signal.SIGKILL: "killed, likely out of memory",
             signal.SIGABRT: "aborted", signal.SIGBUS: "bus error", signal.SIGFPE: "floating-point exception",
             signal.SIGXFSZ: "wrote a file larger than allowed"}
    try:
        default = signal.Signals(number).name
    except ValueError:
        default = f"signal {number}"
    return names.get(number, default)
