"""`kill -9` mid-transaction: relays open at restart, StopTransaction PowerLoss, nothing twice."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon
from tests.support.net import wait_until


def _persisted_meter_wh(daemon: Daemon) -> float:
    """What the dead daemon committed as the transaction's last meter reading."""
    db = sqlite3.connect(Path(daemon.workdir, "state", "cpagent.db"))
    try:
        rows = db.execute("SELECT last_meter_wh FROM transactions WHERE stopped = 0").fetchall()
    finally:
        db.close()
    assert len(rows) == 1, f"one running transaction in the store, not {rows}"
    return float(rows[0][0])


@pytest.mark.parametrize("acknowledged", [True, False], ids=["online", "started-offline"])
def test_kill_9_mid_transaction(
    daemon: Daemon, csms: StrictCentralSystem, acknowledged: bool
) -> None:
    boot(daemon, csms)
    if not acknowledged:  # the StartTransaction will still be queued at the kill
        csms.call(
            CHARGEPOINT_ID, call.ChangeConfiguration(key="AllowOfflineTxForUnknownId", value="true")
        )
        csms.stop()
        daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-K")
    daemon.wait_connector(lambda c: c["relay"] is True, what="charging")
    if acknowledged:
        csms.wait_call("MeterValues", count=2)  # a few periodic samples persisted
    else:
        daemon.wait(lambda s: s["queued_messages"] >= 3, what="Start and MeterValues queued")

    daemon.kill9()
    persisted = _persisted_meter_wh(daemon)
    assert persisted > 0

    if not acknowledged:
        csms.start()
    daemon.start()
    first = daemon.connector()
    assert first["relay"] is False and first["transaction"] is None
    # a fresh mock pin starts low anyway, so look at what the daemon did: the power-loss
    # rule opens every relay at start-up, before the link is even up
    daemon.wait(lambda s: s["connection"] == "connected", what="link up")
    run = daemon.log_path.read_text().split("==== start ====")[-1]
    assert 0 <= run.find("connector1: opening contactor") < run.find("connected to CSMS")
    stop = csms.wait_call("StopTransaction", timeout=15)
    assert (stop["reason"], stop["transactionId"]) == ("PowerLoss", 1)
    assert abs(stop["meterStop"] - persisted) < 1.0, "the last persisted meter value"
    daemon.wait(lambda s: s["queued_messages"] == 0, what="queue drained")
    assert len(csms.calls("StartTransaction")) == 1
    assert len(csms.calls("StopTransaction")) == 1
    start = csms.calls("StartTransaction")[0]
    assert stop["meterStop"] >= start["meterStart"]
    assert daemon.connector()["relay"] is False
    if not acknowledged:  # queued before the kill, replayed in order after the restart
        actions = [
            a for a in csms.actions() if a in ("StartTransaction", "MeterValues", "StopTransaction")
        ]
        assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction"


def test_kill_9_after_an_offline_stop_sends_that_stop_only(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-K")
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        what="transaction 1 acknowledged",
    )
    csms.stop()
    daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    daemon.do("tap", id_tag="CARD-K")
    daemon.wait_connector(lambda c: c["transaction"] is None, what="stopped offline")
    # the StopTransaction is queued held at once and released once meterStop is read (<= 1 s
    # after the relay opened; a crash inside that window sends it at the restart, as Local)
    wait_until(
        lambda: " stopped (Local)" in daemon.log_path.read_text(), 5, "the StopTransaction queued"
    )
    daemon.kill9()  # the StopTransaction is only in the store's queue

    csms.start()
    daemon.start()
    stop = csms.wait_call("StopTransaction", timeout=15)
    assert (stop["reason"], stop["transactionId"]) == ("Local", 1)
    daemon.wait(lambda s: s["queued_messages"] == 0, what="queue drained")
    assert len(csms.calls("StopTransaction")) == 1  # no PowerLoss stop on top of it


def test_sigterm_mid_transaction(daemon: Daemon, csms: StrictCentralSystem) -> None:
    """A graceful stop opens the relay first, ends the transaction with reason Reboot, has
    the StopTransaction acknowledged before exiting 0, and the next start sends no second
    Stop."""
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-K")
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        what="transaction 1 acknowledged",
    )
    assert daemon.process is not None
    daemon.process.terminate()
    assert daemon.wait_exit() == 0
    stops = csms.calls("StopTransaction")
    assert [(s["reason"], s["transactionId"]) for s in stops] == [("Reboot", 1)]
    run = daemon.log_path.read_text().split("==== start ====")[-1]
    assert run.rfind("opening contactor") > run.rfind("closing contactor")
    daemon.start()
    daemon.wait(
        lambda s: s["connection"] == "connected" and s["queued_messages"] == 0,
        what="reconnected with nothing queued",
    )
    assert daemon.status()["connectors"][0]["relay"] is False
    assert len(csms.calls("StopTransaction")) == 1


def test_sigterm_while_offline_leaves_the_stop_queued(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    """No central system to acknowledge: the Stop (Reboot) stays queued, goes out once
    after the restart, and there is no PowerLoss Stop besides it."""
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-L")
    daemon.wait_connector(
        lambda c: c["transaction"] and c["transaction"]["id"] == 1,
        what="transaction 1 acknowledged",
    )
    csms.stop()
    daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    assert daemon.process is not None
    daemon.process.terminate()
    assert daemon.wait_exit() == 0
    csms.start()
    daemon.start()
    stop = csms.wait_call("StopTransaction", timeout=15)
    assert (stop["reason"], stop["transactionId"]) == ("Reboot", 1)
    daemon.wait(lambda s: s["queued_messages"] == 0, what="queue drained")
    assert len(csms.calls("StopTransaction")) == 1


def test_central_system_settings_survive_kill_9(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        csms.call(
            CHARGEPOINT_ID,
            call.SendLocalList(
                list_version=5,
                update_type="Full",
                local_authorization_list=[{"idTag": "KEPT", "idTagInfo": {"status": "Accepted"}}],
            ),
        ).status
        == "Accepted"
    )
    assert (
        csms.call(
            CHARGEPOINT_ID,
            call.SetChargingProfile(
                connector_id=1,
                cs_charging_profiles={
                    "chargingProfileId": 9,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {
                        "chargingRateUnit": "A",
                        "startSchedule": an_hour_ago,
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}],
                    },
                },
            ),
        ).status
        == "Accepted"
    )
    assert (
        csms.call(
            CHARGEPOINT_ID,
            call.ReserveNow(
                connector_id=1,
                expiry_date=in_an_hour,
                id_tag="KEPT",
                reservation_id=11,
            ),
        ).status
        == "Accepted"
    )
    csms.wait_status(1, "Reserved")

    daemon.kill9()
    daemon.start()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="boot after kill -9")
    assert csms.call(CHARGEPOINT_ID, call.GetLocalListVersion()).list_version == 5
    schedule = csms.call(CHARGEPOINT_ID, call.GetCompositeSchedule(connector_id=1, duration=60))
    assert float(schedule.charging_schedule["charging_schedule_period"][0]["limit"]) == 8.0
    csms.wait_status(1, "Reserved")  # reported again after the new boot
    assert (
        csms.call(
            CHARGEPOINT_ID, call.ChangeAvailability(connector_id=1, type="Inoperative")
        ).status
        == "Accepted"
    )
    csms.wait_status(1, "Unavailable")

    daemon.kill9()
    daemon.start()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="boot after kill -9")
    boots = len(csms.calls("BootNotification"))
    assert boots == 3
    # §5.2: availability persists across a reboot
    daemon.wait_connector(lambda c: c["status"] == "Unavailable", what="still Unavailable")
    csms.wait_status(1, "Unavailable")
