"""Grading one submission, in three phases as pytest has setup, call and teardown: load the file (judged
on its own, before any check), run every check of the spec, assemble the report."""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader import __version__, notebook, source
from grader.sandbox import isolation
from grader.judge.checks import MAX_OUTPUT, run_check
from grader.judge.checks.construction import discover_layout
from grader.judge.checks.interface import judge_load
from grader.judge.context import LOOK_AT, Context
from grader.report import ERROR, PASSED, CheckResult, Report
from grader.sandbox.process import Sandbox
from grader.sandbox.scratch import make_folder, remove_tree
from grader.judge.spec import Spec


def grade_submission(path: str | Path, spec: Spec, seed: int | None = None,
                     display_name: str | None = None, sandbox: Sandbox | None = None) -> Report:
    """Grade one `.py` file or notebook against a spec; never raises for anything the submission does.

    `sandbox`: a child already started for this file (`prestart`), so that its start-up overlaps the
    caller's own imports; it is used for the first load, or closed."""
    started = time.monotonic()
    path = Path(path)
    read = source.read(path)  # once, never through a link: the child loads a private copy of these bytes
    data = read.data
    ctx = Context(spec=spec, path=path, seed=spec.seed if seed is None else seed,
                  display_name=display_name or path.name, plan=sandbox.plan if sandbox else isolation.plan(),
                  prestarted=sandbox)
    results: list[CheckResult] = []
    unreadable = read.problem or why_unreadable(path, data)
    # where a notebook's cells (or the private copy) go; removed as the child's own scratch is
    scratch = make_folder("cells")
    if not unreadable and path.suffix == ".ipynb":
        unreadable = _read_notebook(ctx, data, Path(scratch))
    elif not unreadable:
        _load_private_copy(ctx, data, Path(scratch))
    ctx.deadline = started + spec.limits().submission_seconds  # held inside every exchange, not only here
    try:
        ctx.load = {"unreadable": unreadable} if unreadable else ctx.open()  # phase 1: load, judged alone
        ctx.load_verdict = loaded = judge_load(ctx)
        if spec.model and not loaded.fatal:  # how the submission keeps its vectors (layout.py)
            discover_layout(ctx)
        for check in spec.checks:  # phase 2: the checks
            if loaded.fatal and check["kind"] != "interface":
                results.append(CheckResult(check["name"], float(check["points"]), ERROR,
                                           f"Not run: {loaded.fatal}"))
                continue
            if ctx.out_of_time():
                results.append(CheckResult(check["name"], float(check["points"]), ERROR,
                                           f"Not run: {ctx.budget_text()}; {LOOK_AT['budget']}"))
                continue
            result = run_check(ctx, check)
            if ctx.out_of_time() and result.status != PASSED:  # cut short: its evidence is incomplete
                result.status = ERROR
                if ctx.budget_text() not in result.output:
                    result.output = (f"Stopped: {ctx.budget_text()}, during this check; {LOOK_AT['budget']}. "
                                     f"Before that: {result.output}")[:MAX_OUTPUT]
            results.append(result)
    finally:
        ctx.close()
        if ctx.prestarted is not None:  # never used: the file could not be read
            ctx.prestarted.close()
        remove_tree(scratch)
    for check, result in zip(spec.checks, results):
        result.visibility = spec.check_visibility(check)
    report = Report(spec_id=spec.id, spec_version=spec.version, submission_name=ctx.display_name,
                    sha256=read.sha256, grader_version=__version__, seed=ctx.seed,
                    tests=results, execution_time=time.monotonic() - started, printed_bytes=ctx.printed_bytes,
                    spec_sha256=spec.fingerprint,
                    visibility=spec.visibility("results"), stdout_visibility=spec.visibility("stdout"),
                    isolation=ctx.plan.to_dict())
    faulted = [r.name for r in results if r.fault == "grader"]
    if faulted and ctx.load_verdict.status == "graded":  # the grader's own failure: not scored, graded again
        report.status = "error"
        report.notes.insert(0, f"Not scored yet: the grader itself failed in {', '.join(faulted)}. This is not a "
                               "problem with your code and costs no points; it is graded again on the next run.")
    elif ctx.load_verdict.status != "graded":  # phase 3: the report
        report.status = ctx.load_verdict.status
        report.notes.insert(0, f"{'Ungradable' if report.status == 'ungradable' else 'Not graded'}: "
                               f"{ctx.load_verdict.fatal}")
    if ctx.dropped_bytes:
        report.notes.append(f"Your code printed {ctx.printed_bytes:,} bytes; output beyond "
                            f"{spec.limits().output_kb} KiB per run was dropped. This does not affect the score.")
    if os.environ.get("GRADER_VALIDATE_REPORTS"):  # the test suite's check on every report (tests/conftest.py)
        from grader.report import validate
        validate(report.to_dict())
    return report


def _read_notebook(ctx: Context, data: bytes, scratch: Path) -> str | None:
    """Give the child a notebook's code cells as a Python file; why the notebook is unreadable, if it is."""
    try:
        ctx.script = notebook.read(data)
    except notebook.NotebookError as exc:
        return str(exc)
    scratch.chmod(0o755)  # the child may run as another user; the file holds only the student's own code
    ctx.path = scratch / "cells.py"
    ctx.path.write_text(ctx.script.source, encoding="utf-8")
    if ctx.prestarted is not None:  # started for the .ipynb itself, which it can neither parse nor read
        ctx.prestarted.close()
        ctx.prestarted = None
    return None


def _load_private_copy(ctx: Context, data: bytes, scratch: Path) -> None:
    """The child loads exactly the bytes that were hashed and checked, from a file of the grader's:
    never a second open of a path the student controls. A child started early on such a copy
    (`cli`'s) is kept when its copy holds the same bytes."""
    early = ctx.prestarted
    if early is not None and source.is_private(early.path):
        try:
            if Path(early.path).read_bytes() == data:
                ctx.path = Path(early.path)
                return
        except OSError:
            pass
    if early is not None:
        early.close()
        ctx.prestarted = None
    scratch.chmod(0o755)  # the child may run as another user; the file holds only the student's own code
    ctx.path = source.private_copy(data, scratch)


def why_unreadable(path: Path, data: bytes) -> str | None:
    """Why a file cannot be read as a submission at all, in words for the student; None if it can.
    A .py file is read as Python reads it (`source.decode`: a BOM, a coding line)."""
    if path.suffix == ".ipynb":
        return None  # notebook.read says what is wrong with a notebook
    if path.suffix != ".py":
        return f"a submission must be a .py file or a .ipynb notebook, not {path.suffix or 'a file without extension'}"
    try:
        text = source.decode(data)
    except source.Undecodable as exc:
        return str(exc)
    if source.is_empty(text):
        return "the file is empty (it holds no Python code): hand in the file with your code"
    return None
