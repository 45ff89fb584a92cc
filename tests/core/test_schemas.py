"""Schemas: the shipped official OCPP schemas, compiled lazily once, mapped to error codes."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from cpagent.core import schemas

from .payloads import BOOT_REQUEST, BOOT_RESPONSE, VERSIONS

COUNTS = {"ocpp1.6": 39, "ocpp2.0.1": 64, "ocpp2.1": 90}  # actions in the OCA schema sets


@pytest.mark.parametrize("version", VERSIONS)
def test_every_action_ships_a_request_and_a_response_schema(version: str) -> None:
    actions = schemas.actions(version)
    assert len(actions) == COUNTS[version]
    assert {"BootNotification", "Heartbeat", "Authorize", "DataTransfer"} <= actions
    folder = resources.files("cpagent.core").joinpath("schemas").joinpath(schemas._DIRS[version])
    for action in actions:
        for suffix in (schemas._REQUEST_SUFFIX[version], "Response"):
            text = folder.joinpath(f"{action}{suffix}.json").read_text(encoding="utf-8")
            assert json.loads(text)["type"] == "object"


@pytest.mark.parametrize("version", VERSIONS)
def test_validators_are_compiled_once_and_accept_valid_payloads(version: str) -> None:
    check = schemas.validator(version, "BootNotification", schemas.REQUEST)
    assert check is not None
    assert schemas.validator(version, "BootNotification", schemas.REQUEST) is check
    assert (
        schemas.check_payload(version, "BootNotification", schemas.REQUEST, BOOT_REQUEST[version])
        is None
    )
    assert (
        schemas.check_payload(version, "BootNotification", schemas.RESPONSE, BOOT_RESPONSE) is None
    )


@pytest.mark.parametrize(
    "action",
    ["__class__", "valueOf", "../v201/BootNotification", "BootNotificationResponse", "", "Nope"],
)
def test_unknown_action_names_never_reach_the_file_system(action: str) -> None:
    assert schemas.validator("ocpp1.6", action, schemas.REQUEST) is None
    assert schemas.check_payload("ocpp1.6", action, schemas.REQUEST, {"x": 1}) is None


def test_validation_never_inserts_defaults() -> None:
    payload = {"chargePointVendor": "v", "chargePointModel": "m"}
    before = dict(payload)
    schemas.check_payload("ocpp1.6", "BootNotification", schemas.REQUEST, payload)
    assert payload == before


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"idTag": 5}, "TypeConstraintViolation"),
        ({}, "OccurenceConstraintViolation"),
        ({"idTag": "x" * 21}, "PropertyConstraintViolation"),
        ({"idTag": "x", "more": 1}, "FormationViolation"),
    ],
)
def test_schema_failures_map_to_16_codes(payload: dict[str, object], code: str) -> None:
    err = schemas.check_payload("ocpp1.6", "Authorize", schemas.REQUEST, payload)
    assert err is not None and err.code == code


def test_enum_and_date_time_format_are_property_violations() -> None:
    bad_enum = {**BOOT_RESPONSE, "status": "Maybe"}
    bad_time = {**BOOT_RESPONSE, "currentTime": "yesterday"}
    for payload in (bad_enum, bad_time):
        for incoming in (False, True):  # what we send and what the peer sent
            err = schemas.check_payload(
                "ocpp2.0.1", "BootNotification", schemas.RESPONSE, payload, incoming
            )
            assert err is not None and err.code == "PropertyConstraintViolation"


def test_an_infinite_number_in_a_multiple_of_field_is_a_property_violation() -> None:
    period: dict[str, float] = {"startPeriod": 0, "limit": float("inf")}
    profile = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]},
        },
    }
    err = schemas.check_payload("ocpp1.6", "SetChargingProfile", schemas.REQUEST, profile)
    assert err is not None and err.code == "PropertyConstraintViolation"
    period["limit"] = 6.1
    assert schemas.check_payload("ocpp1.6", "SetChargingProfile", schemas.REQUEST, profile) is None


def test_incoming_and_outgoing_validators_are_separate_and_counted() -> None:
    before = schemas.compiled_count()
    strict = schemas.validator("ocpp2.1", "Heartbeat", schemas.RESPONSE)
    lenient = schemas.validator("ocpp2.1", "Heartbeat", schemas.RESPONSE, incoming=True)
    assert strict is not None and lenient is not None and strict is not lenient
    assert schemas.compiled_count() <= before + 2
    assert schemas.validator("ocpp2.1", "Heartbeat", schemas.RESPONSE, incoming=True) is lenient
