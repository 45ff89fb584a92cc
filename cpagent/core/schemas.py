"""Official OCPP JSON schemas (shipped package data) compiled once into fast validators."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import fastjsonschema

from cpagent.core import timestamps
from cpagent.core.errors import (
    OcppError,
    PropertyConstraintViolation,
    TypeConstraintViolation,
    format_error,
    occurrence_error,
)

REQUEST = "request"
RESPONSE = "response"

_DIRS = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}
# OCPP 1.6 names the request schema "<Action>.json", 2.0.1+ "<Action>Request.json".
_REQUEST_SUFFIX = {"ocpp1.6": "", "ocpp2.0.1": "Request", "ocpp2.1": "Request"}

# fastjsonschema rule -> which OCPP constraint error it is (OCPP-J 1.6 §4.2.3, 2.0.1 §4.3)
_TYPE_RULES = frozenset({"type"})
_OCCURRENCE_RULES = frozenset(
    {"required", "minItems", "maxItems", "minProperties", "maxProperties"}
)
_FORMAT_RULES = frozenset({"additionalProperties", "additionalItems"})
# What we accept from a peer as a date-time: ISO 8601 with the offset optional (no offset =
# UTC), see cpagent.core.timestamps. What we send keeps fastjsonschema's strict RFC 3339 check.
_INCOMING_FORMATS = {"date-time": timestamps.is_datetime}

Check = Callable[[dict[str, Any]], Any]

_actions: dict[str, frozenset[str]] = {}
_validators: dict[tuple[str, str, str, bool], Check] = {}


def _folder(version: str) -> resources.abc.Traversable:
    return resources.files("cpagent.core").joinpath("schemas").joinpath(_DIRS[version])


def actions(version: str) -> frozenset[str]:
    """Action names that have schemas in ``version`` (read once from the package data)."""
    found = _actions.get(version)
    if found is None:
        suffix = _REQUEST_SUFFIX[version]
        names = {
            entry.name[: -len(".json")]
            for entry in _folder(version).iterdir()
            if entry.name.endswith(".json")
        }
        found = frozenset(
            name[: len(name) - len(suffix)]
            for name in names
            if not name.endswith("Response") and name.endswith(suffix)
        )
        _actions[version] = found
    return found


def validator(version: str, action: str, direction: str, incoming: bool = False) -> Check | None:
    """The compiled validator for one message, or None when the action has no schema.

    ``incoming``: the message comes from the peer, so date-times without an offset pass.
    """
    key = (version, action, direction, incoming)
    check = _validators.get(key)
    if check is None:
        if action not in actions(version):  # never build a path from an unknown name
            return None
        suffix = "Response" if direction == RESPONSE else _REQUEST_SUFFIX[version]
        text = _folder(version).joinpath(f"{action}{suffix}.json").read_text(encoding="utf-8")
        # use_default=False: validation must never insert default values into a payload.
        formats = _INCOMING_FORMATS if incoming else {}
        check = fastjsonschema.compile(json.loads(text), use_default=False, formats=formats)
        _validators[key] = check
    return check


def compiled_count() -> int:
    """How many validators have been compiled so far (they are compiled on first use)."""
    return len(_validators)


def check_payload(
    version: str, action: str, direction: str, payload: dict[str, Any], incoming: bool = False
) -> OcppError | None:
    """None if ``payload`` passes its schema (or has none); else the OCPP error it deserves.

    ``incoming=True`` for what the peer sent (lenient date-times), False for what we send.
    """
    check = validator(version, action, direction, incoming)
    if check is None:
        return None
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        return schema_error(version, exc)
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        # Hostile values the generated checks cannot compute on, e.g. 1e999 (parsed as inf)
        # in a multipleOf field raises OverflowError: a value out of range, not a crash.
        return PropertyConstraintViolation(f"{action}: a value is out of range")
    return None


def schema_error(version: str, exc: fastjsonschema.JsonSchemaValueException) -> OcppError:
    """Map a schema failure to the matching OCPP constraint error of ``version``."""
    message = f"{exc.name}: {exc.rule}"
    rule = exc.rule or ""
    if rule in _TYPE_RULES:
        return TypeConstraintViolation(message)
    if rule == "format" and exc.rule_definition == "date-time":
        # a string (the JSON type is right) whose value is no date-time: OCPP-J 1.6 §4.2.3
        # "at least one field contains an invalid value", as for any other format or pattern
        return PropertyConstraintViolation(f"{exc.name}: not a date-time")
    if rule in _OCCURRENCE_RULES:
        return occurrence_error(version, message)
    if rule in _FORMAT_RULES:
        return format_error(version, message)
    return PropertyConstraintViolation(message)
