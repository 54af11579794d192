"""The context a check runs in: the submission's child, its steps and outcomes, and the hidden data.

A check asks the `Context` to run steps (construct, set, call, get) and gets back an `Outcome`: the values
that came back, or what went wrong in words a student can act on. When a call kills the child (hang,
crash, exit), the next run gets a fresh child with the submission reloaded.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import notebook
from grader.sandbox import isolation
from grader.judge.layout import arrange
from grader.sandbox.process import Failure, Sandbox
from grader.judge.replies import split_results, well_formed_load
from grader.judge.spec import Spec

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
    raised_in: dict | None = None  # the step whose call raised and stopped the run (checks decide on it, not on text)
    grader_fault: bool = False  # the grader's own child machinery failed, not the submission

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
    load_verdict: object = None  # checks.interface.LoadVerdict: the load phase, judged before any check
    cache: dict = field(default_factory=dict)
    plan: isolation.Plan | None = None  # the isolation layers every child of this submission gets
    _sandbox: Sandbox | None = None
    prestarted: Sandbox | None = None  # a child the caller started early, used by the first `open`
    printed_bytes: int = 0
    dropped_bytes: int = 0
    timed_out: dict = field(default_factory=dict)  # call -> why: a hang costs its limit once, not per check
    layout: dict = field(default_factory=dict)  # parameter (or "output") -> the submission's own vector orientation
    deadline: float | None = None  # time.monotonic() when the whole submission's time is up
    grader_faults: int = 0  # runs that the grader's own child machinery failed (run_check reads it)

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

    def _run(self, runs: list[list[dict]]) -> list[Outcome]:
        outcomes = self._run_unchecked(runs)
        self.grader_faults += sum(outcome.grader_fault for outcome in outcomes)
        return outcomes

    def _run_unchecked(self, runs: list[list[dict]]) -> list[Outcome]:
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
                if reply["failure"].kind == "internal":  # a limit could not be set, say: never the student's
                    return [Outcome([], "the grader's child process failed outside your code; this is not your "
                                        "fault", died=True, grader_fault=True) for _ in runs]
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
                               f"({failure.detail}); this is not your fault", died=True, grader_fault=True)
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
                return Outcome(values, f"{describe_step(step)} raised {text}", raised_in=step)
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
