"""An EVSE controller end to end (`[connector.evse] driver = "sim"`): the control pilot drives
the status (OCPP 1.6 §4.9), smart charging sets the current offered (IEC 61851-1 Annex A)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon
from tests.support.net import wait_until
from tests.support.profiles import tx_profile
from tests.support.sim_config import SimConnector

EVSE_CONNECTOR = SimConnector(None, None, 16.0, 0.2, evse="sim")  # no relay, no plug pin


@pytest.fixture
def daemon(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[Daemon]:
    sock_dir = Path(tempfile.mkdtemp(prefix="cpevse-"))  # sun_path is 107 bytes at most
    process = Daemon(tmp_path, sock_dir / "ctl.sock", csms.url, layout=(EVSE_CONNECTOR,))
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def _last_status(csms: StrictCentralSystem) -> dict[str, Any]:
    return [p for p in csms.calls("StatusNotification") if p["connectorId"] == 1][-1]


def test_remote_start_with_10_a_offers_10_a_and_a_0_a_profile_suspends_evse(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    idle = daemon.wait_connector(lambda c: c["pilot"] == "A", what="pilot A")
    assert idle["offered_current_a"] == 0.0
    answer = csms.call(
        CHARGEPOINT_ID,
        call.RemoteStartTransaction(id_tag="APP", connector_id=1, charging_profile=tx_profile(10)),
    )
    assert answer.status == "Accepted"
    daemon.do("plug", connector=1)  # the EV wants charge: C once >= 6 A is offered
    charging = daemon.wait_connector(
        lambda c: c["offered_current_a"] == 10.0 and c["pilot"] == "C", what="10 A offered, C"
    )
    csms.wait_status(1, "Charging")
    # the simulated EV draws what is offered, never more: 10 A x 230 V (it would take 32 A)
    charging = daemon.wait_connector(
        lambda c: c["meter"] and c["meter"]["power_w"] > 0, what="the EV draws"
    )
    assert charging["meter"]["power_w"] <= 10.0 * 230.0 + 1e-6

    tx_id = charging["transaction"]["id"]
    profile = tx_profile(0, transaction_id=tx_id)
    status = csms.call(
        CHARGEPOINT_ID, call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
    ).status
    assert status == "Accepted"
    daemon.wait_connector(
        lambda c: c["offered_current_a"] == 0.0 and c["pilot"] == "B", what="0 A offered, B"
    )
    csms.wait_status(1, "SuspendedEVSE")
    assert daemon.connector()["transaction"] is not None  # suspended, not ended
    daemon.wait_connector(lambda c: c["meter"]["power_w"] == 0.0, what="the EV stops drawing")


def test_a_car_that_never_goes_to_c_shows_suspended_ev(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("ev", connector=1, what="stop")  # S2 stays open: the car does not want charge
    csms.wait_status(1, "Preparing")
    daemon.do("tap", id_tag="CARD-E")
    csms.wait_call("StartTransaction")
    daemon.wait_connector(lambda c: c["offered_current_a"] == 16.0, what="16 A offered")
    csms.wait_status(1, "SuspendedEV")
    assert daemon.connector()["pilot"] == "B"


def test_a_residual_current_trip_faults_with_ground_failure_and_ends_the_transaction(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-F")
    csms.wait_status(1, "Charging")
    daemon.do("ev", connector=1, what="fault", code="ResidualCurrent")
    csms.wait_status(1, "Faulted")
    report = _last_status(csms)
    assert report["errorCode"] == "GroundFailure"  # OCPP 1.6 §7.6: the GFCI/RCD tripped
    assert report["vendorErrorCode"] == "ResidualCurrent"
    stop = csms.wait_call("StopTransaction")
    assert stop["reason"] == "Other"
    assert daemon.connector()["offered_current_a"] == 0.0
    daemon.do("ev", connector=1, what="clear")
    csms.wait_status(1, "Finishing")  # back from Faulted; the cable is still in (I6)
    daemon.do("unplug", connector=1)
    csms.wait_status(1, "Available")


def test_the_meter_recovering_does_not_clear_a_residual_current_fault(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    """Each device has its own fault (OCPP 1.6 §4.9 I-row: Faulted until every fault is
    gone): a meter that recovers must not end the controller's residual-current trip."""
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("ev", connector=1, what="fault", code="ResidualCurrent")
    csms.wait_status(1, "Faulted")
    daemon.do("fault", connector=1, code="PowerMeterFailure")
    wait_until(
        lambda: "faulted: PowerMeterFailure" in daemon.log_path.read_text(),
        5,
        "the meter's fault seen",
    )
    daemon.do("clear-fault", connector=1)
    wait_until(
        lambda: daemon.log_path.read_text().count("connector1:meter recovered") >= 1,
        5,
        "the meter's recovery handled",
    )
    assert daemon.connector()["status"] == "Faulted"
    assert _last_status(csms)["status"] == "Faulted"
    daemon.do("ev", connector=1, what="clear")
    csms.wait_status(1, "Preparing")
