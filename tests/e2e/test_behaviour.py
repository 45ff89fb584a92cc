"""Behaviour around a session: stop reasons, faults, boot refusal, clock-aligned values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from tests.e2e.conftest import boot, configure
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon
from tests.support.net import wait_until


def _charging(daemon: Daemon, csms: StrictCentralSystem, id_tag: str = "CARD-B") -> None:
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag=id_tag)
    daemon.wait_connector(lambda c: c["relay"] is True, what="charging")
    csms.wait_status(1, "Charging")


def test_unplugging_stops_with_ev_disconnected(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    _charging(daemon, csms)
    daemon.do("unplug", connector=1)
    stop = csms.wait_call("StopTransaction")
    assert stop["reason"] == "EVDisconnected"
    daemon.wait_connector(lambda c: c["relay"] is False, what="relay open")
    csms.wait_status(1, "Available")


def test_an_invalid_id_on_start_transaction_stops_it(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, AuthorizeRemoteTxRequests="false")
    csms.set_valid_id_tags({"SOMEONE"})  # the remote start's tag is refused at Start
    answer = csms.call(CHARGEPOINT_ID, call.RemoteStartTransaction(id_tag="STOLEN", connector_id=1))
    assert answer.status == "Accepted"
    daemon.do("plug", connector=1)
    start = csms.wait_call("StartTransaction")
    assert start["idTag"] == "STOLEN" and not csms.calls("Authorize")
    stop = csms.wait_call("StopTransaction")  # StopTransactionOnInvalidId (default true)
    assert (stop["reason"], stop["transactionId"]) == ("DeAuthorized", 1)
    daemon.wait_connector(
        lambda c: c["relay"] is False and c["transaction"] is None, what="relay open"
    )


def test_an_invalid_id_with_stop_on_invalid_id_false_only_stops_energy(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    """§3.5.4 / §4.8 (errata 3.17): StopTransactionOnInvalidId false: the relay opens
    (SuspendedEVSE), the transaction stays open until the driver ends it."""
    boot(daemon, csms, AuthorizeRemoteTxRequests="false", StopTransactionOnInvalidId="false")
    csms.set_valid_id_tags({"SOMEONE"})
    answer = csms.call(CHARGEPOINT_ID, call.RemoteStartTransaction(id_tag="STOLEN", connector_id=1))
    assert answer.status == "Accepted"
    daemon.do("plug", connector=1)
    csms.wait_call("StartTransaction")
    csms.wait_status(1, "SuspendedEVSE")
    connector = daemon.wait_connector(lambda c: c["relay"] is False, what="relay open")
    assert connector["transaction"] is not None and not csms.calls("StopTransaction")
    csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=1))
    assert csms.wait_call("StopTransaction")["reason"] == "Remote"


def test_a_meter_fault_stops_charging_and_clears(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    _charging(daemon, csms)
    daemon.do("fault", connector=1, code="PowerMeterFailure")
    csms.wait_status(1, "Faulted")
    report = csms.calls("StatusNotification")[-1]
    assert (report["connectorId"], report["errorCode"]) == (1, "PowerMeterFailure")
    stop = csms.wait_call("StopTransaction")
    assert stop["reason"] == "Other"
    assert daemon.connector()["relay"] is False
    daemon.do("clear-fault", connector=1)
    wait_until(lambda: csms.statuses(1)[-1] != "Faulted", 10, "fault cleared")
    assert csms.calls("StatusNotification")[-1]["errorCode"] == "NoError"
    assert daemon.connector()["relay"] is False  # a fault ends the session for good


@pytest.mark.parametrize("refusal", ["Rejected", "Pending"])
def test_nothing_but_boot_notification_until_accepted(
    daemon: Daemon, csms: StrictCentralSystem, refusal: str
) -> None:
    csms.boot_status, csms.heartbeat_interval = refusal, 1  # retry after 1 s
    daemon.start()
    csms.wait_call("BootNotification", count=2, timeout=6)
    assert set(csms.actions()) == {"BootNotification"}
    assert daemon.status()["registration"] == refusal
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-B")
    daemon.wait(lambda s: s["last_card"] == "CARD-B", what="tap seen")
    assert daemon.connector()["relay"] is False
    csms.boot_status, csms.heartbeat_interval = "Accepted", 300
    daemon.wait(lambda s: s["registration"] == "Accepted", timeout=6, what="accepted")
    csms.wait_status(1, "Preparing")


def test_clock_aligned_meter_values_fall_on_the_boundary(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, MeterValueSampleInterval="0")
    _charging(daemon, csms)
    configure(csms, ClockAlignedDataInterval="1")
    csms.wait_call("MeterValues", count=2, timeout=6)
    for payload in csms.calls("MeterValues")[:2]:
        value = payload["meterValue"][0]
        stamp = datetime.fromisoformat(value["timestamp"])
        assert stamp.microsecond == 0, f"{stamp} is not on a whole second"
        assert {v["context"] for v in value["sampledValue"]} == {"Sample.Clock"}
        assert payload["transactionId"] == 1


def test_stop_transaction_carries_the_configured_transaction_data(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, StopTxnSampledData="Energy.Active.Import.Register")
    _charging(daemon, csms)
    daemon.do("tap", id_tag="CARD-B")
    stop = csms.wait_call("StopTransaction")
    contexts = {v.get("context") for mv in stop["transactionData"] for v in mv["sampledValue"]}
    assert "Transaction.End" in contexts
    ends = [
        float(v["value"])
        for mv in stop["transactionData"]
        for v in mv["sampledValue"]
        if v.get("context") == "Transaction.End"
    ]
    assert ends and abs(ends[-1] - stop["meterStop"]) < 1.0


def test_minimum_status_duration_hides_short_lived_statuses(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, MinimumStatusDuration="1")
    reports = len(csms.statuses(1))
    daemon.do("plug", connector=1)
    daemon.do("unplug", connector=1)  # Preparing for a moment only
    daemon.wait_connector(lambda c: not c["plugged"], what="unplugged")
    daemon.do("plug", connector=1)  # this one lasts
    csms.wait_status(1, "Preparing", timeout=5)
    assert csms.statuses(1)[reports:] == ["Preparing"]


def test_timestamps_follow_the_central_system_clock(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    csms.clock_offset_s = 3 * 3600.0  # the CSMS is three hours ahead of this machine
    boot(daemon, csms)
    before = datetime.now(UTC) + timedelta(hours=3)
    _charging(daemon, csms)
    after = datetime.now(UTC) + timedelta(hours=3)
    start = datetime.fromisoformat(csms.calls("StartTransaction")[0]["timestamp"])
    slack = timedelta(milliseconds=5)
    assert before - slack <= start <= after + slack


def test_sampled_measurands_carry_their_units(daemon: Daemon, csms: StrictCentralSystem) -> None:
    wanted = {
        "Energy.Active.Import.Register": "Wh",
        "Power.Active.Import": "W",
        "Voltage": "V",
        "Current.Import": "A",
        "Current.Offered": "A",
    }
    boot(daemon, csms, MeterValuesSampledData=",".join(wanted))
    refused = csms.call(
        CHARGEPOINT_ID,
        call.ChangeConfiguration(
            key="MeterValuesSampledData", value="Energy.Active.Import.Register,SoC"
        ),
    )
    assert refused.status == "Rejected"  # the simulated meter has no state of charge
    _charging(daemon, csms)
    payload = csms.wait_call("MeterValues", lambda p: p.get("transactionId") == 1)
    sampled = payload["meterValue"][0]["sampledValue"]
    assert {v["measurand"]: v["unit"] for v in sampled} == wanted
    assert all(v["context"] == "Sample.Periodic" for v in sampled)
    value = {v["measurand"]: float(v["value"]) for v in sampled}
    assert value["Voltage"] == 230.0
    assert value["Current.Offered"] == 16.0  # no profile: the connector's maximum
