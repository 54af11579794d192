"""The isolation layers as the child applies them to itself, before any student code: its memory cgroup
first, then a fresh IPC namespace, Landlock, no capabilities, seccomp. Which layers it gets is the
grader's choice (grader/sandbox/isolation.py), sent in the child's configuration."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from grader.child import capabilities
from grader.child import landlock
from grader.child import syscalls

_CLONE_NEWIPC = 0x08000000


def limit_memory(config: dict) -> None:
    """Join the child's memory cgroup (made by the grader): first thing in the child, so everything it ever
    holds counts."""
    if "cgroup" in config:
        with open(os.path.join(config["cgroup"], "cgroup.procs"), "w") as fh:
            fh.write("0")


def enter(config: dict) -> None:
    """Apply the child's own layers, after numpy and the grader's modules are imported and before any
    student code: a fresh IPC namespace, Landlock (it needs to open the paths it allows), no
    capabilities, then seccomp (it refuses capset and unshare). Raises OSError when a layer the grader
    counted on cannot be applied: the child must then not run student code."""
    layers = config.get("layers", [])
    sc = syscalls.import_pyseccomp(config.get("seccomp_library")) if "seccomp" in layers else None
    if "namespaces" in layers and os.geteuid() == 0:
        # a zygote's children share its IPC namespace: one after another, they would share SysV objects
        if _libc.unshare(_CLONE_NEWIPC) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWIPC) failed")
    if "landlock" in layers:
        landlock.restrict(config["read"], config["write"])
    if "capabilities" in layers:
        capabilities.drop_all()
    if sc is not None:
        syscalls.build(sc).load()


def preload() -> None:
    """What `enter` imports, loaded ahead by a process that forks children (the zygote)."""
    syscalls.import_pyseccomp(ctypes.util.find_library("seccomp"))


_libc = ctypes.CDLL(None, use_errno=True)
