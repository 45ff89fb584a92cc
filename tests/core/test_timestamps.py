"""Date-times from a peer: ISO 8601, offset optional (= UTC); what we send stays strict RFC 3339."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cpagent.core import CallAnswered, CallFailed, CallReceived, InvalidPayload, Session, schemas
from cpagent.core.timestamps import is_datetime, parse_datetime

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp()

# (text, POSIX seconds it means)
GOOD = [
    ("2026-12-01T10:00:00Z", T0),
    ("2026-12-01T10:00:00", T0),  # datetime.utcnow().isoformat(): no offset = UTC
    ("2026-12-01T10:00:00.123456", T0 + 0.123456),  # ... with microseconds
    ("2026-12-01T10:00:00.5", T0 + 0.5),
    ("2026-12-01T10:00:00.123456789Z", T0 + 0.123456789),
    ("2026-12-01T10:00:00,25Z", T0 + 0.25),  # ISO 8601 decimal comma
    ("2026-12-01T10:00", T0),  # Java LocalDateTime.toString() drops zero seconds
    ("2026-12-01T11:00:00+01:00", T0),
    ("2026-12-01T05:30:00-04:30", T0),
    ("2026-12-01T11:00:00+0100", T0),
    ("2026-12-01T11:00:00+01", T0),
    ("2026-12-01T10:00:00+00:00", T0),
    ("2026-12-01t10:00:00z", T0),
    ("2026-12-01 10:00:00", T0),  # RFC 3339 §5.6 NOTE: a space may separate date and time
    ("2026-12-01T09:59:60Z", T0),  # a leap second: the first instant of the next minute
    ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC).timestamp()),
    ("1970-01-01T00:00:00Z", 0.0),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC).timestamp()),
]
BAD = [
    "",
    "yesterday",
    "2026-12-01",
    "10:00:00",
    "20261201T100000Z",
    "2026-W49-2T10:00:00",
    "2026-13-01T10:00:00",
    "2026-00-01T10:00:00",
    "2026-12-32T10:00:00",
    "2025-02-29T10:00:00",
    "2026-04-31T10:00:00",
    "2026-12-01T24:00:00",
    "2026-12-01T10:60:00",
    "2026-12-01T10:00:61",
    "2026-12-01T10:00:00+24:00",
    "2026-12-01T10:00:00+01:60",
    "2026-12-01T10:00:00 Z",
    "2026-12-01T10:00:00.",
    "2026-12-01T10:00:00.1234567890Z",
    "2026-12-01T10:00:00ZZ",
    " 2026-12-01T10:00:00Z",
    "2026-12-01T10:00:00Z\n",
    "0000-01-01T00:00:00Z",
    "\u0662\u0660\u0662\u0666-12-01T10:00:00",
    "2026-12-01T1:00:00",
    "2026-1-01T10:00:00",
]


@pytest.mark.parametrize(("text", "seconds"), GOOD)
def test_iso_8601_date_times_are_read_with_no_offset_as_utc(text: str, seconds: float) -> None:
    assert parse_datetime(text) == pytest.approx(seconds, abs=1e-6)
    assert is_datetime(text)


@pytest.mark.parametrize("text", BAD)
def test_malformed_date_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)
    assert not is_datetime(text)


@pytest.mark.parametrize("value", [None, 1796119200, 1.5, ["2026-12-01T10:00:00Z"]])
def test_non_strings_are_not_date_times(value: Any) -> None:
    assert not is_datetime(value)


def test_agrees_with_the_standard_library_for_every_day_of_four_years() -> None:
    start = datetime(2023, 1, 1, 13, 7, 9, tzinfo=UTC).timestamp()
    for day in range(4 * 366):
        when = datetime.fromtimestamp(start + day * 86400, UTC)
        assert parse_datetime(when.replace(tzinfo=None).isoformat()) == when.timestamp()


# (version, action, direction, payload with a date-time in it) - one per date-time field kind
NO_OFFSET = "2026-12-01T10:00:00"
FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "ocpp1.6",
        "BootNotification",
        "response",
        {"status": "Accepted", "currentTime": NO_OFFSET, "interval": 300},
    ),
    ("ocpp1.6", "Heartbeat", "response", {"currentTime": NO_OFFSET}),
    (
        "ocpp1.6",
        "StartTransaction",
        "response",
        {"transactionId": 7, "idTagInfo": {"status": "Accepted", "expiryDate": NO_OFFSET}},
    ),
    (
        "ocpp1.6",
        "Authorize",
        "response",
        {"idTagInfo": {"status": "Accepted", "expiryDate": NO_OFFSET}},
    ),
    (
        "ocpp1.6",
        "StopTransaction",
        "response",
        {"idTagInfo": {"status": "Accepted", "expiryDate": NO_OFFSET}},
    ),
    (
        "ocpp1.6",
        "SendLocalList",
        "request",
        {
            "listVersion": 2,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": NO_OFFSET}}
            ],
        },
    ),
    (
        "ocpp1.6",
        "ReserveNow",
        "request",
        {"connectorId": 1, "expiryDate": NO_OFFSET, "idTag": "A", "reservationId": 3},
    ),
    (
        "ocpp1.6",
        "SetChargingProfile",
        "request",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "validFrom": NO_OFFSET,
                "validTo": "2026-12-02T10:00",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "startSchedule": NO_OFFSET + ".5",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
                },
            },
        },
    ),
    (
        "ocpp1.6",
        "GetDiagnostics",
        "request",
        {"location": "ftp://127.0.0.1/", "startTime": NO_OFFSET, "stopTime": NO_OFFSET},
    ),
    (
        "ocpp1.6",
        "UpdateFirmware",
        "request",
        {"location": "http://127.0.0.1/fw.bin", "retrieveDate": NO_OFFSET},
    ),
    (
        "ocpp2.0.1",
        "BootNotification",
        "response",
        {"status": "Accepted", "currentTime": NO_OFFSET, "interval": 300},
    ),
    ("ocpp2.1", "Heartbeat", "response", {"currentTime": "2026-12-01T11:00:00+01:00"}),
]


@pytest.mark.parametrize(
    ("version", "action", "direction", "payload"),
    FIELDS,
    ids=[f"{v}-{a}-{d}" for v, a, d, _ in FIELDS],
)
def test_incoming_date_times_without_offset_pass_outgoing_ones_do_not(
    version: str, action: str, direction: str, payload: dict[str, Any]
) -> None:
    assert schemas.check_payload(version, action, direction, payload, incoming=True) is None
    err = schemas.check_payload(version, action, direction, payload)  # what we send: strict
    if "+01:00" in json.dumps(payload):
        assert err is None  # RFC 3339 allows any offset; only a missing one is ours to refuse
    else:
        assert err is not None and err.code == "PropertyConstraintViolation"


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T10:00:00", "2026-12-01"])
def test_malformed_incoming_date_time_is_a_property_constraint_violation(
    version: str, bad: str
) -> None:
    payload = {"status": "Accepted", "currentTime": bad, "interval": 300}
    err = schemas.check_payload(version, "BootNotification", "response", payload, incoming=True)
    assert err is not None and err.code == "PropertyConstraintViolation"
    assert "currentTime" in err.description


def test_a_session_accepts_an_offset_less_answer_and_call_but_sends_only_strict_ones() -> None:
    s = Session("ocpp1.6")
    s.connected(0.0)
    s.call("b", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}, 0.0)
    s.drain_frames()
    s.receive('[3,"b",{"status":"Accepted","currentTime":"2026-12-01T10:00:00","interval":5}]', 0.0)
    (answered,) = s.drain_events()
    assert isinstance(answered, CallAnswered)
    assert answered.payload["currentTime"] == "2026-12-01T10:00:00"
    s.receive(
        '[2,"r","ReserveNow",{"connectorId":1,"expiryDate":"2026-12-01T10:00:00.123",'
        '"idTag":"A","reservationId":1}]',
        0.0,
    )
    (call,) = s.drain_events()
    assert isinstance(call, CallReceived)
    s.answer("r", {"status": "Accepted"}, 0.0)
    # what we send is strict: a CALL without an offset is our bug, refused locally
    s.call(
        "h",
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": NO_OFFSET},
        0.0,
    )
    (failed,) = s.drain_events()
    assert isinstance(failed, CallFailed) and isinstance(failed.error, InvalidPayload)
    assert failed.error.error is not None
    assert failed.error.error.code == "PropertyConstraintViolation"
