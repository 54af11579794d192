"""What the child may answer: a reply must account for every step it was sent, in order, and a load reply
must describe the members it was asked about. Anything else was not written by the child's own loop
(student code writing into the channel) and is a protocol failure of the submission."""

from __future__ import annotations


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
    # every member exactly as the child describes it (child/serve.py), so that the trusted side never
    # reads a key that is not there: a forged reply must fail here, as the protocol's, not in a check
    return all(_member_ok(member) for member in members.values())


PARAM_KINDS = {"POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL", "KEYWORD_ONLY", "VAR_KEYWORD"}


def _member_ok(member) -> bool:
    if not isinstance(member, dict) or not isinstance(member.get("kind"), str):
        return False
    if member["kind"] == "class":
        methods = member.get("methods")
        return (set(member) == {"kind", "methods"} and isinstance(methods, dict)
                and all(isinstance(k, str) and _signature_ok(m) for k, m in methods.items()))
    if member["kind"] == "function":
        return set(member) == {"kind", "signature"} and _signature_ok(member["signature"])
    return set(member) == {"kind"}


def _signature_ok(signature) -> bool:
    """None (no such method), or {"params": None | [{"name": str, "kind": a parameter kind, "default": bool}]}."""
    if signature is None:
        return True
    if not isinstance(signature, dict) or set(signature) != {"params"}:
        return False
    params = signature["params"]
    return params is None or isinstance(params, list) and all(
        isinstance(p, dict) and set(p) == {"name", "kind", "default"} and isinstance(p["name"], str)
        and p["kind"] in PARAM_KINDS and type(p["default"]) is bool for p in params)
