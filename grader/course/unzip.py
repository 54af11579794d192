"""A course platform's bulk download as a zip: unpacked into a private folder that the batch then
grades like any folder. Only regular files, under names that stay inside the folder, within limits."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

MOST_FILES = 20_000
MOST_BYTES = 1 << 30  # unpacked, all files together
MOST_FILE_BYTES = 64 << 20


class ZipProblem(ValueError):
    """Why a zip cannot be unpacked, in words for course staff."""


def unpack(archive: Path, into: Path) -> list[str]:
    """Unpack `archive` into the folder `into`; return the members left out (links, unsafe names)."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ZipProblem(f"{archive.name} is not a zip file that can be read ({exc})") from None
    skipped, total = [], 0
    with bundle:
        members = bundle.infolist()
        if len(members) > MOST_FILES:
            raise ZipProblem(f"{archive.name} holds {len(members)} files; at most {MOST_FILES} are unpacked")
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            kind = stat.S_IFMT(member.external_attr >> 16)
            unsafe = name.is_absolute() or ".." in name.parts or not name.parts
            if member.is_dir():
                continue
            if unsafe or kind not in (0, stat.S_IFREG):  # a link could name any file the grader can read
                skipped.append(member.filename)
                continue
            total += member.file_size
            if member.file_size > MOST_FILE_BYTES or total > MOST_BYTES:
                raise ZipProblem(f"{archive.name} unpacks to more than the limit ({MOST_FILE_BYTES >> 20} MB "
                                 f"a file, {MOST_BYTES >> 20} MB in all); unpack it yourself and grade the folder")
            target = into.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, open(target, "xb") as sink:
                left = MOST_FILE_BYTES + 1  # the sizes in the zip's directory may lie
                while chunk := source.read(min(1 << 20, left)):
                    sink.write(chunk)
                    left -= len(chunk)
                    if left <= 0:
                        raise ZipProblem(f"{member.filename} in {archive.name} is larger than its zip entry says")
    return skipped
