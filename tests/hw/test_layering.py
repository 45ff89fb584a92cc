"""`hw` is a bottom layer: it never imports `cpagent` and has no import-time side effects."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

HW = Path(__file__).resolve().parents[2] / "hw"


def _modules() -> list[Path]:
    return sorted(HW.rglob("*.py"))


def test_no_hw_module_mentions_cpagent_in_an_import():
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "cpagent"]
    assert offenders == []


def test_importing_every_hw_module_loads_no_cpagent_and_keeps_cwd():
    names = [
        ".".join(p.relative_to(HW.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in _modules()
    ]
    code = (
        "import importlib, os, sys\n"
        "cwd = os.getcwd()\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'cpagent'], sys.modules\n"
        "assert os.getcwd() == cwd\n"
        "print('ok', len(sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=HW.parent, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_every_module_has_a_one_line_docstring():
    missing = []
    for path in _modules():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if not doc or "\n" in doc.strip():
            missing.append(path.name)
    assert missing == []
