"""Folders a submission's child writes into (its scratch, a notebook's cells folder): making them,
named by the grader's pid, and removing them, also those of graders that died (`kill -9`) before
they could.

The child may leave anything there: a chain of folders deeper than the recursion limit (which makes
`shutil.rmtree` raise) or than PATH_MAX, folders it made unreadable or unwritable, read-only files,
links to elsewhere. Removal walks with one open folder at a time and names relative to it, makes what
it meets writable, and never follows a link.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile

# grader-KIND-PID-nNS-random: KIND's folder of grader PID in the pid namespace NS (an older name has no NS)
_OWNED = re.compile(r"^grader-[a-z]+-(\d+)-(?:n(\d+)-)?")
_swept = False  # (a forked worker inherits it: the process it came from already swept)


def make_folder(kind: str) -> str:
    """A new private folder for `kind` (child, cells, source) under the temporary folder, named so that
    a later grader can tell whether its owner is still alive; the first call per process sweeps."""
    remove_abandoned()
    return tempfile.mkdtemp(prefix=f"grader-{kind}-{os.getpid()}-n{_pid_namespace()}-")


def _pid_namespace() -> int:
    """This process's pid namespace (its inode number; 0 when unknown). A grader in another namespace (a
    container, a cluster worker, `unshare`) sharing the temporary folder sees other pids: its folders are
    never judged by our /proc, or a live grader's scratch would vanish under it (FileNotFoundError)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def remove_abandoned(folder: str | None = None) -> list[str]:
    """Remove the folders `make_folder` made for graders no longer alive (by their pid; ours only, by
    owner); once per process. The names removed."""
    global _swept
    if _swept and folder is None:
        return []
    _swept = True
    folder = folder or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        owner = _OWNED.match(entry.name)
        try:
            if owner is None or entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
        except OSError:
            continue
        if owner.group(2) is not None and int(owner.group(2)) != _pid_namespace():
            continue  # another pid namespace's: its pids mean nothing here
        if not os.path.exists(f"/proc/{owner.group(1)}"):  # the grader that made it is gone
            remove_tree(entry.path)
            removed.append(entry.name)
    return removed


def remove_tree(path: str) -> None:
    """Remove a folder a child wrote into, whatever it made there: chains deeper than the recursion limit
    or PATH_MAX (so no recursion and only paths relative to an open folder), folders it made unreadable or
    unwritable, read-only files, symbolic links (removed, never followed). Call it once the child and
    everything it started are dead, so nothing changes underneath. Never raises."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):  # replaced by a link or a file: remove just that
            os.unlink(path)
            return
        os.chmod(path, 0o700)
        fd = os.open(path, flags)
    except OSError:
        return
    stack: list[tuple[str | None, list[str]]] = [(None, _clear_files(fd))]  # (folder, its subfolders left)
    try:
        while stack:
            name, subfolders = stack[-1]
            if subfolders:
                sub = subfolders.pop()
                try:
                    os.chmod(sub, 0o700, dir_fd=fd)  # (not a link: _clear_files listed it as a folder)
                    inner = os.open(sub, flags, dir_fd=fd)
                except OSError:
                    continue
                os.close(fd)
                fd = inner
                stack.append((sub, _clear_files(fd)))
                continue
            stack.pop()
            if name is None:
                break
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


def _clear_files(fd: int) -> list[str]:
    """Unlink everything in the open folder but its subfolders; the subfolders' names."""
    folders = []
    try:
        os.fchmod(fd, 0o700)
    except OSError:
        pass
    try:
        with os.scandir(fd) as entries:
            names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    except OSError:
        return folders
    for name, is_dir in names:
        if is_dir:
            folders.append(name)
            continue
        try:
            os.unlink(name, dir_fd=fd)
        except IsADirectoryError:
            folders.append(name)
        except OSError:
            pass
    return folders
