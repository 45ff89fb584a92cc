"""The control pilot drives the connector (IEC 61851-1 Annex A states -> OCPP 1.6 §4.9 status),
and the model offers the EVSE controller a current (SetOfferedCurrent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.commands import SetOfferedCurrent
from cpagent.chargepoint.connector import ConnectorStatus
from hw.events import CardPresented, DeviceFaulted, DeviceRecovered, PilotChanged, PlugChanged
from tests.support.profiles import tx_profile

from .rig import Rig

S = ConnectorStatus
MAX_A = 32.0  # the rig's Electrical rating


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    r.connect()
    r.event(PilotChanged("1", "A", None))  # the controller's first read: no vehicle
    r.clear()
    yield r
    r.store.close()


def pilot(rig: Rig, state: str) -> None:
    p = rig.cp.charging.points[1]
    rig.event(PilotChanged("1", state, p.pilot))


def offers(rig: Rig) -> list[float]:
    return [c.amps for c in rig.commands if isinstance(c, SetOfferedCurrent)]


def status(rig: Rig) -> ConnectorStatus:
    return rig.cp.charging.points[1].connector.status


def last_status(rig: Rig) -> dict[str, Any]:
    return [p for p in rig.sent("StatusNotification") if p["connectorId"] == 1][-1]


def started(rig: Rig) -> None:
    pilot(rig, "B")
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.sent("StartTransaction")


def test_a_vehicle_in_state_b_is_preparing_and_nothing_is_offered_before_a_transaction(
    rig: Rig,
) -> None:
    pilot(rig, "B")
    assert status(rig) is S.PREPARING  # §4.9 A2
    assert rig.statuses() == ["Preparing"]
    assert offers(rig) == []  # not authorized: the pilot stays without PWM


def test_an_authorized_vehicle_is_offered_the_rating_then_charges_in_state_c(rig: Rig) -> None:
    started(rig)
    assert offers(rig) == [MAX_A]
    assert status(rig) is S.SUSPENDED_EV  # B during a transaction: the EV does not draw (B4)
    pilot(rig, "C")
    assert status(rig) is S.CHARGING  # D3
    pilot(rig, "D")
    assert status(rig) is S.CHARGING  # D: charging with ventilation
    assert rig.statuses() == ["Preparing", "SuspendedEV", "Charging"]


def test_a_car_that_never_goes_to_c_stays_suspended_ev(rig: Rig) -> None:
    started(rig)
    rig.advance(120)
    assert status(rig) is S.SUSPENDED_EV
    assert last_status(rig)["status"] == "SuspendedEV"


def test_a_zero_amp_profile_offers_0_and_suspends_evse_then_10_a_is_offered(rig: Rig) -> None:
    started(rig)
    pilot(rig, "C")
    payload = {"connectorId": 1, "csChargingProfiles": tx_profile(0.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    assert offers(rig)[-1] == 0.0
    assert status(rig) is S.SUSPENDED_EVSE  # C5
    payload = {"connectorId": 1, "csChargingProfiles": tx_profile(10.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    assert offers(rig)[-1] == 10.0
    assert status(rig) is S.CHARGING  # E3: the EV (still in C) draws again


def test_a_limit_below_6_a_offers_0(rig: Rig) -> None:
    started(rig)
    payload = {"connectorId": 1, "csChargingProfiles": tx_profile(5.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    assert offers(rig)[-1] == 0.0  # IEC 61851-1 Table A.8: no PWM below 6 A
    assert status(rig) is S.SUSPENDED_EVSE


def test_remote_start_with_a_10_a_tx_profile_offers_10_a(rig: Rig) -> None:
    rig.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"})
    answer = rig.call(
        "RemoteStartTransaction",
        {"idTag": "APP", "connectorId": 1, "chargingProfile": tx_profile(10.0)},
    )
    assert answer == {"status": "Accepted"}
    assert offers(rig) == []
    pilot(rig, "B")
    assert offers(rig) == [10.0]


def test_unplugging_ends_the_transaction_with_0_a_offered_first(rig: Rig) -> None:
    started(rig)
    pilot(rig, "C")
    n = len(rig.commands)
    pilot(rig, "A")
    assert rig.commands[n] == SetOfferedCurrent(1, 0.0)
    assert rig.sent("StopTransaction")[0]["reason"] == "EVDisconnected"
    assert status(rig) is S.AVAILABLE  # C1


def test_a_remote_stop_offers_0_before_the_stop_and_finishes_until_unplugged(rig: Rig) -> None:
    started(rig)
    pilot(rig, "C")
    tx_id = rig.sent("StartTransaction") and rig.cp.charging.points[1].tx
    assert tx_id is not None and tx_id.transaction_id is not None
    rig.answer("RemoteStopTransaction", {"transactionId": tx_id.transaction_id})
    assert offers(rig)[-1] == 0.0
    assert rig.sent("StopTransaction")[0]["reason"] == "Remote"
    assert status(rig) is S.FINISHING  # C6: the cable is still in
    pilot(rig, "B")  # the EV opens S2 when PWM stops
    assert status(rig) is S.FINISHING
    pilot(rig, "A")
    assert status(rig) is S.AVAILABLE  # F1


def test_a_residual_current_trip_faults_with_ground_failure_and_ends_the_transaction(
    rig: Rig,
) -> None:
    started(rig)
    pilot(rig, "C")
    rig.event(DeviceFaulted("1", "GroundFailure", "RCD tripped", vendor_code="ResidualCurrent"))
    assert offers(rig)[-1] == 0.0
    assert rig.sent("StopTransaction")[0]["reason"] == "Other"
    report = last_status(rig)
    assert report["status"] == "Faulted" and report["errorCode"] == "GroundFailure"  # §7.6
    assert report["vendorErrorCode"] == "ResidualCurrent"
    rig.event(DeviceRecovered("1"))
    assert status(rig) is S.FINISHING  # I6: back to where the stopped transaction left it


def test_a_pilot_short_faults_with_ev_communication_error(rig: Rig) -> None:
    pilot(rig, "B")
    pilot(rig, "E")
    rig.event(DeviceFaulted("1", "EVCommunicationError", "pilot shorted", vendor_code="PilotShort"))
    report = last_status(rig)
    assert report["status"] == "Faulted" and report["errorCode"] == "EVCommunicationError"


def test_another_controller_fault_is_other_error_with_the_vendor_code(rig: Rig) -> None:
    rig.event(DeviceFaulted("1", "OtherError", "no earth", vendor_code="NoGround"))
    report = last_status(rig)
    assert (report["status"], report["errorCode"], report["vendorErrorCode"]) == (
        "Faulted",
        "OtherError",
        "NoGround",
    )


def test_a_reset_offers_0_a(rig: Rig) -> None:
    started(rig)
    pilot(rig, "C")
    assert rig.answer("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert offers(rig)[-1] == 0.0
    assert rig.sent("StopTransaction")


def test_with_a_pilot_the_plug_input_is_not_the_truth(rig: Rig) -> None:
    rig.event(PlugChanged("1", True))
    assert status(rig) is S.AVAILABLE and not rig.cp.charging.points[1].plugged


def test_snapshot_shows_the_pilot_and_the_offered_current(rig: Rig) -> None:
    started(rig)
    views = {v.connector_id: v for v in rig.cp.charging.snapshot()}
    assert views[1].pilot == "B" and views[1].offered_current_a == MAX_A
    assert views[0].pilot is None and views[0].offered_current_a is None


def test_current_offered_in_meter_values_is_what_the_pilot_offers(rig: Rig) -> None:
    """OCPP 1.6 §7.31 Current.Offered, "maximum current offered to EV": on a pilot connector
    that is the pilot's offer, so a 5 A limit (no PWM below 6 A, IEC 61851-1 Table A.8) is 0."""
    started(rig)
    payload = {"connectorId": 1, "csChargingProfiles": tx_profile(5.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    assert rig.sampled_on_trigger("Current.Offered") == 0.0
