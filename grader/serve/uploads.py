"""An upload's checks, off the event loop: the multipart body is split, the file's type, size and
emptiness judged and the bytes hashed in a few threads; a notebook is read in a small pool of processes
(spawned, never forked from the server's threads; they end with it; one that takes over SECONDS is
killed), so one student's large notebook never makes the service wait for everyone. Bounded: WORKERS
checks run and QUEUE wait; past that the upload is refused as "busy" (it costs no attempt)."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath

from grader.report import clean
from grader.serve.store import KINDS

WORKERS = 2
QUEUE = 8
MAX_PARTS = 4


SECONDS = 60.0  # a check that takes longer is stopped (its processes killed) and the file refused


class Busy(Exception):
    """Too many uploads are being checked right now (or the pool was restarted under this one)."""


@dataclass
class Checked:
    problem: str  # in words for the student; "" when the file may be stored
    too_big: bool = False
    name: str = ""  # as shown to people: the base name, cleaned
    suffix: str = ""
    content: bytes = b""
    sha256: str = ""


def split_form(body: bytes, content_type: str) -> tuple[str, bytes] | None:
    """(file name, bytes) of the part named `file` of a multipart/form-data body, split in memory (never
    spooled to disk); ValueError when it is not one. (The form's token is in its URL, checked before.)"""
    from python_multipart.multipart import MultipartParser, parse_options_header

    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise ValueError("not multipart/form-data")
    parts: list[dict] = []
    header = {"field": bytearray(), "value": bytearray()}

    def header_begin():
        header["field"], header["value"] = bytearray(), bytearray()

    def header_end():
        parts[-1]["headers"][bytes(header["field"]).lower()] = bytes(header["value"])

    callbacks = {
        "on_part_begin": lambda: parts.append({"headers": {}, "data": bytearray()}),
        "on_part_data": lambda data, start, end: parts[-1]["data"].extend(data[start:end]),
        "on_header_begin": header_begin,
        "on_header_field": lambda data, start, end: header["field"].extend(data[start:end]),
        "on_header_value": lambda data, start, end: header["value"].extend(data[start:end]),
        "on_header_end": header_end,
    }
    parser = MultipartParser(options[b"boundary"], callbacks)
    parser.write(body)
    parser.finalize()
    if len(parts) > MAX_PARTS:
        raise ValueError("too many parts")
    upload = None
    for part in parts:
        _, disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disposition and name == "file":
            upload = (disposition[b"filename"].decode("utf-8", "replace"), bytes(part["data"]))
    return upload


def check_body(body: bytes, content_type: str, limit: int, read_notebook: bool = True) -> Checked:
    """Everything about an upload that takes CPU but a notebook's reading, which `read_notebook` adds."""
    try:
        upload = split_form(body, content_type)
    except Exception:  # python-multipart's errors: a malformed body, said plainly
        return Checked("The upload could not be read (it is not a form with a file); hand in from the page.")
    if upload is None or not upload[0]:
        return Checked("Choose a file to hand in (.py or .ipynb).")
    name, content = upload
    problem, suffix = check_file(name, content, limit, read_notebook)
    if problem:
        return Checked(problem, too_big=len(content) > limit)
    shown = clean(PurePosixPath(name.replace("\\", "/")).name)[:100] or f"submission{suffix}"
    return Checked("", name=shown, suffix=suffix, content=content, sha256=hashlib.sha256(content).hexdigest())


def check_file(name: str, content: bytes, limit: int, read_notebook: bool = True) -> tuple[str, str]:
    """(what is wrong in words, or "", the stored suffix): type, size, emptiness, a notebook that opens."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if suffix not in KINDS:
        what = clean(suffix) or "a file without extension"
        return f"Hand in a Python file (.py) or a Jupyter notebook (.ipynb), not {what}.", ""
    if len(content) > limit:
        return f"The file is larger than {limit / 1e6:g} MB, the most this course accepts.", suffix
    if not content.strip():
        return "The file is empty: hand in the file with your code.", suffix
    if suffix == ".ipynb" and read_notebook:
        return notebook_problem(content), suffix
    return "", suffix


def notebook_problem(content: bytes) -> str:
    """What is wrong with a notebook, in words, or "" (runs in a pool process: nbformat takes seconds on
    some files)."""
    from grader import notebook

    try:
        notebook.read(content)
    except notebook.NotebookError as exc:
        return f"This notebook cannot be read: {clean(str(exc))[:300]}"
    except Exception:  # nbformat's own errors: still the file's fault, said plainly
        return "This notebook cannot be read (it is not a valid .ipynb); save it again from Jupyter and hand it in."
    return ""


def _ready(parent: int) -> None:
    """A pool process ends when its server does (even by kill -9). Not PR_SET_PDEATHSIG: that follows the
    thread that spawned the process, which may end long before the server (a test client's thread)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="watch the server").start()
    import grader.notebook  # noqa: F401  (imported once, before the first upload waits for it)


class Checker:
    """The bounded checks of uploads (one per service): the form's split, the file's type and size and its
    hash in WORKERS threads (bytes operations that release the GIL), a notebook's reading in WORKERS
    spawned processes, started at the first notebook."""

    def __init__(self, workers: int = WORKERS, queue: int = QUEUE):
        self.workers, self.slots, self.pool = workers, queue, None
        self.threads = ThreadPoolExecutor(workers, thread_name_prefix="upload-check")
        self.waiting = 0

    def start(self) -> None:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_ready, initargs=(os.getpid(),))

    async def check(self, body: bytes, content_type: str, limit: int) -> Checked:
        """The checks' verdict; Busy when the pool is full or was restarted while this one waited."""
        from concurrent.futures.process import BrokenProcessPool

        if self.waiting >= self.workers + self.slots:
            raise Busy()
        self.waiting += 1
        try:
            checked = await asyncio.wrap_future(self.threads.submit(check_body, body, content_type, limit, False))
            if checked.problem or checked.suffix != ".ipynb":
                return checked
            self.start()
            pool = self.pool
            try:
                future = pool.submit(notebook_problem, checked.content)
                problem = await asyncio.wait_for(asyncio.wrap_future(future), SECONDS)
            except asyncio.TimeoutError:
                self.restart(pool)  # a file nbformat cannot finish with: its process is killed, not waited for
                return Checked(f"This file took over {SECONDS:g} s to read, so it cannot be graded; save it again "
                               "(a notebook: from Jupyter, with its outputs cleared) and hand it in.")
            except BrokenProcessPool:  # a process died (killed with the pool, or by the system): not this file's
                self.restart(pool)
                raise Busy() from None
            return Checked(problem) if problem else checked
        finally:
            self.waiting -= 1

    def restart(self, pool) -> None:
        if pool is not self.pool:
            return  # already replaced
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        self.threads.shutdown(wait=False, cancel_futures=True)
