"""The `interface` check, for both kinds of assignment: the file loads, and the class with its methods
(class style) or the module-level functions (function style) exist and take the documented arguments.
Its feedback is what a student sees first when nothing else can run."""

from __future__ import annotations

from grader.checks import fail
from grader.engine import Context
from grader.report import ERROR, CheckResult


def check_interface(ctx: Context, check: dict, result: CheckResult) -> None:
    load, model = ctx.load, ctx.spec.model
    if "unreadable" in load:
        ctx.fatal = load["unreadable"] + "."
        return fail(ctx, result, f"Your file could not be read: {load['unreadable']}.", ERROR)
    if "failure" in load:
        failure = load["failure"]
        where = f" ({ctx.where(failure.line)} was running)" if failure.line else ""
        ctx.fatal = f"loading your file {failure.detail}{where}."
        advice = ("keep long-running work in functions that no cell calls" if ctx.script else
                  "move long-running demos under `if __name__ == \"__main__\":`")
        return fail(ctx, result, f"Loading your file {failure.detail}{where}. Code at the top level of the file "
                            f"must finish quickly; {advice}.", ERROR)
    if "syntax_error" in load:
        err = load["syntax_error"]
        ctx.fatal = f"your file has a syntax error at {ctx.where(err['line'])}."
        return fail(ctx, result, f"Your file has a syntax error at {ctx.where(err['line'])}: {err['message']} "
                            f"(`{err['text']}`). Nothing can be graded until the file parses.", ERROR)
    members, problems = load["members"], []
    functions = {**model.get("functions", {}), **{n: f["args"] for n, f in ctx.spec.functions.items()}}
    if model:  # a class-style assignment: without the class nothing can run
        cls = members.get(model["class"], {"kind": "missing"})
        skipped = ctx.skipped_text(load.get("skipped", []), graded=cls["kind"] == "class")
        if cls["kind"] != "class":
            what = "no" if cls["kind"] == "missing" else f"a {cls['kind']} named"
            ctx.fatal = f"your file defines {what} `{model['class']}`, so no model can be built."
            return fail(ctx, result, f"Your file defines {what} `{model['class']}`; expected a class "
                                     f"`{model['class']}` with methods {', '.join(model['methods'])}." + skipped, ERROR)
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
