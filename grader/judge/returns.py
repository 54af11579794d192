"""What a function-style assignment's functions return, read by the names the spec gives them (`returns`):
a dict, a tuple, or one value. Used by the function checks and by the misconceptions that compare a
submission's returns with the reference's wrong variants."""

from __future__ import annotations

from grader.judge.compare import describe_type


def unpack(function: dict, value) -> tuple[dict | None, str | None]:
    """What a function returned, by the names in the spec's `returns`; or why it cannot be read so."""
    names = function["returns"]
    if function.get("returns_dict"):
        if not isinstance(value, dict):
            return None, f"returned {describe_type(value)}; expected a dict with keys {', '.join(names)}"
        keys = {n: next((k for k in [n, *function.get("aliases", {}).get(n, [])] if k in value), None) for n in names}
        return {n: value[k] for n, k in keys.items() if k is not None}, None
    if len(names) == 1:
        return {names[0]: value}, None
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        got = f"{len(value)} values" if isinstance(value, (list, tuple)) else describe_type(value)
        return None, f"returned {got}; expected a tuple of {len(names)} ({', '.join(names)})"
    return dict(zip(names, value)), None


def item_key(function: dict, name: str):
    """How a return is reached inside what the function returned (child side `$ref` item)."""
    if function.get("returns_dict"):
        return name
    return None if len(function["returns"]) == 1 else function["returns"].index(name)
