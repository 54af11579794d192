"""A cluster worker's grading process: `python -m grader.course.runner`, one per Dask worker thread.

Dask runs tasks in threads of the worker's own process, where a sandbox must not be started (one
sandbox at a time per grader process: the orphan sweep counts every new child as the sandbox's, and a
fork of a threaded process is unsafe). So each worker thread owns a runner, started by exec: it
receives the pack once, starts its zygote once, and then grades one submission at a time exactly as a
local batch worker does, children forked from the zygote.

Protocol on the runner's stdin/stdout (length-prefixed JSON frames; both ends are the grader's own):
  -> {"pack": pack}                         <- {"ready": {"fingerprint", "version", "isolation", "host"}}
                                               or {"refused": why}
  -> {"grade": {"data": base64, "suffix", "name", "seed"}}   <- {"report": dict} or {"error": why}
The runner exits on end of input, and as soon as the process that started it is gone.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time

HEADER = struct.Struct(">I")
MAX_FRAME = 256 << 20


def read_frame(stream) -> dict | None:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes")
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def write_frame(stream, message: dict) -> None:
    body = json.dumps(message).encode()
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def _watch_parent(parent: int) -> None:
    """End this runner when the worker that started it is gone (a SIGKILL leaves no one to tell it);
    its zygote dies with it (PDEATHSIG), and the zygote's namespace with the zygote."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def main() -> None:
    parent = os.getppid()
    # the channel gets private descriptors; nothing printed by the grading path can corrupt it
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()

    first = read_frame(requests)
    if not first or "pack" not in first:
        return
    from grader import __version__
    from grader.sandbox import isolation
    from grader.sandbox import zygote as zygotes
    from grader.course.shipping import PackError, discard, unpack

    if first.get("isolation"):
        os.environ["GRADER_ISOLATION"] = first["isolation"]
    try:
        spec = unpack(first["pack"])
        plan = isolation.plan()
    except (PackError, ValueError) as exc:
        write_frame(replies, {"refused": str(exc)})
        return
    zygote = zygotes.start_zygote(plan)
    zygotes.adopt_zygote(zygote) if zygote else zygotes.use_zygote()
    inbox = _private_folder()
    try:
        from grader.judge.grading import grade_submission  # numpy and the checks load while the zygote boots

        write_frame(replies, {"ready": {"fingerprint": spec.fingerprint, "version": __version__,
                                        "isolation": plan.to_dict(), "host": socket.gethostname()}})
        while (request := read_frame(requests)) is not None:
            write_frame(replies, _grade(request["grade"], spec, inbox, grade_submission))
    finally:
        zygotes.use_zygote(False)
        if zygote:
            zygotes.stop_zygote(zygote)
        discard(spec.pack.root)
        discard(inbox)


def _private_folder():
    from pathlib import Path

    from grader.sandbox.scratch import make_folder
    return Path(make_folder("inbox"))  # mode 0700, swept by a later grader if this runner is killed


def _grade(job: dict, spec, inbox, grade_submission) -> dict:
    """One submission, from its bytes: written to a 0600 file in the runner's private folder, graded,
    removed. Any failure here is the grader's, never the student's."""
    suffix = job["suffix"] if job["suffix"] in (".py", ".ipynb") else ".py"
    path = inbox / f"submission{suffix}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64decode(job["data"]))
        report = grade_submission(path, spec, seed=job["seed"], display_name=job["name"])
        return {"report": report.to_dict()}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
