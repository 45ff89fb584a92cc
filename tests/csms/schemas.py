"""Validate OCPP 1.6 payloads against the official schemas shipped by the public `ocpp` package."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp

SCHEMA_DIR = Path(ocpp.__file__).parent / "v16" / "schemas"


@cache
def _validator(name: str) -> Any:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema)


def validate_request(action: str, payload: dict[str, Any]) -> None:
    """Raise fastjsonschema.JsonSchemaException unless `payload` is a valid `action` CALL."""
    _validator(action)(payload)


def validate_response(action: str, payload: dict[str, Any]) -> None:
    """Raise unless `payload` is a valid CALLRESULT payload for `action`."""
    _validator(f"{action}Response")(payload)
