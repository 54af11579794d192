"""The seccomp filter of the child: the system calls an honest NumPy submission never makes.

A deny-list (see ARCHITECTURE.md, "Untrusted code: the layers", for why not an allow-list): every call
below fails with EPERM (clone3 with ENOSYS, so glibc falls back to clone, which seccomp can read), and
calls from another architecture kill the process (libseccomp's default). Grouped by what they stop.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

DENIED = {
    "processes and programs": ("execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv",
                               "process_vm_writev", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "kcmp",
                               "process_madvise", "process_mrelease"),
    "the network": ("socket",),
    "namespaces, mounts and the kernel": (
        "setns", "unshare", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "fsconfig",
        "move_mount", "open_tree", "fspick", "mount_setattr", "bpf", "perf_event_open", "userfaultfd",
        "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key",
        "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
        "swapoff", "acct", "quotactl", "syslog", "settimeofday", "clock_settime", "clock_adjtime",
        "adjtimex", "sethostname", "setdomainname", "iopl", "ioperm", "vhangup", "open_by_handle_at",
        "name_to_handle_at", "lookup_dcookie"),
    # Landlock does not govern these, and root owns most files: as owner it needs no capability
    "modes, owners, times and attributes of files": (
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime",
        "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "removexattr",
        "lremovexattr", "fremovexattr", "removexattrat", "mknod", "mknodat", "link", "linkat", "symlink",
        "symlinkat"),
    "watching the machine's files": ("fanotify_init", "fanotify_mark", "inotify_init", "inotify_init1",
                                     "inotify_add_watch"),
    "priority over other submissions": ("sched_setscheduler", "sched_setparam", "sched_setattr", "setpriority",
                                        "ioprio_set"),
    # memory that RLIMIT_AS does not count, and IPC objects that outlive the child
    "shared memory and IPC": ("memfd_create", "memfd_secret", "shmget", "shmat", "shmdt", "shmctl", "msgget",
                              "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl",
                              "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
                              "mq_getsetattr"),
    "users": ("setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
              "setfsgid", "capset"),
}

# ioctl requests that change a file (chattr +i survives the scratch folder's removal) or fake terminal input
DENIED_IOCTLS = {"FS_IOC_SETFLAGS": 0x40086602, "FS_IOC32_SETFLAGS": 0x40046602,
                 "FS_IOC_FSSETXATTR": 0x401C5820, "TIOCSTI": 0x5412}

# calls newer than some libseccomp releases (2.5.4 in Debian 12): the same number on x86-64 and arm64
_NEWER = {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "memfd_secret": 447,
          "process_mrelease": 448}

_CLONE_THREAD = 0x10000
_SIGNALS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# calls that act on (or read) the process named by a pid argument (its position), 0 meaning the caller:
# refused for any other process, so no child changes the zygote's limits or a neighbour's affinity
# (prlimit64 on the zygote once lowered every later child's memory), whatever namespace it is in
ON_A_PID = {"prlimit64": 0, "sched_setaffinity": 0, "sched_getaffinity": 0, "sched_getparam": 0,
            "sched_getscheduler": 0, "sched_getattr": 0, "sched_rr_get_interval": 0, "get_robust_list": 0,
            "migrate_pages": 0, "move_pages": 0, "getpgid": 0, "getsid": 0, "setpgid": 0, "getpriority": 1,
            "ioprio_get": 1}


def build(sc):
    """The filter, for pyseccomp module `sc` (imported by the caller, before Landlock closes its files)."""
    refuse = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(sc.ALLOW)
    for names in DENIED.values():
        for name in names:
            number = _number(sc, name)
            if number is not None:
                rules.add_rule(refuse, number)
    for request in DENIED_IOCTLS.values():
        rules.add_rule(refuse, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    # threads (clone with CLONE_THREAD) are fine; a new process is not. clone3 passes its flags in
    # memory seccomp cannot read, so it says "not implemented" and glibc falls back to clone.
    rules.add_rule(refuse, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    me = os.getpid()
    for name in _SIGNALS:
        rules.add_rule(refuse, name, sc.Arg(0, sc.NE, me))  # signals to itself only
    # one comparison per argument and rule (libseccomp): "0 or me" is "at most 1" as init of its own
    # pid namespace (where only its own processes have pids), else only 0. Compared on all 64 bits, so
    # high bits above a 32-bit pid are refused too.
    highest = 1 if me == 1 else 0
    for name, position in ON_A_PID.items():
        if _number(sc, name) is not None:
            rules.add_rule(refuse, name, sc.Arg(position, sc.GT, highest))
    return rules


def _number(sc, name: str) -> int | None:
    """The call's number on this architecture; None for a call this machine does not have (nothing to deny)."""
    number = sc.resolve_syscall(sc.Arch.NATIVE, name)
    if number >= 0:
        return number
    return _NEWER.get(name) if sys.platform.startswith("linux") else None


def import_pyseccomp(library: str | None):
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
