"""The layers that isolate a submission's child process: which ones this machine offers, and using them.

`limits` (rlimits and a new session, set by `grader.child` and `grader.sandbox`) always holds. The
deeper layers are detected once per grader process and used when present:

- `namespaces`: the child starts in a new pid, network and IPC namespace (`unshare`, from util-linux),
  so every process it starts dies with it, it has no network at all, and SysV IPC objects it leaves
  die with it (a child forked by a zygote takes an IPC namespace of its own);
- `landlock`: the child can read only Python, its site-packages and its submission file, write only its
  scratch folder, exec nothing, connect nowhere, and signal nothing outside (kernel Landlock);
- `seccomp`: the child cannot create sockets, exec programs, start processes (threads are fine), send
  signals to other processes, change files' modes, owners, times or attributes, watch files, raise its
  priority, or use shared memory and IPC (PyPI `pyseccomp` over libseccomp; the list: `grader.syscalls`);
- `capabilities`: a root child drops every capability for good (`grader.capabilities`);
- `memory`: the child's memory limit is also a memory cgroup's, which counts what RLIMIT_AS does not
  (memfds, shared memory, files on tmpfs; `grader.cgroup`);
- `uid`: the child runs as user nobody, when that user can reach the interpreter and the grader;
- `scratch`: the child's scratch folder is a tmpfs of its own, bounded in size and in files
  (`scratch_mb`, `scratch_files` in the spec's limits), in a mount namespace of its own or its
  zygote's, so nothing it writes reaches the machine's disk; needs `namespaces` and root (not `uid`).

`GRADER_ISOLATION` chooses: `full` (the default: every layer available), `minimal` (limits only, for
testing what holds without the deeper layers), or a comma-separated list of layer names. Whatever was
chosen and available is `active`; every other deeper layer is `missing`, and reports say so.
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import sysconfig
from dataclasses import dataclass

from grader.sandbox import cgroup
from grader.child import landlock

DEEP_LAYERS = ("namespaces", "landlock", "seccomp", "capabilities", "memory", "uid", "scratch")
NOBODY = 65534
SCRATCH_MB, SCRATCH_FILES = 64, 1000  # the spec's scratch_mb and scratch_files when it says none
UNSHARE = ["unshare", "--pid", "--net", "--ipc", "--mount", "--fork", "--kill-child"]  # (--mount: private)


@dataclass(frozen=True)
class Layer:
    name: str
    available: bool
    detail: str  # what it does here, or why it is not available
    remedy: str = ""  # what to install or enable to get it


@dataclass(frozen=True)
class Plan:
    """The layers a child is started with: `active` are applied, `missing` are not (chosen off or absent)."""

    active: tuple[str, ...]
    missing: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"active": ["limits", *self.active], "missing": list(self.missing)}


# ---------------------------------------------------------------------------- detection (grader side)

@functools.cache
def detect() -> dict[str, Layer]:
    """Every deeper layer, as this machine offers it (probed once per process)."""
    found = (_namespaces(), _landlock(), _seccomp(), _capabilities(), _memory(), _uid())
    return {layer.name: layer for layer in (*found, _scratch(found[0]))}


def _namespaces() -> Layer:
    import shutil
    import subprocess

    remedy = "install util-linux (`unshare`) and run the grader as root (in a container, say)"
    if shutil.which("unshare") is None:
        return Layer("namespaces", False, "`unshare` is not installed", remedy)
    try:
        probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Layer("namespaces", False, f"`unshare` failed: {exc}", remedy)
    if probe.returncode != 0:
        why = probe.stderr.decode("utf-8", "replace").strip()[:200]
        return Layer("namespaces", False, f"`unshare` cannot create namespaces here ({why})", remedy)
    return Layer("namespaces", True, "new pid, network and IPC namespace per child, and a mount namespace "
                                     "(unshare; a zygote's children: a pid namespace each, below the zygote's)")


def _scratch(namespaces: Layer) -> Layer:
    remedy = "run the grader as root with the namespaces layer (a tmpfs is mounted in the child's mount namespace)"
    if not namespaces.available or os.geteuid() != 0:
        return Layer("scratch", False, "the scratch folder is on the machine's disk, bounded file by file "
                                       "(file_mb) but not in total", remedy)
    return Layer("scratch", True, f"the scratch folder is a tmpfs of its own: at most scratch_mb (default "
                                  f"{SCRATCH_MB} MB) and scratch_files (default {SCRATCH_FILES}) "
                                  "files, counted against the memory limit; not with `uid`")


def _landlock() -> Layer:
    version = landlock.abi_version()
    if version < 1:
        return Layer("landlock", False, "the kernel has no Landlock, or it is disabled",
                     "use Linux >= 5.13 with `lsm=landlock,...` on the kernel command line (6.7+ also limits TCP)")
    from grader.pack import current_pack

    pack = current_pack().root  # where the references are: the child must not be able to read them
    # no pack at all (an installed grader, no --pack): no reference to hide, and none will load
    exposing = [p for p in python_paths()
                if (pack / "reference").is_dir() and pack.is_relative_to(os.path.realpath(p))]
    if exposing:
        return Layer("landlock", False, f"the assignment pack {pack} lies inside {exposing[0]}, which the "
                                        "child must read, so Landlock cannot hide the reference",
                     "keep the pack outside Python's installation folders")
    return Layer("landlock", True, f"file access limited to Python, site-packages, the submission and its "
                                   f"scratch folder (ABI {version})")


def _seccomp() -> Layer:
    remedy = "pip install pyseccomp, and install libseccomp2 (apt-get install libseccomp2)"
    if _seccomp_library() is None:
        return Layer("seccomp", False, "libseccomp is not installed", remedy)
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError, RuntimeError) as exc:
        return Layer("seccomp", False, f"pyseccomp cannot be used ({exc})", remedy)
    return Layer("seccomp", True, "no sockets, exec, new processes, signals to other processes, changes to "
                                  "files' modes, owners, times or flags, file watches, real-time priority, "
                                  "memfds, SysV or POSIX IPC")


def _capabilities() -> Layer:
    if not sys.platform.startswith("linux"):
        return Layer("capabilities", False, "not Linux", "run the grader on Linux")
    if os.geteuid() == 0:
        return Layer("capabilities", True, "the child runs as root but drops every capability (bounding set "
                                           "and ambient included) and sets no_new_privs")
    return Layer("capabilities", True, "the child holds no capability (not root) and sets no_new_privs")


def _memory() -> Layer:
    found = cgroup.hierarchy()
    if found is None:
        return Layer("memory", False, "no memory cgroup this grader may create (so memfds, shared memory and "
                                      "files on tmpfs are not counted by the memory limit)",
                     "run the grader as root with the memory controller mounted (cgroups v1: "
                     "/sys/fs/cgroup/memory; v2: `memory` in the grader's cgroup.subtree_control, e.g. "
                     "systemd-run -p Delegate=yes); until then seccomp refuses memfds, SysV and POSIX shared "
                     "memory, and files in the scratch folder are limited one by one (RLIMIT_FSIZE)")
    return Layer("memory", True, f"a memory cgroup per child (cgroups v{found.version}, under {found.folder}) "
                                 "counts memfds, shared memory and files on tmpfs against the memory limit")


def _uid() -> Layer:
    if os.geteuid() != 0:
        return Layer("uid", False, "the grader does not run as root, so it cannot start the child as "
                                   "another user", "run the grader as root (in a container, say)")
    blocked = unreachable_by_others(needed_by_child())
    if blocked:
        return Layer("uid", False, f"user nobody cannot reach {blocked}",
                     "install Python and the grader where every user can read them (not under /root)")
    return Layer("uid", True, "the child runs as user nobody (65534)")


def needed_by_child() -> list[str]:
    """The files and folders the child's interpreter must read to start."""
    import grader
    return [os.path.realpath(sys.executable), sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
            os.path.dirname(os.path.realpath(grader.__file__)), os.path.dirname(_numpy_dir())]


def unreachable_by_others(paths: list[str]) -> str | None:
    """The first path (or folder above it) that a user other than its owner cannot read; None if none."""
    for path in paths:
        parts = os.path.realpath(path).split(os.sep)
        for depth in range(1, len(parts) + 1):
            here = os.sep.join(parts[:depth]) or os.sep
            try:
                mode = os.stat(here).st_mode
            except OSError:
                return here
            need = stat.S_IXOTH if stat.S_ISDIR(mode) and depth < len(parts) else stat.S_IROTH
            if not mode & need:
                return here
    return None


def plan(choice: str | None = None) -> Plan:
    """The layers to start a child with: GRADER_ISOLATION's choice among those this machine offers."""
    choice = (choice if choice is not None else os.environ.get("GRADER_ISOLATION", "full")).strip().lower()
    if choice in ("", "full"):
        wanted = set(DEEP_LAYERS)
    elif choice == "minimal":
        wanted = set()
    else:
        wanted = {name.strip() for name in choice.split(",")} - {"limits"}
        unknown = wanted - set(DEEP_LAYERS)
        if unknown:
            raise ValueError(f"GRADER_ISOLATION: unknown layer(s) {', '.join(sorted(unknown))}; "
                             f"use full, minimal or a list of {', '.join(DEEP_LAYERS)}")
    layers = detect() if wanted else {}
    active = tuple(name for name in DEEP_LAYERS if name in wanted and layers[name].available)
    if "scratch" in active and ("namespaces" not in active or "uid" in active):  # root in a mount namespace
        active = tuple(name for name in active if name != "scratch")
    return Plan(active, tuple(name for name in DEEP_LAYERS if name not in active))


# ---------------------------------------------------------------------------- starting the child (grader side)

def command(plan: Plan, argv: list[str]) -> list[str]:
    """The command that starts the child: wrapped in new namespaces when that layer is on, and then
    `unshare` (which needs root) changes the user itself."""
    if "namespaces" not in plan.active:
        return argv
    user = ["--setuid", str(NOBODY), "--setgid", str(NOBODY)] if "uid" in plan.active else []
    # unshare kills the child when it dies (--kill-child); setpriv makes unshare die with the grader,
    # so a kill -9 of the grader (or of a batch worker) ends the namespace and everything in it
    import shutil
    dies_with_us = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
    return [*dies_with_us, *UNSHARE, *user, *argv]


def start_options(plan: Plan, scratch: str) -> dict:
    """Extra `subprocess.Popen` arguments: the user to run as, when that layer is on and no `unshare`
    does it; either way the scratch folder becomes that user's."""
    if "uid" not in plan.active:
        return {}
    os.chown(scratch, NOBODY, NOBODY)
    if "namespaces" in plan.active:
        return {}
    return {"user": NOBODY, "group": NOBODY, "extra_groups": []}


def readable_copy(plan: Plan, submission: str, scratch: str) -> str:
    """The path the child loads the submission from: a copy in its scratch folder when it runs as
    another user, who may not be able to read the original where it lies."""
    if "uid" not in plan.active:
        return submission
    import shutil

    copy = os.path.join(scratch, os.path.basename(submission))
    shutil.copyfile(submission, copy)
    os.chown(copy, NOBODY, NOBODY)
    return copy


def child_config(plan: Plan, submission: str, scratch: str) -> dict:
    """What the child needs to apply its own layers: which ones and the paths Landlock allows."""
    return {"layers": list(plan.active), "read": [*python_paths(), submission], "write": [scratch, "/dev/null"],
            "scratch": scratch, "seccomp_library": _seccomp_library()}


def memory_cgroup(plan: Plan, scratch: str, memory_mb: int) -> dict:
    """For an exec'd child: the memory cgroup it joins (made here, removed by `release` when the child is
    gone), as configuration. A zygote's children are born in the zygote's instead."""
    if "memory" not in plan.active:
        return {}
    _cgroups[scratch] = cgroup.create(memory_mb, owner=NOBODY if "uid" in plan.active else None)
    return {"cgroup": _cgroups[scratch]}


_cgroups: dict[str, str] = {}  # scratch folder -> the memory cgroup of the child that uses it


def killed_for_memory(scratch: str) -> bool:
    """Whether the kernel killed the child that uses this scratch folder at its memory cgroup's limit
    (as pid 1 of its namespace, its death reads as `unshare` exiting with status 1)."""
    folder = _cgroups.get(scratch)
    return folder is not None and cgroup.oom_kills(folder) > 0


def release(scratch: str) -> None:
    """After the child (and all it started) is gone: remove its memory cgroup."""
    folder = _cgroups.pop(scratch, None)
    if folder is not None:
        cgroup.remove(folder)


def python_paths() -> list[str]:
    """What the child's Python reads after start-up: the interpreter and its standard library, the
    site-packages, numpy, and the system's shared libraries (extension modules load them lazily)."""
    paths = sysconfig.get_paths()
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, _numpy_dir(), "/usr/lib", "/lib", "/lib64",
             "/etc/ld.so.cache", *(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    return sorted(found)


def _numpy_dir() -> str:
    import importlib.util  # found, not imported: the grader may start a child before it loads numpy
    return os.path.dirname(os.path.realpath(importlib.util.find_spec("numpy").submodule_search_locations[0]))


@functools.cache
def _seccomp_library() -> str | None:
    import ctypes.util
    return ctypes.util.find_library("seccomp")


# ---------------------------------------------------------------------------- `grade doctor`

def describe(choice: str | None = None) -> list[str]:
    """Each layer on this machine, whether a child gets it, and what would add the missing ones."""
    chosen = plan(choice)
    lines = [f"  {'limits':<13} {'active':<8} rlimits (memory, CPU, file size), a new session, wall-clock "
             "limits per call"]
    for name, layer in detect().items():
        state = "active" if name in chosen.active else "off" if layer.available else "missing"
        lines.append(f"  {name:<13} {state:<8} {layer.detail}")
        if not layer.available:
            lines.append(f"  {'':<13} {'':<8} to get it: {layer.remedy}")
        if name == "memory" and state != "active":
            fallback = ("seccomp refuses memfds, SysV and POSIX shared memory" if "seccomp" in chosen.active
                        else "none: seccomp is off too, so memfds and shared memory are not limited")
            lines.append(f"  {'':<13} {'':<8} instead: {fallback}")
    if set(chosen.missing) - {n for n, layer in detect().items() if not layer.available}:
        lines.append("  (layers marked off are available but turned off by GRADER_ISOLATION)")
    return lines


def child_environment(home: str) -> dict:
    """All a child's environment: nothing of the grader's, one BLAS thread, its scratch as home."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
            "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
