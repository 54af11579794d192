"""The package's layout says the boundary, and the import graph keeps it: no cycle (deferred imports
counted), the untrusted side imports nothing of the trusted side, the sandbox nothing of the judge."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "grader"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every grader module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    modules = set(files)
    edges = {}
    for name, path in files.items():
        # a module that imports a package's submodule also runs the package's __init__: not an edge we count
        edges[name] = {m for m in imports_of(path, modules) if m != name and not name.startswith(m + ".")}
    return edges


def test_the_import_graph_has_no_cycle():
    edges, state, cycle = graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycle.append(path + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycle, f"import cycles: {cycle[:3]}"


def test_the_untrusted_side_imports_nothing_of_the_trusted_side():
    for name, targets in graph().items():
        if name.startswith("grader.child"):
            bad = {t for t in targets if t.startswith(("grader.judge", "grader.sandbox", "grader.course",
                                                       "grader.report", "grader.cli"))}
            assert not bad, f"{name} imports {bad}"


def test_the_sandbox_holds_no_hidden_value():
    for name, targets in graph().items():
        if name.startswith("grader.sandbox"):
            bad = {t for t in targets if t.startswith(("grader.judge", "grader.course", "grader.report"))}
            assert not bad, f"{name} imports {bad}"


def test_no_module_of_the_engine_is_much_over_400_lines():
    long = {module_name(p): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")
            if "__pycache__" not in p.parts and len(p.read_text().splitlines()) > 420}
    assert not long, long


def test_only_the_command_line_imports_the_service():
    for name, targets in graph().items():
        if not name.startswith(("grader.serve", "grader.cli")):
            bad = {t for t in targets if t.startswith("grader.serve")}
            assert not bad, f"{name} imports {bad}"
