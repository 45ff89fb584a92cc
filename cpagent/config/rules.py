"""A configuration key's whole rule (doc, choices, range, shape), kept in its dataclass field."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad a configuration problem is: errors stop the daemon, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem; `path` is the key path, e.g. `connector[1].meter.driver`."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{_printable(self.path)}: {_printable(self.message)}"


def _printable(text: str) -> str:
    """Escape control characters (a quoted TOML key may hold a newline): one problem, one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ConfigError(Exception):
    """The configuration has at least one error; `problems` lists all of them (and warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Rule:
    """What a key accepts beyond its type, and what it means (the reference is made from it).

    `choices`: the only values allowed. `minimum`/`maximum`: inclusive bounds, `above`: an
    exclusive lower bound; `range_name` names a bounded range in messages ("a Modbus
    address"). `chars`/`max_length`: a string's alphabet and length, `shape` says both in
    words. `max_bytes`: a path's length in bytes, `range_name` says why. `required_unless`:
    the key may be left out only when this sibling key is set. `required_for`/`only_for`: the
    key must / may only be given for these values of the table's `driver`. `default_doc`: the
    default in words where the field's default (None) means "someone else chooses"."""

    doc: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    range_name: str = ""
    chars: frozenset[str] | None = None
    max_length: int | None = None
    shape: str = ""
    max_bytes: int | None = None
    required_unless: str | None = None
    required_for: tuple[str, ...] = ()
    only_for: tuple[str, ...] = ()
    default_doc: str | None = None

    def refusal(self, value: Any) -> str | None:
        """Why `value` (already of the right type, and one of `choices`) is refused, or None."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._number_refusal(value)
        if isinstance(value, str):
            too_long = self.max_length is not None and len(value) > self.max_length
            if too_long or (self.chars is not None and not set(value) <= self.chars):
                return f"must be {self.shape}"
        limit = self.max_bytes
        if limit is not None and isinstance(value, os.PathLike) and len(os.fsencode(value)) > limit:
            return f"longer than {self.max_bytes} bytes ({self.range_name})"
        return None

    def _number_refusal(self, value: float) -> str | None:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not low <= value <= high:
            name = f"{self.range_name} " if self.range_name else ""
            return f"must be {name}{_num(low)}-{_num(high)}, not {_num(value)}"
        if high is None and low is not None and value < low:
            return f"must be at least {_num(low)}"
        if self.above is not None and value <= self.above:
            return f"must be greater than {_num(self.above)}"
        return None

    def allowed(self) -> str:
        """The values allowed, in words, for the reference."""
        only = f"driver {', '.join(self.only_for)} only" if self.only_for else ""
        return "; ".join(part for part in (only, self._values()) if part)

    def _values(self) -> str:
        if self.choices:
            return ", ".join(f"`{_toml(c)}`" for c in self.choices)
        parts = []
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"{_num(self.minimum)}-{_num(self.maximum)}")
        elif self.minimum is not None:
            parts.append(f">= {_num(self.minimum)}")
        if self.above is not None:
            parts.append(f"> {_num(self.above)}")
        if self.shape:
            parts.append(self.shape)
        if self.max_bytes is not None:
            parts.append(f"at most {self.max_bytes} bytes")
        return "; ".join(parts)


def key(default: Any = dataclasses.MISSING, doc: str = "", **rule: Any) -> Any:
    """A dataclass field whose metadata holds its Rule; without `default` the key is required."""
    return dataclasses.field(default=default, metadata={"rule": Rule(doc, **rule)})


def rule_of(f: dataclasses.Field[Any]) -> Rule:
    """The Rule a field was declared with (an empty one for a field declared without `key`)."""
    found = f.metadata.get("rule")
    return found if isinstance(found, Rule) else Rule("")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
