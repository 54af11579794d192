"""Notebooks: the code cells of a `.ipynb` as one source for the child, and where each line came from.

A notebook is data: nbformat reads it here, in the grader's process, and nothing in it runs here. The
child loads the source like a `.py` file, except that it parses cell by cell (`Script.cells`), so a cell
that does not parse is skipped as Jupyter would skip it. Feedback names a line as the student sees it,
"cell 3, line 5", counting every cell from the top of the notebook, markdown cells included.
"""

from __future__ import annotations

import bisect
import functools
import json
import warnings
from dataclasses import dataclass

AGAIN = "open it in Jupyter, save it, and hand it in again"


class NotebookError(ValueError):
    """Why a notebook cannot be read at all, in words for the student."""


@dataclass(frozen=True)
class Script:
    """The code cells joined into one source, with where each came from: a few numbers per cell, never
    one per line (a cell of two million empty lines cost the grader 300 MB as a tuple per line)."""

    source: str
    numbers: tuple[int, ...]  # the notebook's number (1-based) of each code cell, in order
    cells: tuple[tuple[int, int], ...]  # (first, last) line of source of each code cell

    @functools.cached_property
    def _firsts(self) -> list[int]:
        return [first for first, _ in self.cells]

    def origin(self, line: int) -> tuple[int | None, int]:
        """(cell, line in the cell) of a line of source; (None, line) for a line of no cell, which only
        a lying child can name."""
        at = bisect.bisect_right(self._firsts, line) - 1
        if at < 0 or not self.cells[at][0] <= line <= self.cells[at][1]:
            return None, line
        return self.numbers[at], line - self.cells[at][0] + 1


# What is expanded in the grader's own process: a JSON text of this size with this many containers and
# values costs it a few tens of MB at most (an 8 MB notebook of `{}` cost 1.6 GB and 10 s through
# nbformat). A larger one is read by a child under fixed limits that sends back only the code.
IN_PROCESS_BYTES = 4 * 1024 * 1024
IN_PROCESS_CONTAINERS = 20_000  # `{` and `[` anywhere (inside strings too: an upper bound)
IN_PROCESS_VALUES = 200_000  # `,` and `:` anywhere
READER_MB = 1536  # the reading child's address space: a 100 MB notebook of strings fits
READER_CONTAINERS = 2_000_000  # `{` and `[` the reading child expands at most (31 million `{}` took 2.3 GB)
MAX_CODE_CELLS = 10_000  # code cells (each is a few numbers on the way back; 700,000 cost the grader 272 MB)
READER_SECONDS = 60  # its CPU and wall-clock time
MAX_CODE_BYTES = 5 * 1024 * 1024  # the code cells joined (source.MAX_SOURCE_MB)


def read(data: bytes) -> Script:
    """The code cells of a notebook (v4, or older ones nbformat upgrades); NotebookError if unreadable.

    As lenient as Jupyter, which opens a notebook that breaks its schema somewhere (an odd output, a
    missing cell id) with a warning: what grading needs, the cells' types and sources, must be sound.
    Bounded: a notebook larger or more structured than the in-process bounds is read by a child
    process under fixed limits (`read_in_child`), so the caller holds the bytes and the code, never
    the expanded notebook. Blocking (seconds for a large notebook): `grade serve` calls it off its
    event loop.
    """
    if (len(data) > IN_PROCESS_BYTES or data.count(b"{") + data.count(b"[") > IN_PROCESS_CONTAINERS
            or data.count(b",") + data.count(b":") > IN_PROCESS_VALUES):
        return read_in_child(data)
    return _checked(_read(data, in_child=False))


def read_in_child(data: bytes) -> Script:
    """`read`, done by `python -I -m grader.notebook` under fixed limits (memory, CPU, time), which
    answers with the code cells only: at most MAX_CODE_BYTES of code and where each cell came from."""
    import os
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-I", "-m", "grader.notebook"], input=data, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=READER_SECONDS,
                              close_fds=True, cwd=os.sep)
    except subprocess.TimeoutExpired:
        raise NotebookError(f"the notebook took longer than {READER_SECONDS} s to read; {AGAIN}") from None
    if done.returncode != 0 or len(done.stdout) > 4 * MAX_CODE_BYTES:
        raise NotebookError(f"the notebook is too large or too deeply structured to read; keep data and "
                            f"outputs out of it, {AGAIN}")
    return _script_from(done.stdout)


def _checked(script: Script) -> Script:
    """A script within the bounds on code, for both readers."""
    if len(script.numbers) > MAX_CODE_CELLS:
        raise NotebookError(f"the notebook has more than {MAX_CODE_CELLS:,} code cells; merge them")
    if len(script.source.encode("utf-8")) > MAX_CODE_BYTES:
        raise NotebookError(f"the notebook's code cells hold more than {MAX_CODE_BYTES >> 20} MB of code; "
                            "keep data out of them")
    return script


def _script_from(answer: bytes) -> Script:
    """The reading child's answer, checked: {"error": text} or the Script's three fields."""
    try:
        fields = json.loads(answer)
    except (ValueError, RecursionError):
        raise NotebookError(f"the notebook could not be read; {AGAIN}") from None
    if isinstance(fields, dict) and isinstance(fields.get("error"), str):
        raise NotebookError(fields["error"][:300])  # the reader's own words (it never runs student code)
    try:
        source, numbers, cells = fields["source"], fields["numbers"], fields["cells"]
        if not (isinstance(source, str) and isinstance(numbers, list) and isinstance(cells, list)
                and len(numbers) == len(cells) and all(type(n) is int for n in numbers)
                and all(_pair(c) for c in cells)):
            raise ValueError
        if len(numbers) > MAX_CODE_CELLS:
            raise ValueError
        return Script(source, tuple(numbers), tuple(map(tuple, cells)))
    except (ValueError, KeyError, TypeError, RecursionError):
        raise NotebookError(f"the notebook could not be read; {AGAIN}") from None


def _pair(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(type(n) is int for n in value)


def _read(data: bytes, in_child: bool = True) -> Script:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"the notebook is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    try:
        fields = json.loads(text)
    except (ValueError, RecursionError):
        raise NotebookError(f"the notebook is not valid JSON, perhaps truncated or damaged; {AGAIN}") from None
    if not isinstance(fields, dict) or "nbformat" not in fields:
        raise NotebookError("the file is JSON but not a Jupyter notebook (it has no `nbformat` field)")
    if fields["nbformat"] == 4:  # today's format: its cells are read as they are (nbformat's validation of
        return _code_of(fields)  # every output took a minute on 2 million empty ones, and repairs nothing we read)
    if not in_child:  # an older one is upgraded by nbformat, which took 24 s on 9,000 cells: never in the grader
        return read_in_child(data)
    import nbformat  # here, not at the top: ~70 ms that grading a .py file need not pay

    try:
        with warnings.catch_warnings():  # nbformat's notes on what it repaired are not the student's business
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
    except nbformat.ValidationError as exc:
        raise NotebookError(f"the file is not a valid notebook ({_first_line(exc.message)}); {AGAIN}") from None
    except Exception as exc:  # nbformat raises many kinds on odd JSON: a list, a string, version 5
        raise NotebookError(f"the file is not a notebook this grader can read ({_first_line(str(exc))}); "
                            f"{AGAIN}") from None
    return _code_of(notebook)


def _code_of(notebook: dict) -> Script:
    """The code cells of a version-4 notebook, if its kernel runs Python."""
    metadata = notebook.get("metadata")
    kernel = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    language = kernel.get("language", "python") if isinstance(kernel, dict) else "python"
    if not isinstance(language, str) or language.lower() != "python":
        raise NotebookError(f"the notebook's kernel runs {str(language)[:40]}, not Python")
    return _join_code_cells(notebook.get("cells"))


def _join_code_cells(cells) -> Script:
    if not isinstance(cells, list):
        raise NotebookError(f"the file is not a valid notebook (it has no list of cells); {AGAIN}")
    texts, numbers, ranges, count = [], [], [], 0  # count: lines of source so far
    for number, cell in enumerate(cells, start=1):
        source = _source(cell)
        if source is None:
            raise NotebookError(f"cell {number} of the notebook is damaged (no type or no text); {AGAIN}")
        if cell["cell_type"] != "code" or not source.strip():
            continue
        text = source.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.count("\n") + 1
        ranges.append((count + 1, count + lines))
        numbers.append(number)
        texts.append(text)
        count += lines
    return Script("\n".join(texts) + "\n", tuple(numbers), tuple(ranges))


def _source(cell) -> str | None:
    """A cell's text (a string, or a list of strings as on disk); None when the cell is not sound."""
    if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
        return None
    source = cell.get("source")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0][:160] if message.strip() else "no detail"


def main() -> None:
    """The reading child: a notebook on stdin, its code cells (or why not) as JSON on stdout."""
    import resource
    import sys

    for which, value in ((resource.RLIMIT_AS, READER_MB << 20), (resource.RLIMIT_CPU, READER_SECONDS),
                         (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))
    data = sys.stdin.buffer.read()
    try:
        if data.count(b"{") + data.count(b"[") > READER_CONTAINERS:  # refused before anything is expanded
            raise NotebookError(f"the notebook is too large or too deeply structured to read; {AGAIN}")
        script = _checked(_read(data, in_child=True))
        answer = {"source": script.source, "numbers": script.numbers, "cells": script.cells}
    except NotebookError as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": f"the notebook is too large or too deeply structured to read; {AGAIN}"}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
