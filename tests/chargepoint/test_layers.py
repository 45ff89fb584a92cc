"""The package's layers hold: no import cycle, and the charger model imports no adapter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cpagent" / "chargepoint"
MODEL = (
    "charger",
    "charging",
    "model",
    "cards",
    "tx_readings",
    "meter_reports",
    "meter_check",
    "points",
    "ports",
    "connector",
    "reservations",
    "smart_charging",
    "charging_profile",
    "authorization",
    "ev_activity",
    "metering",
    "clock",
    "commands",
)
ADAPTER = frozenset({"chargepoint", "handlers", "messages16", "firmware", "outbox", "tx_queue"})


def imports(module: str) -> set[str]:
    """Modules of the package `module` imports, TYPE_CHECKING blocks and function bodies too."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "cpagent.chargepoint":
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "cpagent.chargepoint."
        ):
            found.add((node.module or "").rsplit(".", 1)[1])
    return found - {module}


def test_no_import_cycle_in_the_package() -> None:
    graph = {p.stem: imports(p.stem) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen and m in graph:
                seen.add(m)
                todo += graph[m]
        return seen

    assert [m for m in sorted(graph) if m in reach(m)] == []


@pytest.mark.parametrize("module", MODEL)
def test_the_model_imports_no_protocol_adapter(module: str) -> None:
    assert imports(module) & ADAPTER == set()
