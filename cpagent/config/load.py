"""Read the TOML file and build the sections, reporting every problem by key path."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

from cpagent.config.checks import cross_checks, secret_checks
from cpagent.config.connector_sections import ConnectorConfig
from cpagent.config.rules import ConfigError, Problem, Severity, rule_of
from cpagent.config.sections import REQUIRED_SECTIONS, SECTIONS, Config
from cpagent.config.security import security_warnings


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate `path`; raise ConfigError listing every problem found."""
    file = Path(path).absolute()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), f"not UTF-8 text: {exc.reason}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([Problem(str(path), f"invalid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses once per level of nested arrays / inline tables
        raise ConfigError([Problem(str(path), "invalid TOML: values nested too deeply")]) from None
    return parse_config(data, base_dir=file.parent, path=file, mode=file.stat().st_mode)


def parse_config(
    data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None, mode: int = 0o600
) -> Config:
    """Validate a parsed TOML document; relative paths are taken relative to `base_dir`.

    Problems come in three rounds: the shape of every table (unknown, missing, mistyped
    keys, values not among the choices), then each value against its field's Rule, then
    checks that span keys (pins and ports used twice, what a driver needs)."""
    builder = _Builder(base_dir)
    problems = builder.problems
    for key in data:
        if key not in SECTIONS and key != "connector":
            import difflib  # only for a config with a typo (~0.2 MiB the daemon need not hold)

            close = difflib.get_close_matches(key, [*SECTIONS, "connector"], n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else ""
            problems.append(Problem(key, f"unknown section{hint}"))
    for key in REQUIRED_SECTIONS:
        if key not in data:
            what = "[[connector]] table (at least one)" if key == "connector" else f"[{key}] table"
            problems.append(Problem(key, f"missing required {what}"))
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        if name in data:
            sections[name] = builder.build(cls, data[name], name)
    connectors = _connectors(data.get("connector"), builder)
    problems += builder.refused
    cross_checks(data, sections, problems)
    secret_checks(data, mode, problems)
    if not any(p.severity is Severity.ERROR for p in problems):
        problems += security_warnings(sections, path, mode)
    if any(p.severity is Severity.ERROR for p in problems):
        raise ConfigError(problems)
    return Config(
        connectors=tuple(connectors),
        path=path,
        warnings=tuple(problems),
        **{k: v for k, v in sections.items() if v is not None},
    )


def _connectors(value: Any, builder: _Builder) -> list[ConnectorConfig]:
    if value is None:
        return []
    if not isinstance(value, list):
        builder.problems.append(
            Problem("connector", "must be an array of tables: write [[connector]]")
        )
        return []
    built = []
    for index, item in enumerate(value, start=1):
        one = builder.build(ConnectorConfig, item, f"connector[{index}]")
        if one is not None:
            built.append(one)
    return built


_BAD = object()


class _Builder:
    """Builds section dataclasses from tables: shape problems go to `problems` at once, values
    refused by their Rule to `refused` (reported after every shape problem)."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.refused: list[Problem] = []

    def build(self, cls: type, value: Any, where: str) -> Any:
        """Dataclass `cls` from table `value`, or None after a shape problem."""
        problems = self.problems
        if not isinstance(value, dict):
            problems.append(Problem(where, f"must be a table, not {_type_name(value)}"))
            return None
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for key in value:
            if key not in fields:
                import difflib

                close = difflib.get_close_matches(key, fields, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(fields)}"
                problems.append(Problem(f"{where}.{key}", f"unknown key ({hint})"))
        kwargs: dict[str, Any] = {}
        ok = True
        driver = value.get("driver", fields["driver"].default) if "driver" in fields else None
        for name, f in fields.items():
            key_path = f"{where}.{name}"
            rule = rule_of(f)
            if name not in value:
                unless = rule.required_unless
                if f.default is dataclasses.MISSING or (unless and unless not in value):
                    problems.append(Problem(key_path, "missing required key"))
                    ok = False
                elif driver in rule.required_for:
                    self.refused.append(Problem(key_path, f"required for driver {driver}"))
                continue
            if rule.only_for and isinstance(driver, str) and driver not in rule.only_for:
                only = ", ".join(rule.only_for)
                self.refused.append(Problem(key_path, f"only for driver {only}"))
            converted = self._convert(hints[name], value[name], key_path)
            if converted is _BAD:
                ok = False
                continue
            if rule.choices and converted is not None and converted not in rule.choices:
                listed = ", ".join(str(c) for c in rule.choices)
                problems.append(Problem(key_path, f"must be one of {listed}, not {converted!r}"))
                ok = False
                continue
            refusal = rule.refusal(converted)
            if refusal is not None:
                self.refused.append(Problem(key_path, refusal))
            kwargs[name] = converted
        return cls(**kwargs) if ok else None

    def _convert(self, hint: Any, value: Any, key_path: str) -> Any:
        """Check `value` against type `hint`; return the converted value or _BAD."""
        problems = self.problems
        if typing.get_origin(hint) in (Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if typing.get_origin(hint) is tuple:
            if not isinstance(value, list):
                problems.append(Problem(key_path, f"must be an array, not {_type_name(value)}"))
                return _BAD
            item_hint = typing.get_args(hint)[0]
            items = [
                self._convert(item_hint, item, f"{key_path}[{index}]")
                for index, item in enumerate(value, start=1)
            ]
            return _BAD if any(item is _BAD for item in items) else tuple(items)
        if dataclasses.is_dataclass(hint):
            built = self.build(typing.cast(type, hint), value, key_path)
            return _BAD if built is None else built
        good = (
            (hint is bool and isinstance(value, bool))
            or (hint is int and isinstance(value, int) and not isinstance(value, bool))
            or (hint is float and isinstance(value, int | float) and not isinstance(value, bool))
            or (hint in (str, Path) and isinstance(value, str))
        )
        if not good:
            problems.append(Problem(key_path, f"must be {EXPECTED[hint]}, not {_type_name(value)}"))
            return _BAD
        if hint in (str, Path) and not value.strip():
            problems.append(Problem(key_path, "must not be empty"))
            return _BAD
        if hint in (str, Path) and "\0" in value:
            problems.append(Problem(key_path, "must not contain a NUL character"))
            return _BAD
        if hint is Path:
            try:
                return (self.base_dir / Path(value).expanduser()).resolve()
            except (OSError, RuntimeError, ValueError) as exc:  # "~nosuchuser", a symlink loop
                problems.append(Problem(key_path, f"not a usable path: {exc}"))
                return _BAD
        return float(value) if hint is float else value


EXPECTED = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    Path: "a path string",
}


def _type_name(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
