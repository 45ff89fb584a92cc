"""Official OCPP JSON schemas (shipped package data) as fast validators, each built once."""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import fastjsonschema
from fastjsonschema.draft04 import CodeGeneratorDraft04

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
# The pre-generated validators leave date-time to the caller: what we send gets
# fastjsonschema's own date-time check, the one `fastjsonschema.compile` builds in.
_RFC3339 = re.compile(CodeGeneratorDraft04.FORMAT_REGEXS["date-time"])
_OUTGOING_FORMATS = {"date-time": _RFC3339.match}
# Versions with pre-generated validators, by folder: cpagent/core/validators/<folder>/ (see
# tools/gen_validators.py). Only 1.6, which the daemon speaks: its code is ~0.6 MB; 2.0.1 and
# 2.1 would be ~14 MB, so their validators are compiled at first use.
GENERATED = {"ocpp1.6": "v16"}

Check = Callable[[dict[str, Any]], Any]

_actions: dict[str, frozenset[str]] = {}
_validators: dict[tuple[str, str, str, bool], Check] = {}
_compiled = 0  # validators built by compiling a schema at run time (not pre-generated)


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
    """The validator for one message, or None when the action has no schema.

    ``incoming``: the message comes from the peer, so date-times without an offset pass.
    Pre-generated code (cpagent/core/validators/, loaded from its ``.pyc``) where there is
    some; otherwise the schema is compiled now, which costs a few MiB of scratch heap.
    """
    global _compiled
    key = (version, action, direction, incoming)
    check = _validators.get(key)
    if check is None:
        if action not in actions(version):  # never build a path or name from an unknown name
            return None
        stem = action + ("Response" if direction == RESPONSE else _REQUEST_SUFFIX[version])
        formats = _INCOMING_FORMATS if incoming else _OUTGOING_FORMATS
        folder = GENERATED.get(version)
        if folder is not None:
            module = importlib.import_module(f"cpagent.core.validators.{folder}.{stem}")
            check = functools.partial(module.validate, custom_formats=formats)
        else:
            text = _folder(version).joinpath(f"{stem}.json").read_text(encoding="utf-8")
            # use_default=False: validation must never insert default values into a payload.
            check = fastjsonschema.compile(
                json.loads(text), use_default=False, formats=_INCOMING_FORMATS if incoming else {}
            )
            _compiled += 1
        _validators[key] = check
    return check


def compiled_count() -> int:
    """How many validators were compiled at run time so far (each leaves scratch heap to trim;
    the pre-generated ones do not count)."""
    return _compiled


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
