"""The seams hold: connectors reach the core only through their port, and the core's
parts do not import each other in circles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_connector_imports_storage_or_sqlalchemy():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imports(path) if m.split(".")[0] in ("storage", "sqlalchemy"))
        for path in (ROOT / "connectors").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_aggregator_has_no_import_cycles():
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "aggregator").rglob("*.py")
    }
    graph = {
        name: {m for m in imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str], seen: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in stack:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, [*stack, nxt], seen)

    for start in sorted(graph):
        visit(start, [start], {start})
    assert cycles == []
