"""The strict central system can fail a test: schema violations both ways are caught."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from ocpp.exceptions import FormatViolationError, OCPPError, ValidationError
from ocpp.v16 import call
from websockets.sync.client import ClientConnection, connect

from tests.e2e.csms import StrictCentralSystem


@pytest.fixture
def strict() -> Iterator[StrictCentralSystem]:
    central = StrictCentralSystem()
    central.start()
    try:
        yield central
    finally:
        central.close()


@pytest.fixture
def raw(strict: StrictCentralSystem) -> Iterator[ClientConnection]:
    with connect(f"{strict.url}/RAW-1", subprotocols=["ocpp1.6"]) as client:  # type: ignore[list-item]
        yield client


@pytest.mark.parametrize(
    "payload",
    [
        {"chargePointVendor": "cpagent"},  # model missing
        {"chargePointVendor": "cpagent", "chargePointModel": "x" * 21},  # CiString20 too long
        {"chargePointVendor": "cpagent", "chargePointModel": "m", "extra": 1},  # not allowed
    ],
)
def test_an_invalid_call_is_recorded_and_refused(
    strict: StrictCentralSystem, raw: ClientConnection, payload: dict[str, object]
) -> None:
    raw.send(json.dumps([2, "id-1", "BootNotification", payload]))
    answer = json.loads(raw.recv(timeout=5))
    assert answer[0] == 4 and answer[1] == "id-1"  # CALLERROR
    assert [v.chargepoint_id for v in strict.violations] == ["RAW-1"]


def test_an_invalid_call_result_makes_the_call_raise(
    strict: StrictCentralSystem, raw: ClientConnection
) -> None:
    strict.wait_connected("RAW-1")
    outcome: list[BaseException | object] = []
    caller = threading.Thread(target=lambda: outcome.append(_call(strict)))
    caller.start()
    request = json.loads(raw.recv(timeout=5))
    assert request[2] == "GetLocalListVersion"
    raw.send(json.dumps([3, request[1], {"listVersion": "two"}]))  # must be an integer
    caller.join(10)
    assert len(outcome) == 1 and isinstance(
        outcome[0], (ValidationError, FormatViolationError, OCPPError)
    )


def _call(strict: StrictCentralSystem) -> BaseException | object:
    try:
        return strict.call("RAW-1", call.GetLocalListVersion())
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        return exc
