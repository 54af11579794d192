"""What a submission running as root could do to the machine and to other submissions (README, "Isolation"; ARCHITECTURE.md, "Untrusted code: the layers").

The child runs as root wherever the `uid` layer is missing (as here, and in many containers). Each
attack runs in the style of tests/test_isolation.py: under `full`, `minimal` and each layer that stops
it alone; where a stopping layer is on it is refused, where none is it works and the report names them
as missing. Every attack is bounded (a few hundred MB, a dozen children, seconds) and cleans up after
itself where it got through (modes, immutable flags, SysV segments, files in /dev/shm).
"""

from __future__ import annotations

import ctypes
import fcntl
import glob
import os
import shutil
import struct
import tempfile

import pytest

from grader.sandbox import isolation
from grader.sandbox import process as sandbox
from grader.sandbox import zygote as zygotes
from grader.sandbox.process import Sandbox
from grader.judge.spec import EXAMPLES, load
from test_isolation import AVAILABLE, assert_outcome, attempts, choices, graded, stopped, submission

_libc = ctypes.CDLL(None, use_errno=True)
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10

# ---------------------------------------------------------------------------- host files

OWNER_STOPPERS = ("seccomp",)  # root owns the file: changing its mode, times or attributes needs no capability


@pytest.mark.parametrize("choice", choices(*OWNER_STOPPERS, "capabilities"))
def test_changing_the_mode_times_or_attributes_of_a_root_only_host_file(tmp_path, choice, monkeypatch):
    target = tmp_path / "root-only.txt"
    target.write_text("staff only\n")
    os.chmod(target, 0o600)
    before = os.stat(target)
    attack = f"""
    import os as _os
    _attempt("chmod", lambda: _os.chmod({str(target)!r}, 0o777))
    _attempt("utime", lambda: _os.utime({str(target)!r}, (0, 0)))
    _attempt("setxattr", lambda: _os.setxattr({str(target)!r}, "user.graded", b"10/10"))
    """
    path = submission(tmp_path, attack)
    try:
        results = attempts(path, choice)
        assert_outcome(choice, OWNER_STOPPERS, results, graded(path, choice, monkeypatch))
        after = os.stat(target)
        unchanged = (after.st_mode == before.st_mode and after.st_mtime == before.st_mtime
                     and "user.graded" not in os.listxattr(target))
        assert unchanged == stopped(choice, OWNER_STOPPERS), (choice, oct(after.st_mode))
    finally:
        os.chmod(target, 0o600)


CHOWN_STOPPERS = ("seccomp", "capabilities")


@pytest.mark.parametrize("choice", choices(*CHOWN_STOPPERS))
def test_giving_a_root_only_host_file_to_user_nobody(tmp_path, choice, monkeypatch):
    target = tmp_path / "root-only.txt"
    target.write_text("staff only\n")
    os.chmod(target, 0o600)
    attack = f"""
    import os as _os
    _attempt("chown", lambda: _os.chown({str(target)!r}, 65534, 65534))
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, CHOWN_STOPPERS, results, graded(path, choice, monkeypatch))
    assert (os.stat(target).st_uid == 0) == stopped(choice, CHOWN_STOPPERS)


@pytest.mark.parametrize("choice", choices(*CHOWN_STOPPERS))
def test_an_immutable_scratch_file_does_not_survive_cleanup(tmp_path, choice, monkeypatch):
    """`chattr +i` (ioctl FS_IOC_SETFLAGS) on a file in the scratch folder: where it works, the file
    outlives the grader's removal of the folder (the test then clears the flag and removes it)."""
    name = f"immutable-{os.getpid()}.txt"
    attack = f"""
    import fcntl as _fcntl, os as _os, struct as _struct

    def _immutable():
        where = _os.path.join(_os.environ["HOME"], {name!r})
        with open(where, "w") as fh:
            fh.write("kept")
        with open(where) as fh:
            flags = _struct.unpack("l", _fcntl.ioctl(fh, {FS_IOC_GETFLAGS}, b"\\0" * 8))[0]
            _fcntl.ioctl(fh, {FS_IOC_SETFLAGS}, _struct.pack("l", flags | {FS_IMMUTABLE_FL}))
        return where

    _attempt("chattr +i", _immutable)
    """
    path = submission(tmp_path, attack)
    pattern = os.path.join(tempfile.gettempdir(), "grader-*", name)
    try:
        results = attempts(path, choice)
        survivors = glob.glob(pattern)
        assert bool(survivors) == (not stopped(choice, CHOWN_STOPPERS)), (choice, results)
        assert_outcome(choice, CHOWN_STOPPERS, results, graded(path, choice, monkeypatch))
    finally:
        for left in glob.glob(pattern):
            with open(left) as fh:
                fcntl.ioctl(fh, FS_IOC_SETFLAGS, struct.pack("l", 0))
            shutil.rmtree(os.path.dirname(left), ignore_errors=True)


# ---------------------------------------------------------------------------- watching the host

FANOTIFY_STOPPERS = ("seccomp", "capabilities")


@pytest.mark.parametrize("choice", choices(*FANOTIFY_STOPPERS))
def test_fanotify_on_the_host(tmp_path, choice, monkeypatch):
    attack = """
    import ctypes as _ctypes, os as _os

    def _fanotify():
        libc = _ctypes.CDLL(None, use_errno=True)
        fd = libc.fanotify_init(0, 0)  # FAN_CLASS_NOTIF, O_RDONLY: needs CAP_SYS_ADMIN
        if fd < 0:
            raise PermissionError(_ctypes.get_errno(), _os.strerror(_ctypes.get_errno()))
        _os.close(fd)
        return fd

    _attempt("fanotify_init", _fanotify)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, FANOTIFY_STOPPERS, results, graded(path, choice, monkeypatch))


INOTIFY_STOPPERS = ("seccomp",)  # no capability needed


@pytest.mark.parametrize("choice", choices(*INOTIFY_STOPPERS, "landlock", "capabilities"))
def test_inotify_on_a_folder_outside_the_sandbox(tmp_path, choice, monkeypatch):
    watched = tmp_path / "watched"
    watched.mkdir()
    attack = f"""
    import ctypes as _ctypes, os as _os

    def _inotify():
        libc = _ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(0)
        if fd < 0:
            raise PermissionError(_ctypes.get_errno(), _os.strerror(_ctypes.get_errno()))
        try:
            if libc.inotify_add_watch(fd, {str(watched).encode()!r}, 0x100) < 0:  # IN_CREATE
                raise PermissionError(_ctypes.get_errno(), _os.strerror(_ctypes.get_errno()))
        finally:
            _os.close(fd)
        return "watching"

    _attempt("inotify", _inotify)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, INOTIFY_STOPPERS, results, graded(path, choice, monkeypatch))


# ---------------------------------------------------------------------------- the CPU

PRIORITY_STOPPERS = ("seccomp", "capabilities")


@pytest.mark.parametrize("choice", choices(*PRIORITY_STOPPERS))
def test_real_time_scheduling_or_a_higher_priority(tmp_path, choice, monkeypatch):
    """SCHED_FIFO threads starve neighbouring submissions on a shared machine. Where it gets through,
    the attack goes back to normal scheduling at once (the test must not starve the machine)."""
    attack = """
    import os as _os

    def _fifo():
        _os.sched_setscheduler(0, _os.SCHED_FIFO, _os.sched_param(1))
        _os.sched_setscheduler(0, _os.SCHED_OTHER, _os.sched_param(0))
        return "was real-time"

    def _nice():
        _os.setpriority(_os.PRIO_PROCESS, 0, -5)
        _os.setpriority(_os.PRIO_PROCESS, 0, 0)
        return "was at -5"

    _attempt("SCHED_FIFO", _fifo)
    _attempt("nice -5", _nice)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, PRIORITY_STOPPERS, results, graded(path, choice, monkeypatch))


# ---------------------------------------------------------------------------- capabilities

@pytest.mark.parametrize("choice", choices("capabilities"))
def test_the_child_holds_no_capability(tmp_path, choice, monkeypatch):
    """capget and the bounding set, as the submission sees them: empty (and no_new_privs set) where the
    capabilities layer is on. Without it a root child holds them all."""
    attack = """
    import ctypes as _ctypes

    def _held():
        libc = _ctypes.CDLL(None, use_errno=True)
        header = (_ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (_ctypes.c_uint32 * 6)()
        libc.capget(header, data)
        held = {"effective": data[0] | data[3], "permitted": data[1] | data[4],
                "bounding": sum(libc.prctl(23, cap, 0, 0, 0) == 1 for cap in range(41)),
                "ambient": sum(libc.prctl(47, 2, cap, 0, 0) == 1 for cap in range(41))}
        if not any(held.values()) and libc.prctl(39, 0, 0, 0, 0) == 1:  # PR_GET_NO_NEW_PRIVS
            raise PermissionError("no capability held, no_new_privs set")
        return held

    _attempt("capabilities", _held)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, ("capabilities",), results, graded(path, choice, monkeypatch))


RLIMIT_STOPPERS = ("capabilities", "uid")  # raising a hard limit takes CAP_SYS_RESOURCE


@pytest.mark.parametrize("choice", choices(*RLIMIT_STOPPERS))
def test_raising_its_own_hard_limits(tmp_path, choice, monkeypatch):
    """A root child could lift its own memory and CPU limits: the rlimits hold only without capabilities."""
    attack = """
    import resource as _resource

    def _raise(which):
        _resource.setrlimit(which, (_resource.RLIM_INFINITY, _resource.RLIM_INFINITY))
        return _resource.getrlimit(which)

    _attempt("RLIMIT_AS", lambda: _raise(_resource.RLIMIT_AS))
    _attempt("RLIMIT_CPU", lambda: _raise(_resource.RLIMIT_CPU))
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    report = graded(path, choice, monkeypatch)
    from grader.child import capabilities
    if capabilities.held()["effective"] >> 24 & 1:  # CAP_SYS_RESOURCE: some containers hold it, some not
        assert_outcome(choice, RLIMIT_STOPPERS, results, report)
    else:  # a machine without it: the limits hold whatever the layers, and the score is still the same
        assert all(result.startswith("refused") for result in results.values()), results
        assert report.score == 10


# ---------------------------------------------------------------------------- memory

MEMFD_STOPPERS = ("seccomp", "memory")


def _attempts_or_death(path, choice, memory_mb):
    """The attack's attempts, or the way the child died while loading (the cgroup's OOM kill)."""
    limits = load().limits()
    # filling hundreds of MB takes seconds on a loaded machine: the statement's time box must not be what stops it
    limits = type(limits)(**{**limits.__dict__, "memory_mb": memory_mb, "statement_seconds": 30.0,
                             "load_seconds": 60.0})
    box = Sandbox(str(path), limits, path.name, plan=isolation.plan(choice))
    box.start()
    try:
        loaded = box.load({})
        if loaded.failure is not None:
            return loaded.failure
        exchange = box.run([{"do": "func", "name": "probe"}])
        return exchange.failure or exchange.reply["results"][0]["ok"]
    finally:
        box.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("choice", choices(*MEMFD_STOPPERS))
def test_memfds_cannot_hold_more_than_the_memory_limit(tmp_path, choice, monkeypatch):
    """RLIMIT_AS does not count memory written into memfds: 48 of 16 MB (768 MB) against a 512 MB limit.
    seccomp refuses memfd_create; a memory cgroup counts the pages and kills the child at its limit."""
    attack = """
    import os as _os

    def _memfds():
        fds = []
        try:
            for _ in range(48):
                fd = _os.memfd_create("held")
                fds.append(fd)
                _os.write(fd, b"\\1" * (16 << 20))
            return f"{16 * len(fds)} MB held"
        finally:
            for fd in fds:
                _os.close(fd)

    _attempt("memfds", _memfds)
    """
    path = submission(tmp_path, attack)
    outcome = _attempts_or_death(path, choice, memory_mb=512)
    plan = isolation.plan(choice)
    if "seccomp" in plan.active:
        assert outcome["memfds"].startswith("refused"), outcome
    elif "memory" in plan.active:
        assert isinstance(outcome, sandbox.Failure) and outcome.kind == "crash", outcome
        assert "out of memory" in outcome.detail
    else:
        assert outcome["memfds"] == "ok: '768 MB held'", outcome
    report = graded(path, choice, monkeypatch)
    assert report.score <= 10
    if not stopped(choice, MEMFD_STOPPERS):
        assert set(MEMFD_STOPPERS) <= set(report.isolation["missing"])


SCRATCH_STOPPERS = ("memory", "scratch")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("choice", choices(*SCRATCH_STOPPERS))
def test_files_in_a_tmpfs_scratch_folder_count_against_the_memory_limit(tmp_path, choice, monkeypatch):
    """RLIMIT_FSIZE bounds each file, not their number: 48 files of 16 MB in a scratch folder on a tmpfs
    (TMPDIR=/dev/shm here) hold 768 MB of RAM against a 512 MB limit, unless a memory cgroup counts them."""
    monkeypatch.setattr(tempfile, "tempdir", "/dev/shm")  # where the grader makes scratch folders
    attack = """
    import os as _os

    def _files():
        for number in range(48):
            with open(_os.path.join(_os.environ["HOME"], f"f{number}"), "wb") as fh:
                fh.write(b"\1" * (16 << 20))
        return "768 MB written"

    _attempt("files", _files)
    """
    path = submission(tmp_path, attack)
    outcome = _attempts_or_death(path, choice, memory_mb=512)
    if stopped(choice, ("scratch",)):  # its tmpfs is full at scratch_mb (64 MB), long before the memory limit
        assert outcome["files"] == "refused: OSError: [Errno 28] No space left on device", outcome
    elif stopped(choice, SCRATCH_STOPPERS):
        assert isinstance(outcome, sandbox.Failure) and outcome.kind == "crash", outcome
        assert "out of memory" in outcome.detail  # also as pid 1 of a namespace, whose death reads as exit 1
    else:
        assert outcome["files"] == "ok: '768 MB written'", outcome
        report = graded(path, choice, monkeypatch)
        assert set(SCRATCH_STOPPERS) <= set(report.isolation["missing"]) and report.score == 10
    assert not glob.glob("/dev/shm/grader-*/f47")  # removed with the scratch folder either way


POSIX_SHM_STOPPERS = ("landlock",)


@pytest.mark.parametrize("choice", choices(*POSIX_SHM_STOPPERS))
def test_posix_shared_memory_in_dev_shm(tmp_path, choice, monkeypatch):
    """/dev/shm is a tmpfs no rlimit bounds, and a file there outlives the child: Landlock refuses it."""
    name = f"/dev/shm/grader-test-{os.getpid()}"
    attack = f"""
    _attempt("/dev/shm", lambda: open({name!r}, "wb").write(b"x" * 4096))
    """
    path = submission(tmp_path, attack)
    try:
        results = attempts(path, choice)
        assert_outcome(choice, POSIX_SHM_STOPPERS, results, graded(path, choice, monkeypatch))
        assert os.path.exists(name) == (not stopped(choice, POSIX_SHM_STOPPERS))
    finally:
        if os.path.exists(name):
            os.unlink(name)


# ---------------------------------------------------------------------------- between submissions

SYSV_STOPPERS = ("seccomp", "namespaces")
_IPC_CREAT, _IPC_RMID = 0o1000, 0


def _sysv_attack(key: int, write: bool) -> str:
    """Create a SysV segment under `key` and write a secret into it, or read it back."""
    return f"""
    import ctypes as _ctypes

    def _sysv():
        libc = _ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = _ctypes.c_void_p
        shmid = libc.shmget({key}, 4096, {_IPC_CREAT | 0o600 if write else 0})
        if shmid < 0:
            raise PermissionError(_ctypes.get_errno(), "shmget")
        address = libc.shmat(shmid, None, 0)
        if address in (None, 2**64 - 1):
            raise PermissionError(_ctypes.get_errno(), "shmat")
        if {write}:
            _ctypes.memmove(address, b"answers of student A", 20)
        found = _ctypes.string_at(address, 20)
        libc.shmdt(_ctypes.c_void_p(address))
        return found

    _attempt("sysv", _sysv)
    """


def _remove_segment(key: int) -> None:
    shmid = _libc.shmget(key, 0, 0)
    if shmid >= 0:
        _libc.shmctl(shmid, _IPC_RMID, None)


def _sysv_params() -> list:
    """Each choice with exec'd children, and with children forked by a zygote where it has one."""
    params = []
    for param in choices(*SYSV_STOPPERS):
        choice = param.values[0]
        params.append(pytest.param(choice, False, id=f"{choice}-exec"))
        if "namespaces" in isolation.plan(choice).active:  # a zygote needs that layer
            params.append(pytest.param(choice, True, id=f"{choice}-zygote"))
    return params


@pytest.mark.parametrize("choice,zygote", _sysv_params())
def test_sysv_shared_memory_is_no_channel_between_two_submissions(tmp_path, choice, zygote, monkeypatch):
    """Student A leaves a SysV segment with a secret; student B, graded next by the same worker (so by
    the same zygote, where there is one), looks it up by its key."""
    key = 0x6772000 + os.getpid() % 4096
    writer = submission(tmp_path, _sysv_attack(key, write=True), name="a.py")
    reader = submission(tmp_path, _sysv_attack(key, write=False), name="b.py")
    zygotes.use_zygote(zygote)
    try:
        wrote = attempts(writer, choice)["sysv"]
        read = attempts(reader, choice)["sysv"]
    finally:
        zygotes.use_zygote(False)
        _remove_segment(key)
    if "seccomp" in isolation.plan(choice).active:
        assert wrote.startswith("refused") and read.startswith("refused"), (wrote, read)
    elif stopped(choice, SYSV_STOPPERS):
        assert wrote.startswith("ok") and read.startswith("refused"), (wrote, read)  # its own namespace
    else:
        assert read == "ok: b'answers of student A'", read
    try:
        report = graded(reader, choice, monkeypatch)
    finally:
        _remove_segment(key)
    assert report.score == 10
    if not stopped(choice, SYSV_STOPPERS):
        assert set(SYSV_STOPPERS) <= set(report.isolation["missing"])


# ---------------------------------------------------------------------------- honest work still works

def test_honest_files_threads_and_blas_work_with_every_layer(tmp_path, monkeypatch):
    attack = """
    import os as _os, tempfile as _tempfile, threading as _threading
    import numpy as _np

    def _files():
        where = _os.path.join(_os.environ["HOME"], "w.npy")
        _np.save(where, _np.arange(6.0))
        fd, other = _tempfile.mkstemp()
        _os.close(fd)
        _os.replace(other, other + ".moved")
        return float(_np.load(where).sum())

    def _threads():
        out = []
        workers = [_threading.Thread(target=lambda: out.append(float((_np.ones((64, 64)) @ _np.ones(64)).sum())))
                   for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sorted(out)

    _attempt("files", _files)
    _attempt("threads", _threads)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, "full")
    assert results == {"files": "ok: 15.0", "threads": "ok: [4096.0, 4096.0, 4096.0, 4096.0]"}
    assert graded(path, "full", monkeypatch).score == 10


# ---------------------------------------------------------------------------- grade doctor

def test_doctor_names_the_new_layers_and_the_fallback_without_a_memory_cgroup(monkeypatch):
    from click.testing import CliRunner

    from grader import cli
    from grader.sandbox import cgroup

    def doctor() -> dict[str, str]:
        isolation.detect.cache_clear()
        output = CliRunner().invoke(cli.main, ["doctor"]).output
        return {line.split()[0]: line for line in output.splitlines() if line.startswith("  ") and line.split()}, output

    try:
        lines, _ = doctor()
        assert "IPC namespace" in lines["namespaces"]
        assert "drops every capability" in lines["capabilities"] or "holds no capability" in lines["capabilities"]
        if "memory" in AVAILABLE:
            assert "active" in lines["memory"] and "memory cgroup per child" in lines["memory"]
        if "scratch" in AVAILABLE:  # its limits, as the spec's keys say them
            assert "active" in lines["scratch"] and "scratch_mb (default 64 MB)" in lines["scratch"]
            assert "scratch_files (default 1000)" in lines["scratch"]
        monkeypatch.setattr(cgroup, "hierarchy", lambda: None)  # a machine without a memory cgroup
        lines, output = doctor()
        assert lines["memory"].split()[1] == "missing"
        assert "to get it: run the grader as root with the memory controller mounted" in output
        assert "instead: seccomp refuses memfds, SysV and POSIX shared memory" in output
        assert "memory" in isolation.plan("full").missing and "memory" not in isolation.plan("full").active
    finally:
        monkeypatch.undo()
        isolation.detect.cache_clear()


def test_every_memory_cgroup_is_removed_with_its_child(tmp_path):
    if "memory" not in AVAILABLE:
        pytest.skip("this machine has no memory cgroup the grader may create")
    from grader.sandbox import cgroup

    folder = cgroup.hierarchy().folder
    ours = lambda: {n for n in os.listdir(folder) if n.startswith(f"rnn-grader-{os.getpid()}-")}  # noqa: E731
    before = ours()
    path = tmp_path / "tiny.py"
    path.write_text("def f():\n    return 1\n")
    for zygote in (False, True):
        zygotes.use_zygote(zygote)
        try:
            with Sandbox(str(path), load().limits(), "tiny.py", plan=isolation.plan("full")) as box:
                assert box.load({}).failure is None
                assert len(ours() - before) == 1
        finally:
            zygotes.use_zygote(False)
        assert ours() == before


def test_a_batch_leaves_no_memory_cgroup(tmp_path):
    """A batch's zygotes each hold a memory cgroup, which the batch (their owner) removes when it ends."""
    if "memory" not in AVAILABLE:
        pytest.skip("this machine has no memory cgroup the grader may create")
    from grader.course.batch import grade_folder
    from grader.sandbox import cgroup

    folder = cgroup.hierarchy().folder
    every = lambda: {n for n in os.listdir(folder) if n.startswith("rnn-grader-")}  # noqa: E731
    before = every()
    (tmp_path / "class").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "class" / f"{name}.py").write_text((EXAMPLES / "correct_vectorised.py").read_text() + f"# {name}\n")
    result = grade_folder(tmp_path / "class", tmp_path / "out", load(), jobs=2, quiet=True)
    assert result.graded == 3 and [r["score"] for r in result.reports.values()] == [10.0] * 3
    assert every() == before


def test_only_the_process_that_started_a_zygote_removes_its_cgroup():
    """A batch worker adopts a copy of its zygote's handle. Were it to remove the cgroup when it stops, it
    would wait for a zygote only the batch can reap: measured, 4 s at the end of every batch."""
    if "memory" not in AVAILABLE or "namespaces" not in AVAILABLE:
        pytest.skip("needs the memory and namespaces layers")
    zygote = zygotes.start_zygote(isolation.plan("full"))
    try:
        worker = os.fork()
        if worker == 0:  # a worker: adopts the handle, then stops using it
            from grader.sandbox import cgroup

            cgroup.remove = lambda *args, **kwargs: os._exit(3)  # (the test's own probe, in its own fork)
            zygotes.adopt_zygote(zygote)
            zygotes.use_zygote(False)
            os._exit(0)
        assert os.waitpid(worker, 0)[1] >> 8 == 0, "the worker tried to remove the zygote's cgroup"
        assert os.path.isdir(zygote.cgroup)
    finally:
        zygotes.stop_zygote(zygote)
    assert not os.path.isdir(zygote.cgroup)
