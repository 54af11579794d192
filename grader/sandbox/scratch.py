"""Removing a folder a submission's child wrote into (its scratch, a notebook's cells folder).

The child may leave anything there: a chain of folders deeper than the recursion limit (which makes
`shutil.rmtree` raise) or than PATH_MAX, folders it made unreadable or unwritable, read-only files,
links to elsewhere. Removal walks with one open folder at a time and names relative to it, makes what
it meets writable, and never follows a link.
"""

from __future__ import annotations

import os
import stat


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
