"""The configuration key reference (docs/config.md), made from the sections' field rules."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Union

from cpagent.config.connector_sections import ConnectorConfig, EvseConfig, MeterConfig
from cpagent.config.rules import rule_of
from cpagent.config.sections import SECTIONS

HEADER = """\
# Configuration reference

One TOML file (`/etc/cpagent/cpagent.toml`; the commented example is `config/cpagent.toml`).
Relative paths are taken relative to the file's directory. `cpagent check-config FILE` names
every problem by key path (`connector[1].meter.driver: ...`) and exits 78 on any error; the
daemon refuses to start (exit 78) on the same errors. Connector ids are 1, 2, ... in the
order of the `[[connector]]` tables (OCPP 1.6 §3.4).

This page is generated from the code (`cpagent check-config --reference > docs/config.md`);
a test keeps the two equal.

| key | type | default | allowed | meaning |
|---|---|---|---|---|
"""
TABLES: tuple[tuple[str, type], ...] = (
    *(
        (name, cls)
        for name, cls in SECTIONS.items()
        if name not in ("rfid", "firmware", "diagnostics", "web")
    ),
    ("connector[]", ConnectorConfig),
    ("connector[].meter", MeterConfig),
    ("connector[].evse", EvseConfig),
    ("rfid", SECTIONS["rfid"]),
    ("firmware", SECTIONS["firmware"]),
    ("diagnostics", SECTIONS["diagnostics"]),
    ("web", SECTIONS["web"]),
)
NESTED = (MeterConfig, EvseConfig)  # tables of their own in the reference, not rows


def render() -> str:
    """The whole reference page as Markdown."""
    rows = [
        _row(prefix, f, typing.get_type_hints(cls)[f.name])
        for prefix, cls in TABLES
        for f in dataclasses.fields(cls)
        if not is_table(typing.get_type_hints(cls)[f.name])
    ]
    return HEADER + "".join(rows)


def _row(prefix: str, f: dataclasses.Field[Any], hint: Any) -> str:
    rule = rule_of(f)
    cells = (f"`{prefix}.{f.name}`", _type_text(hint), _default_text(f), rule.allowed(), rule.doc)
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n"


def _default_text(f: dataclasses.Field[Any]) -> str:
    rule = rule_of(f)
    if f.default is dataclasses.MISSING:
        return "required"
    if rule.default_doc is not None:
        return rule.default_doc
    if rule.required_for:
        return "required for " + ", ".join(rule.required_for)
    if f.default is None:
        return "none"
    if isinstance(f.default, bool):
        return str(f.default).lower()
    if isinstance(f.default, str | Path):
        return f'`"{f.default}"`'
    if f.default == ():
        return "`[]`"
    return f"`{f.default}`"


def _type_text(hint: Any) -> str:
    if typing.get_origin(hint) in (Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return "array of " + _type_text(typing.get_args(hint)[0]) + "s"
    names = {str: "string", int: "integer", float: "number", bool: "bool", Path: "path"}
    return names[hint]


def is_table(hint: Any) -> bool:
    """True for a field that is a table of its own (`[connector.meter]`), not a key."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        return any(a in NESTED for a in typing.get_args(hint))
    return hint in NESTED
