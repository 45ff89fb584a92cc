"""docs/config.md is the reference the code generates; every key has its meaning stated."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from cpagent.cli import main
from cpagent.config.reference import TABLES, is_table, render
from cpagent.config.rules import rule_of

REPO = Path(__file__).resolve().parents[2]


def test_docs_config_md_is_what_the_code_generates() -> None:
    on_disk = (REPO / "docs" / "config.md").read_text()
    assert on_disk == render(), "regenerate: cpagent check-config --reference > docs/config.md"


def test_every_key_is_documented_once() -> None:
    undocumented = [
        f"{prefix}.{f.name}"
        for prefix, cls in TABLES
        for f in dataclasses.fields(cls)
        if not rule_of(f).doc
    ]
    assert undocumented == []
    keys = [line.split("|")[1].strip() for line in render().splitlines() if line.startswith("| `")]
    assert len(keys) == len(set(keys)) and "`connector[].evse.driver`" in keys


def test_check_config_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--reference"]) == 0
    assert capsys.readouterr().out == render()


def _not_shown(shown: dict[str, set[str]]) -> list[str]:
    """The keys (`section.key`) of every config table that `shown` does not list."""
    return [
        f"{prefix}.{f.name}"
        for prefix, cls in TABLES
        for f in dataclasses.fields(cls)
        if not is_table(typing.get_type_hints(cls)[f.name])
        and f.name not in shown.get(prefix.replace("[]", ""), set())
    ]


def test_the_example_config_shows_every_key_in_its_section() -> None:
    """config/cpagent.toml, where people edit, names every key (set or commented out)."""
    shown: dict[str, set[str]] = {}
    section = ""
    for line in (REPO / "config" / "cpagent.toml").read_text().splitlines():
        if header := re.match(r"#?\s*\[\[?([a-z.]+)\]\]?\s*(#|$)", line.strip()):
            section = header.group(1)
        elif key := re.match(r"#?\s*([a-z_]+)\s*=", line.strip()):
            shown.setdefault(section, set()).add(key.group(1))
    assert _not_shown(shown) == []


def test_the_readme_configuration_table_names_every_key() -> None:
    """README's Configuration table (`| [section] | keys |`) lists every key of its section:
    people read it first and take a key missing there for a key that does not exist."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    shown: dict[str, set[str]] = {}
    for line in block.splitlines():
        if row := re.match(r"\| `\[\[?([a-z.]+)\]\]?` \| (.*) \|$", line):
            shown[row.group(1)] = set(re.findall(r"`([a-z_]+)`", row.group(2)))
    assert _not_shown(shown) == []
