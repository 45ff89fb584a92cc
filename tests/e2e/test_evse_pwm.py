"""The DIY pilot through the daemon: `[connector.evse] driver = "pwm"` on the mock board (a
PWM-capable mock GPIO18, an MCP3008 on the mock SPI bus reading a simulated EV's pilot level),
the real PwmPilot driver, against the public `ocpp` central system."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16 import call

from hw.mock_board import BOARD_FILE, read_duties
from tests.e2e.conftest import FAST_KEYS, configure
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID
from tests.e2e.rigs import connector_daemon
from tests.support.daemon import DaemonProcess
from tests.support.net import wait_until
from tests.support.profiles import tx_profile

PWM = "GPIO18"
RELAY = "GPIO17"


@pytest.fixture
def daemon(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[DaemonProcess]:
    connector = (
        "[[connector]]\nrelay_pin = 17\nmax_current_a = 16.0\n\n"
        '[connector.meter]\ndriver = "sim"\npoll_interval_s = 0.2\n\n'
        '[connector.evse]\ndriver = "pwm"\npwm_pin = 18\nadc_channel = 0\n'
    )
    yield from connector_daemon(tmp_path, csms.url, connector, "cppwm-")


def test_the_pilot_duty_follows_the_tx_profile_and_the_adc_reads_the_ev(
    daemon: DaemonProcess, csms: StrictCentralSystem, tmp_path: Path
) -> None:
    board = tmp_path / "state" / BOARD_FILE

    def duty() -> float | None:
        return read_duties(board).get(PWM)

    daemon.launch()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="BootNotification Accepted")
    csms.wait_status(1, "Available")
    configure(csms, **FAST_KEYS)
    assert duty() == 1.0  # +12 V constant: nothing offered (IEC 61851-1 Table A.8)
    idle = daemon.wait_connector(lambda c: c["pilot"] == "A", what="the ADC reads 12 V: A")
    assert idle["offered_current_a"] == 0.0

    answer = csms.call(
        CHARGEPOINT_ID,
        call.RemoteStartTransaction(id_tag="APP", connector_id=1, charging_profile=tx_profile(10)),
    )
    assert answer.status == "Accepted"
    daemon.do("plug", connector=1)  # the simulated EV on the cable: 9 V, then 6 V once offered
    csms.wait_status(1, "Charging", timeout=20.0)
    assert duty() == pytest.approx(10 / 0.6 / 100)  # Table A.8: duty = I / 0.6 %
    conn = daemon.wait_connector(lambda c: c["pilot"] == "C", what="the ADC reads 6 V: C")
    assert conn["offered_current_a"] == 10.0
    assert read_duties(board)[RELAY] == 1.0  # the pwm back-end's contactor: its own relay

    tx_id = conn["transaction"]["id"]
    status = csms.call(
        CHARGEPOINT_ID,
        call.SetChargingProfile(connector_id=1, cs_charging_profiles=tx_profile(0, tx_id)),
    )
    assert status.status == "Accepted"
    csms.wait_status(1, "SuspendedEVSE", timeout=20.0)  # OCPP 1.6 §4.9 C5
    wait_until(lambda: duty() == 1.0, 10, f"the PWM back at 100 % (duty {duty()})")
    daemon.wait_connector(lambda c: c["pilot"] == "B", what="the EV opened S2: 9 V, B")

    answer = csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=tx_id))
    assert answer.status == "Accepted"
    assert csms.wait_call("StopTransaction")["reason"] == "Remote"
    assert duty() == 1.0
    wait_until(lambda: read_duties(board)[RELAY] == 0.0, 10, "the relay open at the end")


def test_a_pilot_shorted_to_pe_faults_with_ev_communication_error(
    daemon: DaemonProcess, csms: StrictCentralSystem, tmp_path: Path
) -> None:
    daemon.launch()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="BootNotification Accepted")
    csms.wait_status(1, "Available")
    daemon.do("plug", connector=1)
    csms.wait_status(1, "Preparing")
    daemon.do("ev", connector=1, what="fault", code="PilotShort")  # 0 V on the ADC: state E
    csms.wait_status(1, "Faulted", timeout=20.0)
    report = [p for p in csms.calls("StatusNotification") if p["connectorId"] == 1][-1]
    assert (report["errorCode"], report["vendorErrorCode"]) == (
        "EVCommunicationError",
        "PilotShort",
    )
    assert read_duties(tmp_path / "state" / BOARD_FILE)[PWM] == 1.0  # nothing offered
    daemon.do("ev", connector=1, what="clear")
    csms.wait_status(1, "Preparing", timeout=20.0)  # §4.9 I2: back to where it was
