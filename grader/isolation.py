"""The layers that isolate a submission's child process: which ones this machine offers, and using them.

`limits` (rlimits and a new session, set by `grader.child` and `grader.sandbox`) always holds. The
deeper layers are detected once per grader process and used when present:

- `namespaces`: the child starts in a new pid and network namespace (`unshare`, from util-linux), so
  every process it starts dies with it and it has no network at all;
- `landlock`: the child can read only Python, its site-packages and its submission file, write only its
  scratch folder, exec nothing, connect nowhere, and signal nothing outside (kernel Landlock);
- `seccomp`: the child cannot create sockets, exec programs, start processes (threads are fine) or send
  signals to other processes (PyPI `pyseccomp` over libseccomp);
- `uid`: the child runs as user nobody, when that user can reach the interpreter and the grader.

`GRADER_ISOLATION` chooses: `full` (the default: every layer available), `minimal` (limits only, for
testing what holds without the deeper layers), or a comma-separated list of layer names. Whatever was
chosen and available is `active`; every other deeper layer is `missing`, and reports say so.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import stat
import sys
import sysconfig
from dataclasses import dataclass

DEEP_LAYERS = ("namespaces", "landlock", "seccomp", "uid")
NOBODY = 65534
UNSHARE = ["unshare", "--pid", "--net", "--fork", "--kill-child"]


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
    return {layer.name: layer for layer in (_namespaces(), _landlock(), _seccomp(), _uid())}


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
    return Layer("namespaces", True, "new pid and network namespace per child (unshare)")


def _landlock() -> Layer:
    from grader import landlock

    version = landlock.abi_version()
    if version < 1:
        return Layer("landlock", False, "the kernel has no Landlock, or it is disabled",
                     "use Linux >= 5.13 with `lsm=landlock,...` on the kernel command line (6.7+ also limits TCP)")
    from grader.spec import PROJECT

    exposing = [p for p in python_paths() if PROJECT.is_relative_to(os.path.realpath(p))]
    if exposing:
        return Layer("landlock", False, f"the grader's folder {PROJECT} lies inside {exposing[0]}, which the "
                                        "child must read, so Landlock cannot hide the reference",
                     "install the grader outside Python's installation folders")
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
    return Layer("seccomp", True, "no sockets, exec, new processes or signals to other processes")


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
    """What the child needs to apply its own layers: which ones, and the paths Landlock allows."""
    return {"layers": list(plan.active), "read": [*python_paths(), submission], "write": [scratch, "/dev/null"],
            "seccomp_library": _seccomp_library()}


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


# ---------------------------------------------------------------------------- inside the child

def enter(config: dict) -> None:
    """Apply the child's own layers, after numpy and the grader's modules are imported and before any
    student code: Landlock first (it needs to open the paths it allows), then seccomp. Raises OSError
    when a layer the grader counted on cannot be applied: the child must then not run student code."""
    layers = config.get("layers", [])
    if "seccomp" in layers:
        _import_pyseccomp(config.get("seccomp_library"))  # reads files: before Landlock closes them
    if "landlock" in layers:
        from grader import landlock
        landlock.restrict(config["read"], config["write"])
    if "seccomp" in layers:
        _seccomp_filter().load()


def preload() -> None:
    """What `enter` imports, loaded ahead by a process that forks children (the zygote)."""
    _import_pyseccomp(_seccomp_library())
    from grader import landlock  # noqa: F401


def _import_pyseccomp(library: str | None):
    """pyseccomp finds libseccomp through `ctypes.util`, which imports subprocess and runs `ldconfig -p`
    (~15 ms a child). The grader already knows the library: lend pyseccomp a `ctypes.util` that says
    so, and put the real one back for student code."""
    import types

    lent = types.ModuleType("ctypes.util")
    lent.find_library = {"seccomp": library, "c": "libc.so.6"}.get
    saved_module, saved_attribute = sys.modules.get("ctypes.util"), getattr(ctypes, "util", None)
    sys.modules["ctypes.util"], ctypes.util = lent, lent
    try:
        import pyseccomp
    finally:
        if saved_module is None:
            del sys.modules["ctypes.util"]
        else:
            sys.modules["ctypes.util"] = saved_module
        if saved_attribute is None:
            del ctypes.util
        else:
            ctypes.util = saved_attribute
    return pyseccomp


def _seccomp_filter():
    """A deny-list: what an honest NumPy submission never needs. Calls from another architecture (a
    32-bit syscall, say) kill the process, libseccomp's default."""
    import pyseccomp as sc

    refuse = sc.ERRNO(errno.EPERM)
    me = os.getpid()
    rules = sc.SyscallFilter(sc.ALLOW)
    for name in ("socket", "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv",
                 "process_vm_writev", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "setns", "unshare",
                 "mount", "umount2", "pivot_root", "chroot", "bpf", "perf_event_open", "userfaultfd",
                 "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key"):
        rules.add_rule(refuse, name)
    # threads (clone with CLONE_THREAD) are fine; a new process is not. clone3 passes its flags in
    # memory seccomp cannot read, so it says "not implemented" and glibc falls back to clone.
    rules.add_rule(refuse, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for name in ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        rules.add_rule(refuse, name, sc.Arg(0, sc.NE, me))  # signals to itself only
    return rules


_CLONE_THREAD = 0x10000


# ---------------------------------------------------------------------------- `grade doctor`

def describe(choice: str | None = None) -> list[str]:
    """Each layer on this machine, whether a child gets it, and what would add the missing ones."""
    chosen = plan(choice)
    lines = ["  limits      active   rlimits (memory, CPU, file size), a new session, wall-clock limits per call"]
    for name, layer in detect().items():
        state = "active" if name in chosen.active else "off" if layer.available else "missing"
        lines.append(f"  {name:<11} {state:<8} {layer.detail}")
        if not layer.available:
            lines.append(f"  {'':<11} {'':<8} to get it: {layer.remedy}")
    if set(chosen.missing) - {n for n, layer in detect().items() if not layer.available}:
        lines.append("  (layers marked off are available but turned off by GRADER_ISOLATION)")
    return lines
