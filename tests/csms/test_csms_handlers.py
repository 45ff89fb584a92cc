"""The bench CSMS answers every chargepoint-initiated 1.6 message validly and records it."""

from __future__ import annotations

from typing import Any

import pytest

from cpagent.csms.handlers import CentralHandlers, HandlerSettings
from cpagent.csms.state import CsmsState, TransactionStatus
from tests.csms.schemas import validate_request, validate_response

NOW = 1_700_000_000.0
STAMP = "2026-11-30T00:00:00Z"

REQUESTS: dict[str, dict[str, Any]] = {
    "BootNotification": {"chargePointVendor": "cpagent", "chargePointModel": "bench"},
    "Heartbeat": {},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    "Authorize": {"idTag": "ABC123"},
    "StartTransaction": {
        "connectorId": 1,
        "idTag": "ABC123",
        "meterStart": 1000,
        "timestamp": STAMP,
    },
    "StopTransaction": {
        "transactionId": 1,
        "meterStop": 1500,
        "timestamp": STAMP,
        "idTag": "ABC123",
    },
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [{"timestamp": STAMP, "sampledValue": [{"value": "1200"}]}],
    },
    "DataTransfer": {"vendorId": "com.example", "messageId": "hello", "data": "x"},
    "DiagnosticsStatusNotification": {"status": "Uploaded"},
    "FirmwareStatusNotification": {"status": "Installed"},
}


def make(id_tags: list[str] | None = None) -> tuple[CsmsState, CentralHandlers]:
    state = CsmsState()
    return state, CentralHandlers(state, HandlerSettings.with_id_tags(id_tags))


def test_every_chargepoint_initiated_action_has_a_handler() -> None:
    _, handlers = make()
    assert set(handlers.table()) == set(REQUESTS)


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_answer_validates_against_the_official_schema(action: str) -> None:
    _, handlers = make(["ABC123"])
    validate_request(action, REQUESTS[action])
    answer = handlers.table()[action]("CP001", REQUESTS[action], NOW)
    validate_response(action, answer)


def test_boot_notification_is_accepted_with_interval_and_time() -> None:
    state, handlers = make()
    answer = handlers.boot_notification("CP001", REQUESTS["BootNotification"], NOW)
    assert answer == {
        "status": "Accepted",
        "currentTime": "2023-11-14T22:13:20.000Z",
        "interval": 300,
    }
    assert state.chargepoints["CP001"].boot == REQUESTS["BootNotification"]


@pytest.mark.parametrize(
    ("accepted", "id_tag", "status"),
    [
        (["ABC123"], "ABC123", "Accepted"),
        (["ABC123"], "NOPE", "Invalid"),
        (["ABC123", "DEF456"], "DEF456", "Accepted"),
        (None, "ANYTHING", "Accepted"),
    ],
)
def test_authorize_follows_the_accepted_list(
    accepted: list[str] | None, id_tag: str, status: str
) -> None:
    _, handlers = make(accepted)
    assert handlers.authorize("CP001", {"idTag": id_tag}, NOW) == {"idTagInfo": {"status": status}}


def test_transactions_get_increasing_ids_and_collect_meter_values() -> None:
    state, handlers = make(["ABC123"])
    first = handlers.start_transaction("CP001", REQUESTS["StartTransaction"], NOW)
    second = handlers.start_transaction(
        "CP002", {**REQUESTS["StartTransaction"], "idTag": "OTHER"}, NOW
    )
    assert (first["transactionId"], second["transactionId"]) == (1, 2)
    assert second["idTagInfo"] == {"status": "Invalid"}

    handlers.meter_values("CP001", REQUESTS["MeterValues"], NOW)
    stop = handlers.stop_transaction("CP001", REQUESTS["StopTransaction"], NOW)
    assert stop == {"idTagInfo": {"status": "Accepted"}}

    transaction = state.transactions[1]
    assert transaction.status is TransactionStatus.STOPPED
    assert transaction.energy_wh == 500
    assert transaction.meter_values == REQUESTS["MeterValues"]["meterValue"]
    assert [t.id for t in state.active_transactions()] == [2]


def test_stop_without_id_tag_has_no_id_tag_info() -> None:
    _, handlers = make()
    handlers.start_transaction("CP001", REQUESTS["StartTransaction"], NOW)
    payload = {k: v for k, v in REQUESTS["StopTransaction"].items() if k != "idTag"}
    assert handlers.stop_transaction("CP001", payload, NOW) == {}


@pytest.mark.parametrize(
    ("action", "field", "expected"),
    [
        ("DiagnosticsStatusNotification", "diagnostics_status", "Uploaded"),
        ("FirmwareStatusNotification", "firmware_status", "Installed"),
    ],
)
def test_status_notifications_are_recorded(action: str, field: str, expected: str) -> None:
    state, handlers = make()
    handlers.table()[action]("CP001", REQUESTS[action], NOW)
    assert getattr(state.chargepoints["CP001"], field) == expected


def test_connector_status_and_state_json() -> None:
    state, handlers = make()
    handlers.status_notification("CP001", REQUESTS["StatusNotification"], NOW)
    view = state.to_json("CP001")
    assert view["chargepoints"][0]["connectors"]["1"]["status"] == "Available"
