"""A numpy-loaded process that forks a fresh child per submission: isolation at ~5 ms, not ~120 ms.

Starting `python -m grader.child` costs an interpreter and a numpy import for every submission. A
batch worker instead starts one zygote (by exec, with the same clean environment a child gets, so it
holds nothing of the grader's memory: no spec, no reference, no hidden input) inside new pid,
network and IPC namespaces, as their init. For each submission the zygote forks; the fork becomes the child
of `grader.child` exactly as if it had been exec'd (same limits, same Landlock and seccomp), running
the submission in the namespace. Each fork is init of a pid namespace of its own, below the zygote's: it sees
and can act on no process but its submission's (not the zygote, whose limits every later child would
inherit, nor a neighbour). When the grader is done with a submission's last child, the zygote
kills every other process in the namespace (`kill(-1)` from init spares only init) and reaps them:
nothing a submission started survives into the next one. Each fork also takes an IPC namespace of its
own (in `layers.enter`), so no SysV object of one submission is there for the next. With the `scratch`
layer, the zygote (alone in its mount namespace) mounts a tmpfs of bounded size and file count on the
child's scratch folder before the fork and detaches it when the child is ended (~0.1 ms; a mount
namespace per child would cost ~5 ms).

The zygote joins its memory cgroup (made by the grader, named in argv) before it imports anything, and
its children are born in it: the memory limit holds for a submission's processes together. A child
never moves between cgroups, because moving a process waits for an RCU grace period (~10-30 ms
measured here, most of a correct submission's grading time). Each child makes itself the first the
kernel kills at the limit (oom_score_adj 1000), never the zygote.

Protocol (a SOCK_SEQPACKET socket pair, one JSON message per packet):
  grader -> zygote  {"op": "spawn", "config": {...}, "env": {...}, "cwd": path} + fds: request, response, output
  zygote -> grader  {"pid": host pid, "ns_pid": pid in the namespace}
  grader -> zygote  {"op": "end", "ns_pid": n}   (after the grader has killed it, or found it dead)
  zygote -> grader  {"status": wait status of that child or null}
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys

MAX_MESSAGE = 1 << 20

def serve(control: socket.socket) -> None:
    """The zygote's loop: spawn and end children until the grader closes the socket."""
    if os.getpid() != 1:  # kill(-1) below must only ever reach our own namespace
        raise SystemExit("the zygote must run as init of its own pid namespace")
    libc = ctypes.CDLL(None)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: gone with unshare, which is gone with the grader
    import numpy  # noqa: F401  (what every child needs, loaded once)
    import numpy.random  # noqa: F401
    from grader import wire  # noqa: F401
    from grader.child import layers, serve  # noqa: F401
    layers.preload()

    mounts: dict[int, str] = {}  # child -> its scratch tmpfs, unmounted when it is ended
    live: set[int] = set()  # children spawned and not yet ended (a fresh child may run beside the main one)
    statuses: dict[int, int] = {}  # wait statuses of children reaped before they were ended
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 3)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        if request["op"] == "spawn":
            reply = _spawn(control, request, fds, mounts)
            live.add(reply["ns_pid"])
            control.send(json.dumps(reply).encode())
        elif request["op"] == "end":
            live.discard(request["ns_pid"])
            status = _end(request["ns_pid"], live, statuses)
            if request["ns_pid"] in mounts:  # dead and reaped: nothing holds its tmpfs any more
                layers.unmount_scratch(mounts.pop(request["ns_pid"]))
            control.send(json.dumps({"status": status}).encode())


def _end(ns_pid: int, live: set[int], statuses: dict[int, int]) -> int | None:
    """Kill a child and reap it; its wait status. When it was the last child: every process left in the
    namespace too (kill(-1) from init spares only init), so nothing a submission started survives
    into the next. While another child lives (the main child beside a fresh one), only the ended
    child and its process group: under seccomp student code cannot start a process at all, and
    without it a process that left the group lives until the last child ends."""
    for kill in (lambda: os.killpg(ns_pid, signal.SIGKILL), lambda: os.kill(ns_pid, signal.SIGKILL)):
        try:
            kill()
        except OSError:  # already gone (and perhaps reaped): nothing left to signal
            pass
    if not live:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:  # ESRCH: nothing else is left in the namespace
            pass
        _reap(statuses, block=True)
        status = statuses.pop(ns_pid, None)
        statuses.clear()
        return status
    if ns_pid not in statuses:
        try:
            statuses[ns_pid] = os.waitpid(ns_pid, 0)[1]
        except ChildProcessError:
            pass
    _reap(statuses, block=False)  # what the ended child left, reparented to us, and already dead
    return statuses.pop(ns_pid, None)


def _spawn(control: socket.socket, request: dict, fds: list[int], mounts: dict[int, str]) -> dict:
    """Fork a child: in a pid namespace of its own (it sees and reaches no process but its own: not the
    zygote, not a neighbour), on its scratch tmpfs when that layer is on."""
    from grader.child import layers

    config = request["config"]
    scratch = request["cwd"] if "scratch" in config.get("layers", []) else None
    if scratch is not None:
        try:  # in the zygote's own mount namespace (unshare --mount): the grader's /tmp sees none of it
            layers.mount_scratch(scratch, config["scratch_mb"], config["scratch_files"])
            config["scratch_mounted"] = True
        except OSError as exc:  # the child then refuses to run student code
            config["refusal"] = f"isolation could not be applied ({exc})"
            scratch = None
    own_namespace = _new_pid_namespace()
    if own_namespace is False:
        config["refusal"] = "isolation could not be applied (no pid namespace of its own)"
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            os.close(report_r)
            os.write(report_w, os.readlink("/proc/self").encode())  # /proc is the host's: its pid there
            os.close(report_w)
            _become_child(request, fds)
        finally:
            os._exit(70)
    if own_namespace:
        _libc.setns(_own_pid_namespace, _CLONE_NEWPID)  # later forks of ours are not in the child's namespace
    if scratch is not None:
        mounts[pid] = scratch
    for fd in (*fds, report_w):
        os.close(fd)
    host_pid = os.read(report_r, 64).decode()
    os.close(report_r)
    return {"pid": int(host_pid) if host_pid.isdigit() else None, "ns_pid": pid}


def _new_pid_namespace() -> bool | None:
    """Make our next fork init of a new pid namespace (undone by setns after the fork: a process may
    unshare its children's pid namespace only while it is its own); False when that failed. None where
    no process may (the zygote runs as nobody): seccomp then refuses every call that acts on another pid."""
    global _own_pid_namespace
    if os.geteuid() != 0:
        return None
    if _own_pid_namespace < 0:
        _own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    return _libc.unshare(_CLONE_NEWPID) == 0


_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWPID = 0x20000000
_own_pid_namespace = -1


def _become_child(request: dict, fds: list[int]) -> None:
    """In the fork: take the child's descriptors and environment, then run as `grader.child` does."""
    from grader.child import serve as child

    request_fd, response_fd, output_fd = fds
    os.setsid()
    try:  # raising it needs no privilege; the zygote keeps its own 0
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    config = dict(request["config"], request_fd=request_fd, response_fd=response_fd)
    child.serve(config)


def _reap(statuses: dict[int, int], block: bool) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        statuses[pid] = status


def main() -> None:
    if len(sys.argv) > 2:  # the memory cgroup, joined before numpy is imported: all we hold counts
        with open(os.path.join(sys.argv[2], "cgroup.procs"), "w") as fh:
            fh.write("0")
    control = socket.socket(fileno=int(sys.argv[1]))
    serve(control)


if __name__ == "__main__":
    main()
