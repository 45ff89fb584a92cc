"""The session history through the daemon: a session ends -> one row, acknowledged, with samples;
kill -9 mid-session -> its PowerLoss stop is in the history after the restart."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import Daemon, cli
from tests.support.net import wait_until


def _sessions(daemon: Daemon, *args: str) -> list[dict[str, Any]]:
    """`cpagent sessions --json --samples` while the daemon runs (or not)."""
    done = cli("sessions", "--json", "--samples", *args, "--config", str(daemon.config_path))
    assert done.returncode == 0, done.stderr
    sessions: list[dict[str, Any]] = json.loads(done.stdout)  # one JSON array
    return sessions


def _database(daemon: Daemon) -> Path:
    return Path(daemon.workdir, "state", "cpagent.db")


def test_a_finished_session_is_in_the_history_acknowledged_with_its_samples(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-H1")
    csms.wait_call("MeterValues", count=3)  # MeterValueSampleInterval = 1 s
    daemon.do("tap", id_tag="CARD-H1")
    stop = csms.wait_call("StopTransaction")
    daemon.wait(lambda s: s["queued_messages"] == 0, what="the Stop acknowledged")
    start = csms.calls("StartTransaction")[0]
    [session] = _sessions(daemon)
    assert {k: session[k] for k in ("id", "connector", "id_tag", "stop_reason")} == {
        "id": 1,
        "connector": 1,
        "id_tag": "CARD-H1",
        "stop_reason": "Local",
    }
    assert session["acknowledged"] is True
    assert (session["start"], session["stop"]) == (start["timestamp"], stop["timestamp"])
    assert session["meter_start_wh"] == start["meterStart"]
    assert session["meter_stop_wh"] == stop["meterStop"]
    assert session["energy_wh"] == stop["meterStop"] - start["meterStart"]
    # the samples are the MeterValues the central system got, in order
    sent = [
        (mv["timestamp"], mv["sampledValue"])
        for p in csms.calls("MeterValues")
        if p.get("transactionId") == 1
        for mv in p["meterValue"]
    ]
    assert len(session["samples"]) >= len(sent) >= 3
    times = [t for t, _, _ in session["samples"]]
    assert times[: len(sent)] == [t for t, _ in sent] and times == sorted(times)
    energies = [e for _, _, e in session["samples"]]
    assert energies == sorted(energies) and start["meterStart"] <= energies[0]
    assert energies[-1] <= stop["meterStop"]
    assert all(p is not None and p > 0 for _, p, _ in session["samples"][1:-1])

    table = cli("sessions", "--config", str(daemon.config_path))
    assert table.returncode == 0 and "****D-H1" in table.stdout and "CARD-H1" not in table.stdout
    exported = cli("sessions", "--csv", "--config", str(daemon.config_path))
    [row] = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert row["transaction_id"] == "1" and row["acknowledged"] == "true"
    assert row["energy_kwh"] == f"{session['energy_wh'] / 1000:.3f}"


def test_kill_9_mid_session_the_power_loss_stop_is_in_the_history(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-K9")
    csms.wait_call("MeterValues", count=2)
    daemon.kill9()
    assert _sessions(daemon) == []  # running, not finished: not in the history (daemon down)

    daemon.start()
    stop = csms.wait_call("StopTransaction", timeout=15)
    assert stop["reason"] == "PowerLoss"
    daemon.wait(lambda s: s["queued_messages"] == 0, what="the PowerLoss stop acknowledged")
    wait_until(lambda: _sessions(daemon)[0]["acknowledged"], 5, "recorded as acknowledged")
    [session] = _sessions(daemon)
    assert (session["id"], session["id_tag"], session["stop_reason"]) == (1, "CARD-K9", "PowerLoss")
    assert session["meter_stop_wh"] == stop["meterStop"]  # as corrected at the restart
    assert session["stop"] == stop["timestamp"]
    assert len(session["samples"]) >= 2  # those sent before the kill
    assert _database(daemon).exists()
