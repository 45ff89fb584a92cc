"""Remote Trigger end to end: TriggerMessage for every triggerable message."""

from __future__ import annotations

import pytest
from ocpp.v16 import call

from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon

Shared = tuple[Daemon, StrictCentralSystem]


@pytest.mark.parametrize(
    ("requested", "connector_id", "follows", "count"),
    [
        ("Heartbeat", None, "Heartbeat", 1),
        ("Heartbeat", 7, "Heartbeat", 1),  # connectorId irrelevant to it: ignored (§5.17)
        ("StatusNotification", 1, "StatusNotification", 1),
        ("StatusNotification", None, "StatusNotification", 2),  # connector 0 and 1
        ("MeterValues", 1, "MeterValues", 1),
        ("MeterValues", None, "MeterValues", 1),
    ],
)
def test_trigger_message_sends_the_message(
    shared: Shared, requested: str, connector_id: int | None, follows: str, count: int
) -> None:
    daemon, csms = shared
    before = len(csms.calls(follows))
    answer = csms.call(
        CHARGEPOINT_ID, call.TriggerMessage(requested_message=requested, connector_id=connector_id)
    )
    assert answer.status == "Accepted"
    csms.wait_call(follows, count=before + count)
    sent = csms.calls(follows)[before:]
    if requested == "StatusNotification":
        assert sorted(p["connectorId"] for p in sent) == ([1] if connector_id else [0, 1])
        assert all(p["status"] == "Available" for p in sent)
    if requested == "MeterValues":
        values = sent[0]["meterValue"][0]["sampledValue"]
        assert sent[0]["connectorId"] == 1 and "transactionId" not in sent[0]
        assert {v["context"] for v in values} == {"Trigger"}
    assert daemon.status()["registration"] == "Accepted"


@pytest.mark.parametrize(
    ("requested", "connector_id", "answer"),
    [
        ("StatusNotification", 5, "Rejected"),  # no such connector
        ("BootNotification", None, "Rejected"),  # once Accepted (errata 3.35): no risky re-boot
        ("DiagnosticsStatusNotification", None, "NotImplemented"),  # no FirmwareManagement
        ("FirmwareStatusNotification", None, "NotImplemented"),
    ],
)
def test_trigger_message_refusals(
    shared: Shared, requested: str, connector_id: int | None, answer: str
) -> None:
    _, csms = shared
    before = len(csms.decoded())
    result = csms.call(
        CHARGEPOINT_ID, call.TriggerMessage(requested_message=requested, connector_id=connector_id)
    )
    assert result.status == answer
    assert all(f.action != requested for f in csms.decoded()[before:])


def test_while_pending_a_triggered_message_goes_out_at_once(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    """§4.2: while Pending, the charge point sends requests only when a TriggerMessage asks;
    then at once, not after the boot interval. TriggerMessage(BootNotification) is Accepted
    while Pending and the new BootNotification is not held back either."""
    csms.boot_status, csms.heartbeat_interval = "Pending", 300
    daemon.start()
    csms.wait_call("BootNotification")
    daemon.wait(lambda s: s["registration"] == "Pending", what="pending")
    answer = csms.call(
        CHARGEPOINT_ID, call.TriggerMessage(requested_message="StatusNotification", connector_id=1)
    )
    assert answer.status == "Accepted"
    report = csms.wait_call("StatusNotification", timeout=5)
    assert (report["connectorId"], report["status"]) == (1, "Available")
    assert set(csms.actions()) == {"BootNotification", "StatusNotification"}
    csms.boot_status = "Accepted"
    answer = csms.call(CHARGEPOINT_ID, call.TriggerMessage(requested_message="BootNotification"))
    assert answer.status == "Accepted"
    csms.wait_call("BootNotification", count=2, timeout=5)
    daemon.wait(lambda s: s["registration"] == "Accepted", timeout=5, what="accepted")
