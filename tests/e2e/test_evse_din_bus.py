"""Hardware in the loop through the daemon: the real EvseDin and SdmMeter drivers share one
simulated RS-485 bus (EvseDinTwin unit 2 + SdmTwin unit 1 on one pty), against the public
`ocpp` central system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16 import call

from hw.evse.evse_din_sim import EvseDinTwin
from hw.meters.rtu_sim import SdmTwin
from hw.rtu_twin import RtuBusSimulator
from tests.e2e.conftest import FAST_KEYS, configure
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID
from tests.e2e.rigs import connector_daemon
from tests.support.daemon import DaemonProcess
from tests.support.profiles import tx_profile

RESIDUAL_CURRENT_BIT = 1 << 5  # EVSE-DIN register 1007 bit 5: RCD tripped


@pytest.fixture
def board() -> EvseDinTwin:
    return EvseDinTwin(unit=2)


@pytest.fixture
def bus(board: EvseDinTwin) -> Iterator[RtuBusSimulator]:
    meter = SdmTwin("SDM630", unit=1)
    meter.set(voltage_v=230.0, current_a=0.0, power_w=0.0, energy_wh=1000.0, frequency_hz=50.0)
    with RtuBusSimulator([meter, board]) as simulator:
        yield simulator


@pytest.fixture
def daemon(
    tmp_path: Path, csms: StrictCentralSystem, bus: RtuBusSimulator
) -> Iterator[DaemonProcess]:
    connector = (
        "[[connector]]\nmax_current_a = 16.0\n\n"
        f'[connector.meter]\ndriver = "sdm630"\nport = "{bus.port}"\nunit = 1\n'
        "poll_interval_s = 0.5\n\n"
        f'[connector.evse]\ndriver = "evse-din"\nport = "{bus.port}"\nunit = 2\n'
    )
    yield from connector_daemon(tmp_path, csms.url, connector, "cpdin-")


def test_the_board_offers_the_tx_profile_and_a_residual_current_trip_faults(
    daemon: DaemonProcess, csms: StrictCentralSystem, board: EvseDinTwin
) -> None:
    daemon.launch()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="BootNotification Accepted")
    csms.wait_status(1, "Available")
    configure(csms, **FAST_KEYS)
    assert board.configured_a == 0  # the factory 32 A was overwritten at start
    answer = csms.call(
        CHARGEPOINT_ID,
        call.RemoteStartTransaction(id_tag="APP", connector_id=1, charging_profile=tx_profile(10)),
    )
    assert answer.status == "Accepted"
    board.vehicle.plug(wants_charge=True)
    csms.wait_status(1, "Charging", timeout=20.0)
    assert board.configured_a == 10  # register 1000 holds the TxProfile's 10 A
    conn = daemon.wait_connector(lambda c: c["pilot"] == "C", what="pilot C")
    assert conn["offered_current_a"] == 10.0
    assert board.vehicle.draw_a == 10.0  # the EV could take 32 A

    board.inject_fault(RESIDUAL_CURRENT_BIT)
    csms.wait_status(1, "Faulted", timeout=20.0)
    report = [p for p in csms.calls("StatusNotification") if p["connectorId"] == 1][-1]
    assert (report["errorCode"], report["vendorErrorCode"]) == ("GroundFailure", "ResidualCurrent")
    assert csms.wait_call("StopTransaction")["reason"] == "Other"
    assert board.configured_a == 0
