"""A power cut (SIGKILL) loses at most the bounded energy: the PowerLoss stop is recent."""

from __future__ import annotations

from pathlib import Path

from cpagent.chargepoint.meter_reports import PERSIST_METER_WH
from tests.reliability.campaign import boot, running_pair
from tests.support.net import wait_until
from tests.support.sim_config import SimConnector

POWER_W = 22000.0  # a 3-phase 32 A charger at full power: the worst case for the bound
THREE_PHASE_32_A = SimConnector(17, 27, 32.0, 0.2, phases=3)  # draws up to 22080 W
POLL_S = 0.2  # the campaign config's meter poll interval


def test_the_powerloss_stop_carries_a_reading_at_most_the_bound_old(tmp_path: Path) -> None:
    with running_pair(tmp_path, connector=THREE_PHASE_32_A) as (daemon, central):
        # no periodic MeterValues: they persist the reading too and would hide the rule
        boot(daemon, central, MeterValueSampleInterval="0")
        daemon.do("ev-load", connector=1, watts=POWER_W)  # all of it: within the rating
        daemon.do("plug", connector=1)
        daemon.do("tap", id_tag="TAG-1")
        daemon.wait_connector(
            lambda c: c["transaction"] and c["transaction"]["id"],
            what="StartTransaction acknowledged",
        )
        # charge well past the old 15 s-only rule's reach (92 Wh at this power)
        meter = daemon.wait_connector(
            lambda c: (c["meter"] or {}).get("energy_wh", 0) > 70, timeout=30, what="70 Wh charged"
        )["meter"]
        assert meter["power_w"] == POWER_W  # the worst case really drawn, not capped
        last = meter["energy_wh"]
        daemon.kill9()
        daemon.start()
        wait_until(lambda: central.calls("StopTransaction"), 15, "the PowerLoss stop")
        stop = central.calls("StopTransaction")[0].payload
        assert stop["reason"] == "PowerLoss"
        lost = last - stop["meterStop"]
        bound = PERSIST_METER_WH + POWER_W * POLL_S / 3600 + 1  # + one poll, + rounding
        assert lost <= bound, f"{lost:.1f} Wh lost (bound {bound:.1f} Wh): {stop}"
