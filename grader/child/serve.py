"""The untrusted side: a child process that loads one submission and executes the grader's steps.

It holds no hidden data: the grader sends inputs, the child runs the student's code on them and sends
back what came out, as plain data (see `wire`). It never judges anything. Started as
`python -I -m grader.child CONFIG_JSON` with the request and response pipes on the
file descriptors named in CONFIG_JSON.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import linecache
import os
import random
import resource
import signal
import sys
import time
import traceback
import types

from grader import source  # pure stdlib; imported before Landlock closes the grader's folder
from grader.child import toplevel


MAX_SKIPPED = 500  # wire.MAX_SKIPPED (wire imports numpy, which loads after the limits)
STACK_MB = 8  # Python's recursion limit fits in it with room to spare (the usual default)
OPEN_FILES = 256  # the child needs a dozen; every honest submission far fewer than this
PROCESSES = 256  # threads count (BLAS, the student's); root is exempt, so seccomp stops fork bombs


def apply_limits(config: dict) -> str | None:
    """Resource limits first, before numpy or student code is imported: every limit the child relies on,
    set from fixed values (never what it inherited, which another process could have lowered or
    raised) and read back. Why one could not be set, or None: the child must then run no student code."""
    mib = 1024 * 1024
    limits = [("RLIMIT_AS", config["memory_mb"] * mib), ("RLIMIT_DATA", config["memory_mb"] * mib),
              ("RLIMIT_STACK", STACK_MB * mib), ("RLIMIT_NOFILE", OPEN_FILES), ("RLIMIT_NPROC", PROCESSES),
              ("RLIMIT_FSIZE", config["file_mb"] * mib), ("RLIMIT_CPU", config["cpu_seconds"]),
              ("RLIMIT_CORE", 0)]
    refusal = None
    for name, value in limits:
        which = getattr(resource, name)
        try:
            resource.setrlimit(which, (value, value))
            if resource.getrlimit(which) != (value, value):
                raise OSError(f"it reads back as {resource.getrlimit(which)}")
        except (ValueError, OverflowError, OSError) as exc:
            refusal = refusal or f"the limit {name} could not be set to {value} ({exc})"
    try:  # orphans of the student's processes stay below us, so the grader can find and end them
        import ctypes
        libc = ctypes.CDLL(None)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: a killed grader takes its children along
        if os.getppid() != config.get("grader_pid", os.getppid()):  # it died before the line above
            os._exit(1)
    except Exception:
        pass
    return refusal


class CappedStream(io.TextIOBase):
    """sys.stdout/sys.stderr for student code: writes through up to a cap, then drops and counts."""

    def __init__(self, fd: int, cap: int):
        self.fd, self.left, self.dropped = fd, cap, 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        if self.left <= 0:
            self.dropped += len(text)
            return len(text)
        data = text.encode("utf-8", "replace")
        keep = data[: self.left]
        self.left -= len(keep)
        self.dropped += len(data) - len(keep)
        try:
            os.write(self.fd, keep)
        except OSError:
            pass
        return len(text)

    def flush(self) -> None:
        pass


class TimeBox(BaseException):
    """Raised by SIGALRM inside a top-level statement that ran past its time box."""


def _on_alarm(signum, frame):
    raise TimeBox()


class Session:
    """One loaded submission and the objects the grader's steps created from it."""

    def __init__(self, config: dict):
        self.module: types.ModuleType | None = None
        self.objects: dict[str, object] = {}
        self.filename = config["display_name"]

    # -------------------------------------------------------------- loading

    def load(self, request: dict) -> dict:
        """Run the file's top level by the rule of `toplevel.plan`; a notebook's cells parse one by one."""
        cells = request.get("cells")  # a notebook: [first, last] line of each code cell
        with open(request["path"], "rb") as fh:
            data = fh.read()
        if cells:  # a notebook's cells, joined by the grader, are UTF-8
            text = data.decode("utf-8", "replace")
        else:
            try:  # as Python reads a file (BOM, coding line), as the grader checked it
                text = source.decode(data)
            except source.Undecodable:  # the grader refuses such a file before it gets here
                text = data.decode("utf-8", "replace")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        # tracebacks name the display name: give linecache the source so they can quote the line
        linecache.cache[self.filename] = (len(text), None, [line + "\n" for line in lines], self.filename)
        for name, module_source in request.get("modules", {}).items():
            install_support_module(name, module_source)
        module = types.ModuleType("submission")
        module.__file__ = self.filename
        sys.modules["submission"] = module
        skipped = []
        box = float(request["statement_seconds"])
        deadline = time.monotonic() + float(request["load_seconds"]) - 1.0
        signal.signal(signal.SIGALRM, _on_alarm)
        import numpy as np
        np.random.seed(0)  # module-level randomness is reproducible too
        random.seed(0)
        for first, last in cells or [(1, len(lines))]:
            try:
                tree = toplevel.parse(lines, first, last, self.filename)
            except SyntaxError as exc:
                line = min(max(exc.lineno or first, first), last)
                if not cells:  # a .py file that does not parse cannot be graded
                    return {"syntax_error": {"line": line, "message": exc.msg,
                                             "text": lines[line - 1].strip()[:200]}}
                skipped.append(self._skip(line, lines, f"SyntaxError: {exc.msg}; the whole cell was skipped"))
                continue
            for stmt in tree.body:
                how, why_not = toplevel.plan(stmt)
                seconds = min(box, deadline - time.monotonic())
                if how == toplevel.BOXED and seconds < 0.05:
                    skipped.append(self._skip(stmt.lineno, lines, "not run: loading had used up its "
                                              f"{float(request['load_seconds']):g} s on earlier statements"))
                    continue
                if how == toplevel.NOT_RUN:
                    skipped.append(self._skip(stmt.lineno, lines, why_not, by_rule=True))
                    continue
                skipped.extend(self._run_statement(stmt, module, lines, seconds if how == toplevel.BOXED else 0))
        self.module = module
        # a fixed cap on the reply, whatever the file: the first MAX_SKIPPED entries (a file of 100,000
        # statements that fail would otherwise send them all), failures before work skipped by rule
        kept = sorted(skipped, key=lambda entry: bool(entry.get("not_run")))[:MAX_SKIPPED]
        return {"skipped": kept, "members": self._describe(request.get("members", {}))}

    def _run_statement(self, stmt: ast.stmt, module: types.ModuleType, lines: list[str], box: float) -> list:
        """Execute one top-level statement (under a time box when box > 0); what to report if it failed."""
        write_progress({"line": stmt.lineno})
        try:
            code = compile(ast.Module(body=[stmt], type_ignores=[]), self.filename, "exec")
            if box:
                signal.setitimer(signal.ITIMER_REAL, box)
            exec(code, module.__dict__)
        except TimeBox:
            return [self._skip(stmt.lineno, lines, f"still running after {box:.1f} s")]
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included: keep loading
            info = _describe_exception(exc, self.filename)
            why = f"{info['type']}: {info['message']}"
            if isinstance(exc, SyntaxError) and exc.filename == self.filename:  # compile's: `return` outside a def
                why = f"SyntaxError: {exc.msg}"  # without the "(file, line N)" of the joined cells
            if isinstance(exc, ModuleNotFoundError):
                why += " (not installed where submissions are graded)"
            return [self._skip(stmt.lineno, lines, why)]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return []

    @staticmethod
    def _skip(line: int, lines: list[str], why: str, by_rule: bool = False) -> dict:
        first = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        entry = {"line": line, "code": first[:120], "why": why}
        return {**entry, "not_run": True} if by_rule else entry

    def _describe(self, members: dict) -> dict:
        """What the grader needs to judge the interface: which names exist and their signatures."""
        out = {}
        for name, methods in members.items():
            value = self.module.__dict__.get(name)
            if value is None:
                out[name] = {"kind": "missing"}
            elif isinstance(value, type):
                out[name] = {"kind": "class",
                             "methods": {m: _signature(getattr(value, m, None), bound=True) for m in methods}}
            elif callable(value):
                out[name] = {"kind": "function", "signature": _signature(value, bound=False)}
            else:
                out[name] = {"kind": type(value).__name__}
        return out

    # -------------------------------------------------------------- steps

    def run(self, request: dict) -> dict:
        import numpy as np
        from grader import wire
        results, steps, index = [], request["steps"], 0
        largest = wire.largest_array(steps)  # what each result may cost is the grader's cap for it
        # the whole reply within the grader's fixed cap too: room kept for every step's bounded exception
        left = wire.reply_cap(steps, largest) - wire.REPLY_BYTES - wire.STEP_BYTES * len(steps)
        while index < len(steps):
            step = steps[index]
            write_progress({"step": index})
            index += 1
            try:
                # encode now: a later step (update) may mutate an array this step returned
                allowance = min(wire.step_allowance(step, largest), wire.STEP_BYTES + max(left, 0))
                plain, size = wire.bounded_plain_sized(self._step(step, np), allowance)
                left -= max(size - wire.STEP_BYTES, 0)
                results.append({"ok": plain})
            except BaseException as exc:  # the student's exception is data, not our failure
                results.append({"raised": _describe_exception(exc, self.filename)})
                if not step.get("continue"):
                    if "group" not in step:
                        break
                    while index < len(steps) and steps[index].get("group") == step["group"]:
                        index += 1  # the rest of this run is skipped; the next run goes on
        return {"results": results}

    def _step(self, step: dict, np):
        do = step["do"]
        args = self._resolve(step.get("args", []))
        if do == "new":
            np.random.seed(step["seed"] % 2**32)
            random.seed(step["seed"])
            self.objects[step["as"]] = self.module.__dict__[step["cls"]](*args)
            return None
        if do == "set":
            setattr(self.objects[step["obj"]], step["attr"], self._resolve(step["value"]))
            return None
        if do == "get":
            return getattr(self.objects[step["obj"]], step["attr"])
        if do == "call":
            return getattr(self.objects[step["obj"]], step["method"])(*args)
        if do == "func":
            value = self.module.__dict__[step["name"]](*args)
            if "as" in step:  # kept for later steps: a cache handed on to backward stays the student's own
                self.objects[step["as"]] = value
            return value
        raise ValueError(f"unknown step {do!r}")

    def _resolve(self, value):
        """Arguments arrive as plain data; {"$ref": name} stands for an object made by an earlier step."""
        if isinstance(value, dict):
            if set(value) == {"$ref"}:
                return self.objects[value["$ref"]]
            if set(value) == {"$ref", "item"}:
                return _item(self.objects[value["$ref"]], value["item"])
            return {k: self._resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        return value


def _item(value, key):
    """Part of what a function returned: a tuple position or a dict key; the value itself for None (a
    function documented to return one thing)."""
    return value if key is None else value[key]


def install_support_module(name: str, source: str) -> None:
    """A module the assignment gives students (`from rnn_utils import *`), made importable by name.
    Its source comes from the grader, so the child reads no file beyond the submission."""
    module = types.ModuleType(name)
    module.__file__ = f"<support {name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    sys.modules[name] = module


def _signature(value, bound: bool):
    if value is None:
        return None
    try:
        sig = inspect.signature(value)
    except (TypeError, ValueError):
        return {"params": None}
    params = [{"name": p.name, "kind": p.kind.name, "default": p.default is not inspect.Parameter.empty}
              for p in sig.parameters.values()]
    if bound and params and params[0]["kind"] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"):
        params = params[1:]  # self
    return {"params": params}


def _describe_exception(exc: BaseException, filename: str) -> dict:
    """Type, message and the innermost line of the student's file, as data."""
    try:
        message = str(exc) if not isinstance(exc, MemoryError) else "ran out of memory"
    except Exception:  # an exception whose __str__ raises still gets described
        message = "(no message)"
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename and isinstance(frame.lineno, int):
            where = {"line": frame.lineno, "code": (frame.line or "").strip()[:120], "function": frame.name[:100]}
    message = message[:300]
    if isinstance(exc, OSError) and exc.errno in _LIMIT_NOTES:  # a limit of ours, said in words
        message = f"{message[:200]} ({_LIMIT_NOTES[exc.errno]})"
    # the grader words it: only it knows how the student sees a line ("cell 3, line 5" in a notebook)
    return {"type": type(exc).__name__[:100], "message": message, "where": where}


_LIMIT_NOTES: dict[int, str] = {}  # errno -> the limit behind it, as the student is told (set by `serve`)


def _note_limits(config: dict) -> None:
    import errno

    _LIMIT_NOTES[errno.EFBIG] = f"a file your code writes may be at most {config['file_mb']} MB"
    if "scratch" in config.get("layers", []):
        full = (f"your code may write at most {config['scratch_mb']} MB in at most {config['scratch_files']} "
                "files and folders, all together")
        _LIMIT_NOTES[errno.ENOSPC] = _LIMIT_NOTES[errno.EDQUOT] = full


# ------------------------------------------------------------------ the loop

_out_fd = -1
_seq = 0  # the grader's number for the request being served; every frame echoes it


def write_progress(marker: dict) -> None:
    from grader import wire
    os.write(_out_fd, wire.progress_frame(_seq, marker.get("step"), marker.get("line")))


def read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    config = json.loads(sys.argv[1])
    del sys.argv[1:]
    serve(config)


def serve(config: dict) -> None:
    """Be the child: limits, isolation, then answer the grader's requests until it closes the pipe.
    Started by exec (`main`) or forked from a zygote (`grader.zygote`), it behaves the same."""
    global _out_fd, _seq
    from grader.child import layers

    refusal = apply_limits(config) or config.get("refusal")  # (the zygote's, when it could not prepare)
    request_fd, _out_fd = config["request_fd"], config["response_fd"]
    try:  # its memory cgroup first, so that every page it ever holds counts
        if refusal is None:
            layers.limit_memory(config)
    except Exception as exc:  # never run student code with less isolation than the report will claim
        refusal = f"isolation could not be applied ({type(exc).__name__}: {exc})"
    import numpy  # noqa: F401  (loaded before student code, under the limits)
    import numpy.random  # noqa: F401  (numpy loads it lazily; every load seeds it)
    from grader import wire

    try:  # the deeper layers, once everything the child itself needs is loaded
        if refusal is None:
            layers.enter(config)
    except Exception as exc:
        refusal = f"isolation could not be applied ({type(exc).__name__}: {exc})"
    _note_limits(config)
    stdout = CappedStream(1, config["output_bytes"])
    sys.stdout = sys.stderr = stdout
    session = Session(config)
    while True:
        try:
            header = read_exact(request_fd, wire.HEADER.size)
        except EOFError:
            os._exit(0)
        try:
            request = wire.loads(read_exact(request_fd, wire.parse_header(header)))
            _seq = request["seq"]
            if refusal:
                raise RuntimeError(refusal)
            handler = session.load if request["op"] == "load" else session.run
            reply = handler(request)
        except Exception as exc:  # outside any student call: the grader's fault, or sabotage of it
            reply = {"internal_error": f"{type(exc).__name__}: {exc}"[:300]}
        reply["dropped_output"] = stdout.dropped
        wire.write_frame(_out_fd, {"seq": _seq, "reply": reply})


if __name__ == "__main__":
    main()
