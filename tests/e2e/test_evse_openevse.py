"""Hardware in the loop through the daemon: the real OpenEvse driver (`[connector.evse] driver =
"openevse"`) against the RAPI twin on a pty, driven by the public `ocpp` central system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16 import call

from hw.evse.openevse_sim import OpenEvseTwin
from hw.evse.rapi import EvseState
from tests.e2e.conftest import FAST_KEYS, configure
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID
from tests.e2e.rigs import connector_daemon
from tests.support.daemon import DaemonProcess
from tests.support.net import wait_until
from tests.support.profiles import tx_profile


@pytest.fixture
def board() -> Iterator[OpenEvseTwin]:
    with OpenEvseTwin(max_hw_a=32, eeprom_current_a=32) as twin:
        yield twin


@pytest.fixture
def daemon(
    tmp_path: Path, csms: StrictCentralSystem, board: OpenEvseTwin
) -> Iterator[DaemonProcess]:
    connector = (
        "[[connector]]\nmax_current_a = 16.0\n\n"
        '[connector.meter]\ndriver = "sim"\npoll_interval_s = 0.2\n\n'
        f'[connector.evse]\ndriver = "openevse"\nport = "{board.port}"\n'
    )
    yield from connector_daemon(tmp_path, csms.url, connector, "cpoevse-")


def _offering(board: OpenEvseTwin) -> float:
    """What the twin's pilot offers: its current while awake, 0 while asleep or disabled."""
    return float(board.current_a) if board.mode == EvseState.UNKNOWN else 0.0


def test_the_board_offers_the_tx_profile_sleeps_at_0_a_and_at_the_end(
    daemon: DaemonProcess, csms: StrictCentralSystem, board: OpenEvseTwin
) -> None:
    daemon.launch()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="BootNotification Accepted")
    csms.wait_status(1, "Available")
    configure(csms, **FAST_KEYS)
    assert board.mode == EvseState.SLEEPING  # `$FS` at start: the EEPROM's 32 A not offered

    answer = csms.call(
        CHARGEPOINT_ID,
        call.RemoteStartTransaction(id_tag="APP", connector_id=1, charging_profile=tx_profile(10)),
    )
    assert answer.status == "Accepted"
    board.vehicle.plug(wants_charge=True)
    csms.wait_status(1, "Charging", timeout=20.0)
    assert _offering(board) == 10.0  # `$SC 10 V` then `$FE`: the TxProfile's 10 A
    assert "SC 10 V" in board.commands
    assert board.eeprom_current_a == 32  # volatile: smart charging never wears the EEPROM
    assert board.vehicle.draw_a == 10.0  # the EV could take 32 A
    conn = daemon.wait_connector(lambda c: c["pilot"] == "C", what="pilot C")
    assert conn["offered_current_a"] == 10.0

    tx_id = conn["transaction"]["id"]
    _set_profile(csms, 0, tx_id)
    csms.wait_status(1, "SuspendedEVSE", timeout=20.0)  # OCPP 1.6 §4.9 C5
    wait_until(lambda: board.mode == EvseState.SLEEPING, 10, "the board asleep ($FS)")
    assert board.vehicle.draw_a == 0.0
    assert not csms.calls("StopTransaction")  # 0 A suspends; the transaction goes on

    _set_profile(csms, 12, tx_id)  # the limit rises again: the board wakes at 12 A
    csms.wait_status(1, "Charging", timeout=20.0)  # §4.9 E3
    wait_until(lambda: _offering(board) == 12.0, 10, "the board awake at 12 A")

    answer = csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=tx_id))
    assert answer.status == "Accepted"
    assert csms.wait_call("StopTransaction")["reason"] == "Remote"
    # 0 A before the transaction ends (the safety rule): the board sleeps, the EV stops
    wait_until(lambda: board.mode == EvseState.SLEEPING, 10, "the board asleep at the end")
    assert board.vehicle.draw_a == 0.0
    csms.wait_status(1, "Finishing")  # the cable is still in (§4.9 C6)


def _set_profile(csms: StrictCentralSystem, limit: float, tx_id: int) -> None:
    status = csms.call(
        CHARGEPOINT_ID,
        call.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile(limit, tx_id)),
    )
    assert status.status == "Accepted"
