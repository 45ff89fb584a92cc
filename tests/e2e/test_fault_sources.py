"""Each device of a connector faults and recovers on its own (OCPP 1.6 §4.9: Faulted until
every fault is gone; §7.6: the errorCode is that of the fault in force), end to end against
the public `ocpp` central system with the real relay driver on mock pins."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import Daemon
from tests.support.net import wait_until
from tests.support.sim_config import SimConnector

# An auxiliary contact wired to GND (active low) on a line pulled down: it reads "closed"
# while the relay is commanded open - what a welded contactor looks like (docs/hw.md).
WELDED_FEEDBACK = (
    "relay_pin = 17\n"
    "relay_feedback_pin = 24\n"
    "relay_feedback_active_low = true\n"
    'relay_feedback_pull = "down"\n'
)


@pytest.fixture
def daemon(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[Daemon]:
    sock_dir = Path(tempfile.mkdtemp(prefix="cpsrc-"))  # sun_path is 107 bytes at most
    process = Daemon(
        tmp_path, sock_dir / "ctl.sock", csms.url, layout=(SimConnector(17, 27, 16.0, 0.2),)
    )
    text = process.config_path.read_text()
    assert text.count("relay_pin = 17\n") == 1
    process.config_path.write_text(text.replace("relay_pin = 17\n", WELDED_FEEDBACK))
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def _reports(csms: StrictCentralSystem) -> list[dict[str, Any]]:
    return [p for p in csms.calls("StatusNotification") if p["connectorId"] == 1]


def test_a_welded_contactor_stays_faulted_while_the_meter_recovers(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    daemon.start()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="BootNotification Accepted")
    csms.wait_status(1, "Faulted")
    assert _reports(csms)[-1]["errorCode"] == "PowerSwitchFailure"

    daemon.do("fault", connector=1, code="PowerMeterFailure")
    wait_until(
        lambda: _reports(csms)[-1]["errorCode"] == "PowerMeterFailure",
        10,
        f"the meter's fault reported (reports: {_reports(csms)})",
    )
    daemon.do("clear-fault", connector=1)
    wait_until(
        lambda: " recovered" in daemon.log_path.read_text(),
        10,
        f"the meter's recovery handled\n{daemon.log_tail()}",
    )
    # The contactor is still welded: Faulted, and the errorCode back to the relay's (§7.6).
    wait_until(
        lambda: _reports(csms)[-1]["errorCode"] == "PowerSwitchFailure",
        10,
        f"the relay's fault reported again (reports: {_reports(csms)})",
    )
    assert _reports(csms)[-1]["status"] == "Faulted"
    connector = daemon.connector()
    assert connector["status"] == "Faulted"
    assert connector["fault"] == "connector1:relay"
    statuses = [p["status"] for p in _reports(csms)]
    assert "Available" not in statuses[statuses.index("Faulted") :]
