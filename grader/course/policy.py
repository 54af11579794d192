"""What a coordinator accepts from the workers that grade for it, importable without Dask."""

from __future__ import annotations

from grader.sandbox import isolation


class Refused(Exception):
    """These workers cannot grade this batch as asked (an unreachable cluster, a worker lacking a
    required isolation layer or holding another grader); the text says why and what to do."""


def parse_layers(text: str | None) -> tuple[str, ...]:
    """`--require-isolation namespaces,landlock,seccomp` as layer names; ValueError on an unknown one."""
    names = tuple(n.strip() for n in (text or "").split(",") if n.strip() and n.strip() != "limits")
    unknown = [n for n in names if n not in isolation.DEEP_LAYERS]
    if unknown:
        raise ValueError(f"unknown isolation layer(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(isolation.DEEP_LAYERS)}")
    return names


def lacking(layers: dict | None, required: tuple[str, ...]) -> list[str]:
    """The required layers that an `isolation` record ({"active": [...], ...}) does not have."""
    active = set((layers or {}).get("active", []))
    return [name for name in required if name not in active]
