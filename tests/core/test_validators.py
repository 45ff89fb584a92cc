"""Pre-generated 1.6 validators: in sync with the shipped schemas, loaded (not compiled), and
judging every payload as the run-time compiled validator of the same schema does."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from cpagent.core import schemas, timestamps
from cpagent.core.errors import OcppError
from cpagent.core.validator_source import module_source

CORE = Path(schemas.__file__).resolve().parent
V16 = "ocpp1.6"


def _schema_files() -> list[Path]:
    return sorted((CORE / "schemas" / "v16").glob("*.json"))


def test_every_shipped_1_6_schema_has_a_generated_module_and_nothing_else_does() -> None:
    generated = CORE / "validators" / "v16"
    stems = {p.stem for p in _schema_files()}
    modules = {p.stem for p in generated.glob("*.py")} - {"__init__"}
    assert len(stems) == 78
    assert modules == stems, "run: python3 tools/gen_validators.py"


@pytest.mark.parametrize("schema", _schema_files(), ids=lambda p: p.stem)
def test_the_generated_module_is_what_the_schema_generates_today(schema: Path) -> None:
    module = CORE / "validators" / "v16" / f"{schema.stem}.py"
    expected = module_source("v16", schema.stem, schema.read_text(encoding="utf-8"))
    assert module.read_text(encoding="utf-8") == expected, "run: python3 tools/gen_validators.py"


def test_1_6_validators_are_loaded_from_generated_code_and_none_is_compiled() -> None:
    before = schemas.compiled_count()
    for action in sorted(schemas.actions(V16)):
        for direction in (schemas.REQUEST, schemas.RESPONSE):
            for incoming in (False, True):
                check = schemas.validator(V16, action, direction, incoming)
                assert check is not None
                assert check.func.__module__.startswith("cpagent.core.validators.v16.")  # type: ignore[attr-defined]
    assert schemas.compiled_count() == before


def _compiled(action: str, direction: str, incoming: bool) -> schemas.Check:
    """The validator as the run-time compiler builds it from the same schema (the old way)."""
    suffix = "Response" if direction == schemas.RESPONSE else ""
    folder = resources.files("cpagent.core").joinpath("schemas").joinpath("v16")
    text = folder.joinpath(f"{action}{suffix}.json").read_text(encoding="utf-8")
    formats = {"date-time": timestamps.is_datetime} if incoming else {}
    return fastjsonschema.compile(json.loads(text), use_default=False, formats=formats)


def _verdict(check: schemas.Check, payload: dict[str, Any]) -> tuple[str, str, str] | None:
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        error: OcppError = schemas.schema_error(V16, exc)
        return (error.code, error.description, repr(exc.value))
    return None


_START = {
    "connectorId": 1,
    "idTag": "04A1B2C3",
    "meterStart": 0,
    "timestamp": "2026-12-02T01:00:00Z",
}
_PERIOD = {"startPeriod": 0, "limit": 16.0}
_PROFILE = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [_PERIOD]},
    },
}
_METER = {
    "connectorId": 1,
    "meterValue": [
        {
            "timestamp": "2026-12-02T01:00:00Z",
            "sampledValue": [{"value": "12.5", "measurand": "Energy.Active.Import.Register"}],
        }
    ],
}
SAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("BootNotification", schemas.REQUEST, {"chargePointVendor": "v", "chargePointModel": "m"}),
    (
        "BootNotification",
        schemas.RESPONSE,
        {"status": "Accepted", "currentTime": "2026-12-02T01:00:00Z", "interval": 10},
    ),
    ("StartTransaction", schemas.REQUEST, _START),
    (
        "StatusNotification",
        schemas.REQUEST,
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    ),
    ("MeterValues", schemas.REQUEST, _METER),
    ("SetChargingProfile", schemas.REQUEST, _PROFILE),
    (
        "GetLog",
        schemas.REQUEST,
        {
            "logType": "DiagnosticsLog",
            "requestId": 1,
            "log": {"remoteLocation": "ftp://x/", "oldestTimestamp": "2026-12-02T01:00:00Z"},
        },
    ),
    ("Heartbeat", schemas.RESPONSE, {"currentTime": "2026-12-02T01:00:00+01:00"}),
]


def _variants(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The payload, and for each top-level field: without it, wrong types, a date-time
    without offset; plus an unknown field (the failures the error mapping distinguishes)."""
    out = [payload, {**payload, "unknownField": 1}]
    for key, value in payload.items():
        out.append({k: v for k, v in payload.items() if k != key})
        for bad in (None, "text", 1, 1.5, True, [], {}, "2026-12-02 01:00:00", "x" * 600):
            if bad != value:
                out.append({**payload, key: bad})
    nested = copy.deepcopy(payload)
    for value in nested.values():  # one level down too: the first dict or list of dicts
        inner = (
            value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
        )
        if isinstance(inner, dict) and inner:
            first = next(iter(inner))
            inner[first] = "2026-12-02T01:00:00"
            out.append(copy.deepcopy(nested))
            inner[first] = -1
            out.append(copy.deepcopy(nested))
    return out


@pytest.mark.parametrize("incoming", [False, True], ids=["outgoing", "incoming"])
@pytest.mark.parametrize(("action", "direction", "payload"), SAMPLES, ids=lambda v: str(v)[:24])
def test_generated_and_compiled_validators_give_the_same_verdicts(
    action: str, direction: str, payload: dict[str, Any], incoming: bool
) -> None:
    generated = schemas.validator(V16, action, direction, incoming)
    assert generated is not None
    compiled = _compiled(action, direction, incoming)
    variants = _variants(payload)
    verdicts = [(_verdict(generated, p), _verdict(compiled, p)) for p in variants]
    assert verdicts[0] == (None, None)  # the sample itself is valid
    assert sum(1 for g, _ in verdicts if g is not None) > len(variants) // 2  # most are not
    for p, (got, want) in zip(variants, verdicts, strict=True):
        assert got == want, p
