"""The simulated EV draws what the connector allows, never more: its rating, or the smart-charging
limit in force (max_current_a x 230 V x phases), as the central system sees in MeterValues."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import Daemon
from tests.support.sim_config import SimConnector

VOLTAGE_V = 230.0
SAMPLED = "Energy.Active.Import.Register,Power.Active.Import"
ONE_PHASE_16_A = SimConnector(17, 27, 16.0, 0.2)  # the plain relay + plug bench connector
THREE_PHASE_32_A = SimConnector(17, 27, 32.0, 0.2, phases=3)


def _daemon(tmp_path: Path, csms: StrictCentralSystem, conn: SimConnector) -> Iterator[Daemon]:
    sock_dir = Path(tempfile.mkdtemp(prefix="cpdraw-"))  # sun_path is 107 bytes at most
    process = Daemon(tmp_path, sock_dir / "ctl.sock", csms.url, layout=(conn,))
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.fixture
def one_phase(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[Daemon]:
    yield from _daemon(tmp_path, csms, ONE_PHASE_16_A)


@pytest.fixture
def three_phase(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[Daemon]:
    yield from _daemon(tmp_path, csms, THREE_PHASE_32_A)


def _charge(daemon: Daemon, csms: StrictCentralSystem, load_w: float) -> tuple[float, float]:
    """An EV asking for `load_w` charges; (power in a MeterValues, power in status)."""
    boot(daemon, csms, MeterValuesSampledData=SAMPLED)
    daemon.do("ev-load", connector=1, watts=load_w)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="DRAW-1")
    csms.wait_call("StartTransaction")

    def power(payload: dict[str, object]) -> float | None:
        for value in payload["meterValue"][0]["sampledValue"]:  # type: ignore[index]
            if value.get("measurand") == "Power.Active.Import" and float(value["value"]) > 0:
                return float(value["value"])
        return None

    meter_values = csms.wait_call("MeterValues", lambda p: power(p) is not None)
    reported = power(meter_values)
    assert reported is not None
    status = daemon.wait_connector(
        lambda c: c["meter"] and c["meter"]["power_w"] > 0, what="the EV draws"
    )
    return reported, status["meter"]["power_w"]


def test_an_ev_asking_for_7400_w_draws_at_most_16_a_on_a_16_a_connector(
    one_phase: Daemon, csms: StrictCentralSystem
) -> None:
    reported, shown = _charge(one_phase, csms, 7400.0)
    assert reported <= 16.0 * VOLTAGE_V  # IEC 61851-1: the EV may not draw above the rating
    assert shown <= 16.0 * VOLTAGE_V


def test_a_three_phase_32_a_connector_draws_22_kw(
    three_phase: Daemon, csms: StrictCentralSystem
) -> None:
    reported, shown = _charge(three_phase, csms, 22000.0)
    assert reported == shown == 22000.0  # within 32 A x 230 V x 3 = 22080 W: not capped
    assert len(three_phase.connector()["meter"]["current_a"]) == 3
