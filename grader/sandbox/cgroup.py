"""A memory cgroup per child, or per zygote: the memory limit that counts everything a submission makes
the machine hold.

RLIMIT_AS bounds a process's address space, not the memory it fills through other means: pages
written into memfds with write(), SysV and POSIX shared memory, files on a tmpfs (its scratch folder
where TMPDIR is one). A memory cgroup counts all of those. The grader creates them under its own
memory cgroup (so the machine's limits on the grader still hold), limited to the child's memory limit
(no swap). An exec'd child moves itself into its own before it imports numpy; a zygote does so once,
and the children it forks are born in its cgroup (moving a process costs an RCU grace period, 10-30 ms
here). At the limit the kernel kills the child (reported as "crashed (killed, likely out of memory)").
cgroups v1 (a `memory` hierarchy) and v2 (the unified hierarchy, with `memory` in the grader's
cgroup's subtree_control)."""

from __future__ import annotations

import functools
import itertools
import os
import time
from dataclasses import dataclass

_counter = itertools.count()


@dataclass(frozen=True)
class Hierarchy:
    folder: str  # the grader's own memory cgroup
    version: int  # 1 or 2

    @property
    def limit_files(self) -> tuple[str, ...]:  # memory, then memory + swap (v1) or swap alone (v2)
        return ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes") if self.version == 1 else \
            ("memory.max", "memory.swap.max")


@functools.cache
def hierarchy() -> Hierarchy | None:
    """This process's memory cgroup, where the memory controller is mounted and this process may create
    cgroups under it (probed once: a cgroup is created and removed); None otherwise."""
    try:
        with open("/proc/self/cgroup") as fh:
            memberships = [line.rstrip("\n").split(":", 2) for line in fh]
        with open("/proc/self/mountinfo") as fh:
            mounts = [line.split() for line in fh]
    except OSError:
        return None
    for fields in mounts:
        dash = fields.index("-")
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        version = 1 if fstype == "cgroup" and "memory" in options else 2 if fstype == "cgroup2" else 0
        if not version:
            continue
        root, mount_point = fields[3], fields[4]
        for _, controllers, path in memberships:
            if (version == 1 and "memory" in controllers.split(",")) or (version == 2 and controllers == ""):
                relative = path[len(root):] if root != "/" and path.startswith(root) else path
                found = Hierarchy(os.path.join(mount_point, relative.lstrip("/")), version)
                if _usable(found):
                    _remove_stale(found)
                    return found
    return None


def _remove_stale(found: Hierarchy) -> None:
    """Cgroups a killed grader left behind (their children are dead: the namespaces or the sweep saw to it)."""
    for name in os.listdir(found.folder):
        parts = name.split("-")
        if name.startswith("rnn-grader-") and len(parts) == 4 and parts[2].isdigit() \
                and not os.path.exists(f"/proc/{parts[2]}"):
            remove(os.path.join(found.folder, name), seconds=0)


def _usable(found: Hierarchy) -> bool:
    if found.version == 2:
        try:
            with open(os.path.join(found.folder, "cgroup.subtree_control")) as fh:
                if "memory" not in fh.read().split():
                    return False
        except OSError:
            return False
    try:
        probe = create(0, found)
    except OSError:
        return False
    remove(probe)
    return True


def create(memory_mb: int, where: Hierarchy | None = None, owner: int | None = None) -> str:
    """A new cgroup limited to memory_mb (0: no limit set), for one child or zygote; its folder. `owner` may
    then move itself in (the child when it runs as another user)."""
    where = where or hierarchy()
    folder = os.path.join(where.folder, f"rnn-grader-{os.getpid()}-{next(_counter)}")
    os.mkdir(folder)
    try:
        if memory_mb:
            memory, swap = where.limit_files
            _write(os.path.join(folder, memory), str(memory_mb << 20))
            if os.path.exists(os.path.join(folder, swap)):  # no swap to escape into
                _write(os.path.join(folder, swap), str(memory_mb << 20) if where.version == 1 else "0")
        if owner is not None:
            for name in ("cgroup.procs", "tasks"):
                if os.path.exists(os.path.join(folder, name)):
                    os.chown(os.path.join(folder, name), owner, owner)
    except OSError:
        remove(folder)
        raise
    return folder


def set_limit(folder: str, memory_mb: int, where: Hierarchy | None = None) -> None:
    """Change a cgroup's memory limit (no swap). Under v1 the memory limit may never exceed memory+swap,
    so the two files are written in the order that keeps it so."""
    where = where or hierarchy()
    memory, swap = where.limit_files
    value = str(memory_mb << 20)
    if where.version == 2:
        _write(os.path.join(folder, memory), value)
        if os.path.exists(os.path.join(folder, swap)):
            _write(os.path.join(folder, swap), "0")
        return
    with open(os.path.join(folder, memory)) as fh:
        raising = int(fh.read()) < memory_mb << 20
    order = (swap, memory) if raising else (memory, swap)
    for name in order:
        if os.path.exists(os.path.join(folder, name)):
            _write(os.path.join(folder, name), value)


def oom_kills(folder: str) -> int:
    """How many processes the kernel killed in this cgroup for reaching its limit."""
    for name in ("memory.oom_control", "memory.events"):  # v1, v2
        try:
            with open(os.path.join(folder, name)) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def remove(folder: str, seconds: float = 2.0) -> None:
    """Remove a child's cgroup once the child is gone (an exiting process may linger a moment)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.rmdir(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
