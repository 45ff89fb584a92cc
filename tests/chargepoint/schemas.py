"""Validate payloads against the official OCPP 1.6 JSON schemas of the public `ocpp` package."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp.v16

SCHEMA_DIR = Path(ocpp.v16.__file__).parent / "schemas"


@functools.cache
def _validator(name: str) -> Callable[[Any], Any]:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    schema.pop("$schema", None)
    return fastjsonschema.compile(schema)  # type: ignore[no-any-return]


def validate(action: str, payload: dict[str, Any], *, response: bool = False) -> None:
    """Raise fastjsonschema.JsonSchemaException unless `payload` is a valid 1.6 message."""
    _validator(action + ("Response" if response else ""))(payload)
