"""The `interface` check, for both kinds of assignment: the file loads, and the class with its methods
(class style) or the module-level functions (function style) exist and take the documented arguments.
Its feedback is what a student sees first when nothing else can run."""

from __future__ import annotations

from dataclasses import dataclass

from grader.judge.checks.common import fail
from grader.judge.context import Context
from grader.report import ERROR, CheckResult


@dataclass
class LoadVerdict:
    """The load phase, judged before any check runs: why nothing can be graded (if so), what the
    interface check says about it, and the report's status."""

    fatal: str | None = None
    feedback: str | None = None
    status: str = "graded"


def judge_load(ctx: Context) -> LoadVerdict:
    """What the load reply means for the whole submission, whatever checks the spec has."""
    load, model = ctx.load, ctx.spec.model
    if "unreadable" in load:
        return LoadVerdict(load["unreadable"] + ".", f"Your file could not be read: {load['unreadable']}.",
                           "ungradable")
    if "failure" in load:
        failure = load["failure"]
        if failure.kind == "internal":  # the child's own code failed before any of the student's ran
            return LoadVerdict("the grader could not start a sandbox for your file; this is not a problem "
                               "with your code, please tell course staff.",
                               "The grader could not start a sandbox for your file. This is not a problem with "
                               "your code; please tell course staff.", "error")
        where = f" ({ctx.where(failure.line)} was running)" if failure.line else ""
        advice = ("keep long-running work in functions that no cell calls" if ctx.script else
                  "move long-running demos under `if __name__ == \"__main__\":`")
        return LoadVerdict(f"loading your file {failure.detail}{where}.",
                           f"Loading your file {failure.detail}{where}. Code at the top level of the file must "
                           f"finish quickly; {advice}.")
    if "syntax_error" in load:
        err = load["syntax_error"]
        return LoadVerdict(f"your file has a syntax error at {ctx.where(err['line'])}.",
                           f"Your file has a syntax error at {ctx.where(err['line'])}: {err['message']} "
                           f"(`{err['text']}`). Nothing can be graded until the file parses.", "ungradable")
    if model:  # a class-style assignment: without the class nothing can run
        cls = load["members"].get(model["class"], {"kind": "missing"})
        if cls["kind"] != "class":
            what = "no" if cls["kind"] == "missing" else f"a {cls['kind']} named"
            skipped = ctx.skipped_text(load.get("skipped", []), graded=False)
            return LoadVerdict(f"your file defines {what} `{model['class']}`, so no model can be built.",
                               f"Your file defines {what} `{model['class']}`; expected a class `{model['class']}` "
                               f"with methods {', '.join(model['methods'])}." + skipped)
    return LoadVerdict()


def check_interface(ctx: Context, check: dict, result: CheckResult) -> None:
    load, model, verdict = ctx.load, ctx.spec.model, ctx.load_verdict
    if verdict.feedback:
        return fail(ctx, result, verdict.feedback, ERROR)
    members, problems = load["members"], []
    functions = {**model.get("functions", {}), **{n: f["args"] for n, f in ctx.spec.functions.items()}}
    if model:
        cls = members[model["class"]]
        skipped = ctx.skipped_text(load.get("skipped", []), graded=True)
        expected = {"__init__": model["sizes"], **model["methods"]}
        for method, args in expected.items():
            problem = _signature_problem(cls["methods"].get(method), args)
            if problem:
                label = f"{model['class']}({', '.join(args)})" if method == "__init__" else f"{model['class']}.{method}"
                problems.append(f"`{label}` {problem}")
    else:
        graded = any(members.get(f, {}).get("kind") == "function" for f in functions)
        skipped = ctx.skipped_text(load.get("skipped", []), graded=graded)
    for function, args in functions.items():
        info = members.get(function, {"kind": "missing"})
        if info["kind"] != "function":
            problems.append(f"there is no function `{function}({', '.join(args)})`")
        else:
            problem = _signature_problem(info["signature"], args)
            if problem:
                problems.append(f"`{function}` {problem}")
    if problems:
        fail(ctx, result, "Interface: " + "; ".join(problems) + ". Checks that need these will fail." + skipped)
    else:
        result.output = "Your file loads and has the documented interface." + skipped


def _signature_problem(signature: dict | None, args: list[str]) -> str | None:
    """Can the documented arguments be passed positionally? (names may differ; *args is fine)"""
    if signature is None:
        return "is missing"
    params = signature.get("params")
    if params is None:
        return None
    positional = [p for p in params if p["kind"] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    if any(p["kind"] == "VAR_POSITIONAL" for p in params):
        return None
    required = [p for p in positional if not p["default"]]
    if len(required) > len(args) or len(positional) < len(args):
        return f"takes {len(positional)} argument(s) ({', '.join(p['name'] for p in positional) or 'none'}); " \
               f"expected {len(args)} ({', '.join(args) or 'none'})"
    return None
