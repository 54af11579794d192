"""A submission's file as Python reads it: opened once and never through a symbolic link, bounded in
size, decoded by Python's own rule (a UTF-8 BOM, or a PEP 263 coding line, else UTF-8), and why it
cannot be read, in words a student can act on.

Pure stdlib: used by the grader (`engine.why_unreadable`, `batch`, `bundle`, `cli`) and by the child,
which decodes the grader's private copy of the same bytes with the same function.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_MB = 5  # a .py submission, and a notebook's code cells joined: far above any honest one
MAX_NOTEBOOK_MB = 100  # a notebook may carry its outputs (plots), which are never loaded
LINK = "the file is a symbolic link; hand in the file itself"


@dataclass
class Read:
    """What was read: the bytes (up to the bound and one more), the whole file's sha256, and the
    reason it cannot be graded, if there is one."""

    data: bytes
    sha256: str
    problem: str | None = None


def limit_bytes(path: Path) -> int:
    return (MAX_NOTEBOOK_MB if path.suffix == ".ipynb" else MAX_SOURCE_MB) * 1024 * 1024


def read(path: Path) -> Read:
    """Open the file itself (never what a link points to, never a pipe or a device) and read it once."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        empty = hashlib.sha256(b"").hexdigest()
        if exc.errno == errno.ELOOP:
            return Read(b"", empty, LINK)
        return Read(b"", empty, f"the file cannot be opened ({exc.strerror})")
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return Read(b"", hashlib.sha256(b"").hexdigest(), "it is not a regular file; hand in the file itself")
        # one read of up to the limit (one buffer, not chunks joined: a 100 MB notebook costs 100 MB once),
        # then the rest hashed in chunks and dropped, so the grader never holds more than the limit
        keep, digest = limit_bytes(path) + 1, hashlib.sha256()
        data = fh.read(keep) if os.fstat(fd).st_size < keep else b""  # too large already: only hashed
        digest.update(data)  # the whole file, so a batch knows when it changed
        size = len(data)
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    if size >= keep:  # refused: nothing of it is kept
        return Read(b"", digest.hexdigest(), f"the file is too large to grade ({size / 2**20:.1f} MB; a submission "
                                             f"may be at most {limit_bytes(path) // 2**20} MB): keep data and "
                                             "outputs out of it")
    return Read(data, digest.hexdigest(), None)


_private: set[str] = set()  # the copies this process wrote: only the grader ever wrote to these files


def private_copy(data: bytes, folder: Path) -> Path:
    """Write the bytes that were read and checked to a file of the grader's, for the child to load."""
    path = Path(folder) / "submission.py"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with open(fd, "wb") as fh:
        fh.write(data)
    _private.add(str(path))
    return path


def is_private(path) -> bool:
    return str(path) in _private


CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")  # PEP 263's line


class Undecodable(Exception):
    """Python itself could not read the file as source; the message says why and what to do."""


def decode(data: bytes) -> str:
    """The text Python would compile from these bytes: BOM and coding line honoured, newlines
    normalised (line numbers unchanged). Raises Undecodable with a sentence for the student."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise Undecodable("the file is saved as UTF-16 or UTF-32, which Python cannot run; save it as UTF-8")
    if b"\x00" in data:
        utf16 = any(_mostly_text(data, codec) for codec in ("utf-16-le", "utf-16-be"))  # without a BOM
        kind = ("it looks like UTF-16 text, which Python cannot run" if utf16
                else "it holds null bytes, as a binary file does, not Python source")
        raise Undecodable(f"{kind}; save the file as UTF-8 text")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown coding, a BOM with another coding line, or bad UTF-8 early on
        if not any(CODING.match(line) for line in data.split(b"\n", 2)[:2]):
            encoding = "utf-8"  # no coding line: the decoding below says which byte
        else:
            raise Undecodable(f"its coding line is one Python cannot use ({exc.msg}); remove it and save "
                              "the file as UTF-8") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        said = "" if encoding in ("utf-8", "utf-8-sig") else " (the encoding its coding line declares)"
        raise Undecodable(f"byte {exc.start} (line {line}) is not valid {encoding}{said}; save the file as "
                          "UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _mostly_text(data: bytes, codec: str) -> bool:
    try:
        text = data[:4000].decode(codec)
    except UnicodeDecodeError:
        return False
    return len(text) >= 4 and sum(c.isprintable() or c in "\n\r\t" for c in text) >= 0.95 * len(text)


def is_empty(text: str) -> bool:
    """Nothing but blank lines and comments: Python would run nothing."""
    # line by line, not by tokenize (4.8 MB of comment lines took it 15 s of the grader's own CPU): a line
    # that is not blank and not a comment holds something, if only a syntax error the child will name
    return _HOLDS_CODE.search(text.replace("\r", "\n")) is None


_HOLDS_CODE = re.compile(r"^[ \t\f\v]*[^\s#]", re.MULTILINE)  # a line whose first visible character is not #
