"""Grading one submission: load it once, run every check of the spec, assemble the report.

The engine owns the sandbox. A check asks it to run steps (construct, set, call, get) and gets back an
`Outcome`: the values that came back, or what went wrong in words a student can act on. When a call
kills the child (hang, crash, exit), the next check gets a fresh child with the submission reloaded.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import __version__, isolation, notebook, source
from grader.layout import arrange
from grader.report import ERROR, PASSED, CheckResult, Report
from grader.sandbox import Failure, Sandbox, use_zygote, zygote_in_use
from grader.scratch import remove_tree
from grader.spec import Spec

ACTIONS = {"new": "constructing the model", "set": "setting an attribute", "get": "reading an attribute"}


LOOK_AT = {
    "timeout": "look for a loop that never ends or work that grows too fast with the sequence length",
    "exit": "look for exit(), sys.exit() or os._exit() in it or in what it calls",
    "crash": "this comes from ctypes or a C extension misused, not from plain numpy code",
    "protocol": "wrote into the grader's channel (file descriptors it did not open); its results were discarded",
    "budget": "look for calls that are slow even on small inputs",
}


@dataclass
class Raised:
    """A step (run with "continue") whose call raised: type, message, and where in the student's file."""

    info: dict

    @property
    def type(self) -> str:
        return self.info["type"]


@dataclass
class Outcome:
    """What a run of steps produced: one value per completed step, or the problem that stopped it."""

    values: list
    problem: str | None = None
    died: bool = False  # the child hung, crashed or exited: the check should stop probing

    @property
    def ok(self) -> bool:
        return self.problem is None


def call_step(obj: str, method: str, *args, keep_going: bool = False) -> dict:
    """A step that calls obj.method(*args); with keep_going, a raise is recorded and the run goes on."""
    return {"do": "call", "obj": obj, "method": method, "args": list(args), "continue": keep_going}


def func_step(name: str, args: list, keep: str | None = None, keep_going: bool = False) -> dict:
    """A step that calls the module function name(*args); `keep` names its result for later steps
    ({"$ref": keep, "item": k} passes part of it on, as a cache to a backward function)."""
    step = {"do": "func", "name": name, "args": list(args), "continue": keep_going}
    if keep:
        step["as"] = keep
    return step


def get_step(obj: str, attr: str, keep_going: bool = False) -> dict:
    """A step that reads obj.attr."""
    return {"do": "get", "obj": obj, "attr": attr, "continue": keep_going}


def describe_step(step: dict) -> str:
    if step["do"] == "call":
        return f"{step['method']}()"
    if step["do"] == "func":
        return f"{step['name']}()"
    if step["do"] in ("set", "get"):
        return f"{ACTIONS[step['do']]} `{step['attr']}`"
    return ACTIONS.get(step["do"], step["do"])


@dataclass
class Context:
    """Everything a check needs: the spec, the seed, and a way to run steps in the submission."""

    spec: Spec
    path: Path  # the Python source the child loads (for a notebook, its code cells joined)
    seed: int
    display_name: str
    script: notebook.Script | None = None  # a notebook's cells and where its lines came from
    load: dict = field(default_factory=dict)
    load_verdict: object = None  # interface_check.LoadVerdict: the load phase, judged before any check
    cache: dict = field(default_factory=dict)
    plan: isolation.Plan | None = None  # the isolation layers every child of this submission gets
    _sandbox: Sandbox | None = None
    prestarted: Sandbox | None = None  # a child the caller started early, used by the first `open`
    printed_bytes: int = 0
    dropped_bytes: int = 0
    timed_out: dict = field(default_factory=dict)  # call -> why: a hang costs its limit once, not per check
    zygote_started: bool = False  # by `fresh`, for this submission only
    layout: dict = field(default_factory=dict)  # parameter (or "output") -> the submission's own vector orientation
    deadline: float | None = None  # time.monotonic() when the whole submission's time is up

    # ---------------------------------------------------------------- the child

    def open(self) -> dict:
        """Start a child and load the submission; returns the load reply or {"failure": Failure}."""
        self._sandbox, self.prestarted = self.prestarted, None
        if self._sandbox is None:
            self._sandbox = Sandbox(str(self.path), self.spec.limits(), self.display_name, plan=self.plan)
            self._sandbox.start()
        self._sandbox.deadline = self.deadline  # every exchange ends when the submission's time does
        exchange = self._sandbox.load(self.spec.members(), self.script.cells if self.script else None,
                                      self.spec.support_modules())
        if exchange.failure:
            self.close()
            return {"failure": exchange.failure}
        if not well_formed_load(exchange.reply):
            self.close()
            return {"failure": Failure("protocol", None, "wrote into the grader's channel while loading")}
        return exchange.reply

    def close(self) -> None:
        """End the current child (if any) and count what it printed: once per child, here only."""
        if self._sandbox is not None:
            box, self._sandbox = self._sandbox, None
            box.close()
            self.printed_bytes += box.printed_bytes + box.child_dropped
            self.dropped_bytes += box.dropped_bytes + box.child_dropped

    def run(self, steps: list[dict]) -> Outcome:
        return self._run([steps])[0]

    def run_each(self, runs: list[list[dict]]) -> list[Outcome]:
        """What `run` gives for each of several independent runs (each builds its own model), in one
        round trip instead of one each: the child runs them in turn, a raise ending only its own run.
        If the child hangs, crashes or exits, the run it was in gets that outcome, the runs before it
        are run again on their own (their results went down with the child) and the runs after it are
        not run: a check stops at its first failing configuration."""
        return self._run(runs)

    def run_fresh(self, runs: list[list[dict]]) -> list[Outcome]:
        """What `run_each` gives, in a new child that has loaded the file and seen nothing else: no probe,
        no earlier call, no gradient it handed out. Re-runs of the student's code that decide a score run
        here, so a forward cannot answer them from memory of what it was asked before. The current child
        is left as it is."""
        with self.fresh():
            return self._run(runs)

    @contextlib.contextmanager
    def fresh(self):
        """Steps run inside this block go to a new child that has loaded the file and seen nothing else;
        the current child is kept for after it. Children come from a zygote where the machine has one
        (a fork instead of a new interpreter): fresh children are many where forward is wrong."""
        if not zygote_in_use() and "namespaces" in self.plan.active:
            use_zygote(True)
            self.zygote_started = True
        main, self._sandbox = self._sandbox, None
        try:
            yield
        finally:
            self.close()
            self._sandbox = main

    def _run(self, runs: list[list[dict]]) -> list[Outcome]:
        flat = runs[0] if len(runs) == 1 else [dict(step, group=g) for g, steps in enumerate(runs) for step in steps]
        for what in map(describe_step, flat):
            if what in self.timed_out:
                if len(runs) > 1:  # only the runs that need that call are refused
                    return [self.run(steps) for steps in runs]
                return [Outcome([], f"{what} {self.timed_out[what]} earlier, so it was not called again", died=True)]
        if self.out_of_time():
            self.close()
            return [Outcome([], f"{self.budget_text()}; {LOOK_AT['budget']}", died=True) for _ in runs]
        if self._sandbox is not None and not self._sandbox.alive:
            self.close()  # it died between calls (a thread of the student's, say): start afresh
        if self._sandbox is None:
            reply = self.open()
            if "failure" in reply:
                if reply["failure"].kind == "budget":
                    return [Outcome([], f"{self.budget_text()}; {LOOK_AT['budget']}", died=True) for _ in runs]
                return [Outcome([], "your file could not be loaded again after an earlier failure", died=True)
                        for _ in runs]
        exchange = self._sandbox.run(flat)
        if exchange.failure:
            failed = self._failure(exchange.failure, flat)
            if len(runs) == 1:
                return [failed]
            group = flat[exchange.failure.step]["group"] if exchange.failure.step is not None else 0
            return ([self.run(steps) for steps in runs[:group]] + [failed] +
                    [Outcome([], "not run after an earlier configuration failed", died=True)
                     for _ in runs[group + 1:]])
        split = split_results(exchange.reply.get("results"), runs)
        if split is None:
            self.close()
            return [Outcome([], f"your code {LOOK_AT['protocol']}", died=True) for _ in runs]
        return [self._outcome(steps, results) for steps, results in zip(runs, split)]

    def _failure(self, failure, steps: list[dict]) -> Outcome:
        """The outcome of a run whose child hung, crashed, exited or broke the protocol."""
        self.close()
        if failure.kind == "internal":
            return Outcome([], "the grader's child process failed outside your code "
                               f"({failure.detail}); this is not your fault, please tell course staff", died=True)
        what = describe_step(steps[failure.step]) if failure.step is not None else "your code"
        if failure.kind == "protocol":
            return Outcome([], f"{what} {LOOK_AT['protocol']}", died=True)
        if failure.kind == "budget":
            return Outcome([], f"{what} {failure.detail}; {LOOK_AT['budget']}", died=True)
        if failure.kind == "timeout" and failure.step is not None:
            self.timed_out[what] = failure.detail
        return Outcome([], f"{what} {failure.detail}; {LOOK_AT.get(failure.kind, '')}".rstrip("; "), died=True)

    def _outcome(self, steps: list[dict], results: list[dict]) -> Outcome:
        for result in results:
            if "raised" in result:
                result["raised"]["text"] = self.raised_text(result["raised"])
        values = [r["ok"] for r in results if "ok" in r]
        for step, result in zip(steps, results):
            if "raised" in result and not step.get("continue"):
                raised = result["raised"]
                text = raised["text"]
                if raised["type"] == "MemoryError":
                    text += f"; submissions may use at most {self.spec.limits().memory_mb} MB"
                return Outcome(values, f"{describe_step(step)} raised {text}")
        return Outcome([r["ok"] if "ok" in r else Raised(r["raised"]) for r in results])

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def budget_text(self) -> str:
        return (f"grading stopped after {self.spec.limits().submission_seconds:g} s, the time limit for a "
                "whole submission")

    # ---------------------------------------------------------------- locations

    def where(self, line: int) -> str:
        """A line of what the child loaded, as the student sees it: "line 12", or "cell 3, line 5"."""
        return self.places([line])

    def places(self, lines: list[int], most: int = 8) -> str:
        """Several lines, grouped by cell: "cell 5, lines 1, 5; cell 7, line 1", or "lines 3, 9"."""
        groups: list[tuple[int | None, list[int]]] = []
        for line in lines[:most]:
            cell, number = self.script.origin(line) if self.script else (None, line)
            if groups and groups[-1][0] == cell:
                groups[-1][1].append(number)
            else:
                groups.append((cell, [number]))
        text = "; ".join(("" if cell is None else f"cell {cell}, ") + ("line " if len(numbers) == 1 else "lines ")
                         + ", ".join(map(str, numbers)) for cell, numbers in groups)
        return text + (f" and {len(lines) - most} more" if len(lines) > most else "")

    def skipped_text(self, skipped: list[dict], graded: bool) -> str:
        """What of the top level did not run: failures with their reason, work skipped by rule briefly."""
        failed = [s for s in skipped if not s.get("not_run")]
        by_rule = [s for s in skipped if s.get("not_run")]
        text = ""
        if failed:
            shown = "; ".join(f"{self.where(s['line'])} (`{s['code']}`): {s['why']}" for s in failed[:5])
            more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
            still = " (your definitions were still graded)" if graded else ""
            text += f" Top-level code that failed and was skipped while loading{still}: {shown}{more}."
        if by_rule:
            kinds: dict[str, list[int]] = {}
            for entry in by_rule:
                kinds.setdefault(entry["why"], []).append(entry["line"])
            shown = ", ".join(f"{kind} ({self.places(lines)})" for kind, lines in kinds.items())
            text += f" Skipped, never run when grading, as top-level work: {shown}."
        return text

    def raised_text(self, info: dict) -> str:
        """An exception the student's code raised: type, message and where, in one sentence."""
        text = f"{info['type']}: {info['message']}"[:300]
        where = info.get("where")
        if where:
            text += f" ({self.where(where['line'])}, in {where['function']}: {where['code']})"
        return text

    # ---------------------------------------------------------------- hidden data

    def rng(self, *salt) -> np.random.Generator:
        """A generator per (seed, check, probe): checks never depend on each other's draws."""
        words = [self.seed & 0xFFFFFFFF] + [zlib.crc32(str(s).encode()) for s in salt]
        return np.random.default_rng(words)

    def hidden_weights(self, rng: np.random.Generator, config: dict) -> dict[str, np.ndarray]:
        low, high = self.spec.model.get("hidden_weights", {"low": -0.6, "high": 0.6}).values()
        return {name: rng.uniform(low, high, shape) for name, shape in self.spec.parameter_shapes(config).items()}

    def hidden_input(self, rng: np.random.Generator, config: dict) -> np.ndarray:
        return rng.normal(0.0, 1.0, self.spec.shape(self.spec.model["input"]["shape"], config))

    def new_model(self, config: dict, weights: dict | None, name: str = "m", seed: int = 0) -> list[dict]:
        """Steps that build a model and set its weights as attributes (never through set_weights)."""
        # the student's own draws (np.random in __init__) follow the report's seed too
        steps = [{"do": "new", "cls": self.spec.model["class"], "args": self.spec.constructor_args(config),
                  "as": name, "seed": zlib.crc32(f"{self.seed}/{seed}".encode())}]
        for attr, value in (weights or {}).items():  # a vector kept as a column gets a column (layout.py)
            steps.append({"do": "set", "obj": name, "attr": attr, "value": arrange(value, self.layout.get(attr))})
        return steps

    def describe(self, config: dict) -> str:
        """A configuration as the student reads it: sizes by name, T for the sequence length."""
        return ", ".join(f"{'T' if k == 'steps' else k}={v}" for k, v in config.items())


def split_results(results, runs: list[list[dict]]) -> list[list[dict]] | None:
    """The child's results of one or several runs, one list per run, each well formed; None otherwise."""
    if not isinstance(results, list):
        return None
    split, at = [], 0
    for steps in runs:
        mine = []
        for step in steps:
            if at >= len(results):
                break
            mine.append(results[at])
            at += 1
            if isinstance(mine[-1], dict) and "raised" in mine[-1] and not step.get("continue"):
                break
        split.append(mine)
    if at != len(results) or not all(well_formed_results(r, s) for r, s in zip(split, runs)):
        return None
    return split


def well_formed_results(results, steps: list[dict]) -> bool:
    """One result per step, each {"ok": value} or {"raised": description}; a run may stop early only at
    a step that raised without "continue". Anything else was not written by the child's own loop."""
    if not isinstance(results, list) or not results and steps or len(results) > len(steps):
        return False
    for index, result in enumerate(results):
        if not isinstance(result, dict) or len(result) != 1:
            return False
        if "raised" in result:
            if index < len(results) - 1 and not steps[index].get("continue"):
                return False
            info = result["raised"]
            if not (isinstance(info, dict) and all(isinstance(info.get(k), str) for k in ("type", "message"))
                    and _where_ok(info.get("where"))):
                return False
        elif "ok" not in result:
            return False
    if len(results) < len(steps):
        return "raised" in results[-1] and not steps[len(results) - 1].get("continue")
    return True


def _where_ok(where) -> bool:
    return where is None or isinstance(where, dict) and isinstance(where.get("line"), int) and all(
        isinstance(where.get(k), str) for k in ("code", "function"))


def well_formed_load(reply) -> bool:
    """A load reply is a syntax error, or the skipped statements and a description of the members."""
    if not isinstance(reply, dict):
        return False
    if "syntax_error" in reply:
        err = reply["syntax_error"]
        return isinstance(err, dict) and isinstance(err.get("line"), int) and all(
            isinstance(err.get(k), str) for k in ("message", "text"))
    skipped, members = reply.get("skipped"), reply.get("members")
    if not isinstance(skipped, list) or not isinstance(members, dict):
        return False
    if not all(isinstance(s, dict) and isinstance(s.get("line"), int) and isinstance(s.get("code"), str)
               and isinstance(s.get("why"), str) and isinstance(s.get("not_run", False), bool) for s in skipped):
        return False
    for member in members.values():
        if not isinstance(member, dict) or not isinstance(member.get("kind"), str):
            return False
        methods = member.get("methods", {})
        if not isinstance(methods, dict) or not all(m is None or _signature_ok(m) for m in methods.values()):
            return False
        if "signature" in member and not _signature_ok(member["signature"]):
            return False
    return True


def _signature_ok(signature) -> bool:
    params = signature.get("params") if isinstance(signature, dict) else ()
    return params is None or isinstance(params, list) and all(
        isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("kind"), str) for p in params)


def grade_submission(path: str | Path, spec: Spec, seed: int | None = None,
                     display_name: str | None = None, sandbox: Sandbox | None = None) -> Report:
    """Grade one `.py` file or notebook against a spec; never raises for anything the submission does.

    `sandbox`: a child already started for this file (`prestart`), so that its start-up overlaps the
    caller's own imports; it is used for the first load, or closed."""
    from grader import checks, interface_check

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
    scratch = tempfile.mkdtemp(prefix="grader-cells-")
    if not unreadable and path.suffix == ".ipynb":
        unreadable = _read_notebook(ctx, data, Path(scratch))
    elif not unreadable:
        _load_private_copy(ctx, data, Path(scratch))
    ctx.deadline = started + spec.limits().submission_seconds  # held inside every exchange, not only here
    try:
        ctx.load = {"unreadable": unreadable} if unreadable else ctx.open()  # phase 1: load, judged alone
        ctx.load_verdict = loaded = interface_check.judge_load(ctx)
        if spec.model and not loaded.fatal:  # how the submission keeps its vectors (layout.py)
            checks.discover_layout(ctx)
        for check in spec.checks:  # phase 2: the checks
            if loaded.fatal and check["kind"] != "interface":
                results.append(CheckResult(check["name"], float(check["points"]), ERROR,
                                           f"Not run: {loaded.fatal}"))
                continue
            if ctx.out_of_time():
                results.append(CheckResult(check["name"], float(check["points"]), ERROR,
                                           f"Not run: {ctx.budget_text()}; {LOOK_AT['budget']}"))
                continue
            result = checks.run_check(ctx, check)
            if ctx.out_of_time() and result.status != PASSED:  # cut short: its evidence is incomplete
                result.status = ERROR
                if ctx.budget_text() not in result.output:
                    result.output = (f"Stopped: {ctx.budget_text()}, during this check; {LOOK_AT['budget']}. "
                                     f"Before that: {result.output}")[: checks.MAX_OUTPUT]
            results.append(result)
    finally:
        ctx.close()
        if ctx.prestarted is not None:  # never used: the file could not be read
            ctx.prestarted.close()
        if ctx.zygote_started:
            use_zygote(False)
        remove_tree(scratch)
    for check, result in zip(spec.checks, results):
        result.visibility = spec.check_visibility(check)
    report = Report(spec_id=spec.id, spec_version=spec.version, submission_name=ctx.display_name,
                    sha256=read.sha256, grader_version=__version__, seed=ctx.seed,
                    tests=results, execution_time=time.monotonic() - started, printed_bytes=ctx.printed_bytes,
                    spec_sha256=spec.fingerprint,
                    visibility=spec.visibility("results"), stdout_visibility=spec.visibility("stdout"),
                    isolation=ctx.plan.to_dict())
    if ctx.load_verdict.status != "graded":  # phase 3: the report
        report.status = ctx.load_verdict.status
        report.notes.insert(0, f"{'Ungradable' if report.status == 'ungradable' else 'Not graded'}: "
                               f"{ctx.load_verdict.fatal}")
    if ctx.dropped_bytes:
        report.notes.append(f"Your code printed {ctx.printed_bytes:,} bytes; output beyond "
                            f"{spec.limits().output_kb} KiB per run was dropped. This does not affect the score.")
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
