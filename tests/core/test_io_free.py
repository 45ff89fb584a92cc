"""The core is sans-I/O: no module in cpagent/core imports anything that does I/O or reads time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "cpagent" / "core"
MODULES = sorted(CORE.glob("*.py"))

FORBIDDEN = {
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "threading",
    "multiprocessing",
    "subprocess",
    "time",
    "datetime",
    "os",
    "sys",
    "random",
    "secrets",
    "uuid",
    "signal",
    "logging",
    "http",
    "urllib",
    "io",
    "shutil",
    "tempfile",
    "pathlib",
    "sqlite3",
    "_thread",
}
# The facade needs one lock because handlers may answer from other threads, and, built
# without a clock (the seed's API), its defaults: monotonic time, uuid ids, a timer thread.
ALLOWED = {"task_manager.py": {"threading", "time", "uuid"}, "call_timer.py": {"threading"}}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__", "getattr"}
FORBIDDEN_ATTRS = {"environ", "getenv"}


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_has_modules_to_check() -> None:
    names = {m.name for m in MODULES}
    assert {"session.py", "frames.py", "task_manager.py", "schemas.py"} <= names


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_imports_nothing_that_does_io(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    bad = imported_roots(tree) & (FORBIDDEN - ALLOWED.get(module.name, set()))
    assert not bad, f"{module.name} imports {sorted(bad)}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_calls_no_io_builtins_and_reads_no_environment(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{module.name}:{node.lineno}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_ATTRS, f"{module.name}:{node.lineno}"


def test_the_checker_catches_forbidden_imports() -> None:
    tree = ast.parse("import socket\nfrom time import monotonic\nimport os.path\n")
    assert imported_roots(tree) == {"socket", "time", "os"}
