"""Ending what a submission started: the grader is a child subreaper, so orphans of a child's processes
(even ones that called setsid) land here, and are found in /proc and killed after each child."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

live_children: set[int] = set()  # children of this process that the sweep must spare (live sandboxes, zygotes)
_subreaper_set = False


def stat_fields(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields or None


def state(pid: int) -> str | None:
    fields = stat_fields(pid)
    return fields[0].decode() if fields else None


def become_subreaper() -> None:
    """Orphans of a submission's processes (even ones that called setsid) reparent to us, not init."""
    global _subreaper_set
    if _subreaper_set or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        _subreaper_set = True
    except Exception:
        pass


def _parents() -> dict[int, int]:
    table = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        fields = stat_fields(name)
        if fields and len(fields) > 1:
            table[int(name)] = int(fields[1])
    return table


def _descendants(roots: set[int], parents: dict[int, int]) -> set[int]:
    found, frontier = set(), set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(root: int) -> None:
    _kill(_descendants({root}, _parents()) | {root})
    try:
        os.killpg(root, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def our_children() -> set[int]:
    me = os.getpid()
    return {pid for pid, ppid in _parents().items() if ppid == me}


def sweep_orphans(preexisting: set[int], rounds: int = 50) -> None:
    """Kill what a dead sandbox left behind: our children that appeared since it started (we are a
    subreaper, so its orphans land here even after setsid) and all their descendants."""
    for _ in range(rounds):
        parents = _parents()
        me = os.getpid()
        ours = {pid for pid, ppid in parents.items() if ppid == me} - preexisting - live_children
        if not ours:
            return
        _kill(ours | _descendants(ours, parents))
        for pid in ours:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def cpu_seconds(pid: int) -> float:
    """CPU time a process and the children it waited for have used (unshare waits for the child)."""
    fields = stat_fields(pid)
    if not fields or len(fields) < 15:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
