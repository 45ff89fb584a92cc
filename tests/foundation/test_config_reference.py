"""docs/config.md is the reference the code generates; every key has its meaning stated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cpagent.cli import main
from cpagent.config.reference import TABLES, render
from cpagent.config.rules import rule_of

REPO = Path(__file__).resolve().parents[2]


def test_docs_config_md_is_what_the_code_generates() -> None:
    on_disk = (REPO / "docs" / "config.md").read_text()
    assert on_disk == render(), "regenerate: cpagent check-config --reference > docs/config.md"


def test_every_key_is_documented_once() -> None:
    undocumented = [f"{prefix}.{f.name}" for prefix, cls in TABLES
                    for f in dataclasses.fields(cls) if not rule_of(f).doc]
    assert undocumented == []
    keys = [line.split("|")[1].strip() for line in render().splitlines()
            if line.startswith("| `")]
    assert len(keys) == len(set(keys)) and "`connector[].evse.driver`" in keys


def test_check_config_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--reference"]) == 0
    assert capsys.readouterr().out == render()
