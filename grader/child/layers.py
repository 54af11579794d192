"""The isolation layers as the child applies them to itself, before any student code: its memory cgroup
first, then a fresh IPC namespace, its scratch folder as a tmpfs of bounded size and file count,
Landlock, no capabilities, seccomp. Which layers it gets is the
grader's choice (grader/sandbox/isolation.py), sent in the child's configuration."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from grader.child import capabilities
from grader.child import landlock
from grader.child import syscalls

_CLONE_NEWIPC = 0x08000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MNT_DETACH = 2


def mount_scratch(path: str, megabytes: int, files: int) -> None:
    """A tmpfs over the scratch folder, at most `megabytes` and `files` files and folders: what one
    submission can put on the machine in total (RLIMIT_FSIZE bounds only each file). Its pages are
    charged to the memory cgroup of the process that writes them, the child's."""
    options = f"size={megabytes}m,nr_inodes={files + 1},mode=0700".encode()  # (+1: the folder itself)
    if _libc.mount(b"grader-scratch", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mounting the scratch tmpfs failed: {os.strerror(errno)}")


def unmount_scratch(path: str) -> None:
    """Detach a scratch tmpfs (a zygote's, once the child that used it is dead); its memory is freed."""
    _libc.umount2(path.encode(), _MNT_DETACH)


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
    if "scratch" in layers and not config.get("scratch_mounted"):  # (a zygote mounts it before the fork)
        # an exec'd child is alone in its mount namespace (unshare --mount): the tmpfs dies with it
        mount_scratch(config["scratch"], config["scratch_mb"], config["scratch_files"])
        os.chdir(config["scratch"])  # (the cwd was the folder beneath the mount)
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
