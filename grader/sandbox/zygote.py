"""The grader's handle on a zygote (grader/child/zygote.py): start it inside its namespaces, ask it to fork
a child with given descriptors, and to end one (and everything else in its namespace)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from grader.sandbox import cgroup, isolation
from grader.sandbox.reaping import live_children, state

MAX_MESSAGE = 1 << 20
ZYGOTE_MB = 128



class ZygoteError(Exception):
    """The zygote is gone or answered nonsense: the caller starts children by exec instead."""


class Zygote:
    """The grader's handle on one zygote process (started on construction)."""

    def __init__(self, plan, env: dict):
        import subprocess

        # its memory cgroup, which its children are born in (see grader/child/zygote.py); limited per spawn
        self.cgroup = cgroup.create(0) if "memory" in plan.active else None
        self.memory_mb = 0
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(30)
        argv = [sys.executable, "-I", "-m", "grader.child.zygote", str(theirs.fileno()), *filter(None, [self.cgroup])]
        try:
            self.proc = subprocess.Popen(isolation.command(plan, argv), pass_fds=(theirs.fileno(),), env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError:
            self.sock.close()
            if self.cgroup:
                cgroup.remove(self.cgroup)
            raise
        finally:
            theirs.close()
        self.plan = plan
        self.owner = os.getpid()  # only this process removes the cgroup (a batch worker adopts a copy of the handle)

    def spawn(self, config: dict, env: dict, cwd: str, fds: tuple[int, int, int]) -> tuple[int, int]:
        """Fork a child with these descriptors; returns its pid on this machine and in the namespace."""
        if self.cgroup and self.memory_mb != config["memory_mb"]:
            try:  # the child's limit, and room for the zygote itself (numpy loaded: ~40 MB measured)
                cgroup.set_limit(self.cgroup, config["memory_mb"] + ZYGOTE_MB)
            except OSError as exc:
                raise ZygoteError(f"the zygote's memory limit could not be set ({exc})") from None
            self.memory_mb = config["memory_mb"]
        reply = self._ask({"op": "spawn", "config": config, "env": env, "cwd": cwd}, fds)
        if not isinstance(reply.get("pid"), int) or not isinstance(reply.get("ns_pid"), int):
            raise ZygoteError(f"the zygote could not start a child ({reply})")
        return reply["pid"], reply["ns_pid"]

    def end(self, ns_pid: int) -> int | None:
        """Kill what is left in the namespace, reap it all; the child's wait status (None if unknown)."""
        status = self._ask({"op": "end", "ns_pid": ns_pid}).get("status")
        return status if isinstance(status, int) else None

    def _ask(self, message: dict, fds=()) -> dict:
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
            reply = json.loads(self.sock.recv(MAX_MESSAGE) or b"{}")
        except (OSError, ValueError, RecursionError) as exc:
            raise ZygoteError(f"the zygote stopped answering ({exc})") from None
        if not isinstance(reply, dict):  # (only a zygote that student code took over could send it)
            raise ZygoteError("the zygote answered nonsense")
        return reply

    def oom_kills(self) -> int:
        """How many of its processes the kernel has killed at the memory limit, so far."""
        return cgroup.oom_kills(self.cgroup) if self.cgroup else 0

    def close(self) -> None:
        zygote_pid = _child_of(self.proc.pid)  # unshare's child: the zygote, as this machine sees it
        self.sock.close()
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except Exception:
            pass
        if self.cgroup and os.getpid() == self.owner:
            _reap_orphan(zygote_pid)
            cgroup.remove(self.cgroup)  # empty once the zygote is reaped (the kernel killed the rest of its namespace)


def _child_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            found = fh.read().split()
    except OSError:
        return None
    return int(found[0]) if found else None


def _reap_orphan(pid: int | None, seconds: float = 2.0) -> None:
    """When unshare dies, its child (the zygote) is killed and handed to the nearest subreaper, which is
    this process when it is the grader: reap it, or its cgroup stays busy until this process exits."""
    if pid is None:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:  # not ours (another reaper has it), or already reaped
            if not os.path.exists(f"/proc/{pid}"):
                return
        time.sleep(0.002)


# ---------------------------------------------------------------------------- this process's zygote

_zygote = None  # this process's zygote (see grader.zygote), started on first use once enabled
_zygote_enabled = False


def use_zygote(enabled: bool = True) -> None:
    """Fork children from a numpy-loaded zygote instead of exec'ing each one (batch workers do). Only
    with the namespaces layer: the zygote is init of its own pid namespace and ends what each child
    left behind. Without it, or if the zygote fails, children are exec'd as before."""
    global _zygote_enabled
    _zygote_enabled = enabled
    if not enabled:
        _stop_zygote()


def zygote_in_use() -> bool:
    return _zygote_enabled


def start_zygote(plan):
    """A new zygote for children under this plan, or None where there can be none (no namespaces, or it
    failed to start). Batch grading starts them early, while its workers load numpy."""
    if "namespaces" not in plan.active:
        return None
    try:
        zygote = Zygote(plan, isolation.child_environment("/"))
    except OSError:
        return None
    live_children.add(zygote.proc.pid)
    return zygote


def stop_zygote(zygote) -> None:
    """End a zygote (and so its namespace); the sweep no longer spares it."""
    live_children.discard(zygote.proc.pid)
    zygote.close()


def adopt_zygote(zygote) -> None:
    """Use this zygote (started by the process this one was forked from) for the children started here."""
    global _zygote, _zygote_enabled
    _zygote, _zygote_enabled = zygote, True


def _stop_zygote() -> None:
    global _zygote
    if _zygote is not None:
        stop_zygote(_zygote)
        _zygote = None


def forked_child(plan, config: dict, env: dict, scratch: str, fds: tuple[int, int, int]):
    """A child forked by this process's zygote, or None when children must be exec'd."""
    global _zygote
    if not _zygote_enabled or "namespaces" not in plan.active:
        return None

    if _zygote is not None and (_zygote.plan != plan or state(_zygote.proc.pid) in (None, "Z")):
        _stop_zygote()  # (its liveness by /proc: it may be another process's child, started before a fork)
    try:
        if _zygote is None:
            _zygote = start_zygote(plan)
            if _zygote is None:
                return None
        oom_kills = _zygote.oom_kills()
        pid, ns_pid = _zygote.spawn(config, env, scratch, fds)
    except (ZygoteError, OSError):
        _stop_zygote()
        return None
    return ZygoteChild(_zygote, pid, ns_pid, oom_kills)


class ZygoteChild:
    """A forked child, seen through the few parts of `subprocess.Popen` the sandbox uses. It is the
    zygote's child: its exit status comes from the zygote, which reaps it (and everything else in the
    namespace) only when asked to end it."""

    def __init__(self, zygote, pid: int, ns_pid: int, oom_kills_before: int):
        self.zygote, self.pid, self.ns_pid = zygote, pid, ns_pid
        self._oom_kills = oom_kills_before  # a kill at the limit since this child was forked is (likely) its own
        self.returncode: int | None = None
        self._ended = False

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the zygote's at the memory limit while this child lived
        (a fresh child beside it shares the limit: a submission's processes count together)."""
        return self.zygote.oom_kills() > self._oom_kills

    def poll(self) -> int | None:
        if not self._ended and state(self.pid) not in (None, "Z"):
            return None
        return self.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._ended:

            self._ended = True
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                status = self.zygote.end(self.ns_pid)
            except ZygoteError:
                status = None
            self.returncode = os.waitstatus_to_exitcode(status) if status is not None else -signal.SIGKILL
        return self.returncode
