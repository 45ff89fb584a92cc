"""Central-system outages: sessions go on locally; afterwards every message once, in order."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.chargepoint import ChargePoint
from cpagent.chargepoint.store import Store
from tests.reliability.campaign import (
    TRANSACTION_MESSAGES,
    Call,
    Daemon,
    GatedCentralSystem,
    audit,
    boot,
    running_pair,
    send_local_list,
    table,
)

FAST_KEYS = {"MeterValueSampleInterval": "1", "TransactionMessageRetryInterval": "1"}
REPORT = Path(os.environ.get("CAMPAIGN_REPORT", "/dev/null"))
SLACK = timedelta(milliseconds=50)  # the daemon's clock is the CSMS's, learnt over loopback


@dataclass(frozen=True, slots=True)
class Outage:
    """One stretch without the central system, and what the daemon queued during it."""

    went: datetime
    back: datetime
    first_call: int  # index in the CSMS's CALLs of the first one after the reconnection
    queued: int  # transaction messages queued when the CSMS came back


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Daemon, GatedCentralSystem]]:
    with running_pair(tmp_path) as (daemon, central):
        yield daemon, central


def _time(call: Call) -> datetime:
    payload = call.payload
    stamp = (
        payload["timestamp"] if "timestamp" in payload else (payload["meterValue"][0]["timestamp"])
    )
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def _charge(daemon: Daemon, tag: str, samples: int) -> None:
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag=tag)
    daemon.wait_connector(lambda c: c["relay"] is True, what=f"{tag} charging")
    daemon.wait_samples(samples)


def _stop(daemon: Daemon, tag: str) -> None:
    daemon.do("tap", id_tag=tag)
    daemon.wait_connector(
        lambda c: c["transaction"] is None and c["relay"] is False, what=f"{tag} stopped"
    )
    daemon.do("unplug", connector=1)


def _one_outage(daemon: Daemon, central: GatedCentralSystem, cycle: int) -> Outage:
    """A session spanning the outage's start, then a whole session inside it."""
    across, inside = f"ACROSS-{cycle}", f"INSIDE-{cycle}"
    _charge(daemon, across, samples=1)
    daemon.wait_connector(lambda c: c["transaction"]["id"] is not None, what="Start acked")
    went = datetime.now(UTC)
    central.stop()
    daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    daemon.wait(lambda s: s["queued_messages"] >= 1, what="MeterValues queued offline")
    _stop(daemon, across)  # the same card stops it with nobody to ask
    _charge(daemon, inside, samples=2)  # LocalAuthorizeOffline: the local list decides
    queued = daemon.do("status")["queued_messages"]
    daemon.wait(lambda s: s["queued_messages"] > queued, what="offline MeterValues")
    _stop(daemon, inside)
    queued = daemon.do("status")["queued_messages"]
    first_call = len(central.calls())
    back = datetime.now(UTC)
    central.start()
    daemon.wait_settled(timeout=30)
    return Outage(went, back, first_call, queued)


@pytest.mark.timeout(900)  # the long form: 15 outages
@pytest.mark.parametrize("outages", [1, 3])
def test_outage_replay_is_once_in_order_with_original_times(
    pair: tuple[Daemon, GatedCentralSystem], long_form: bool, outages: int
) -> None:
    daemon, central = pair
    outages = outages * 5 if long_form else outages
    boot(daemon, central, **FAST_KEYS)
    send_local_list(
        central, [f"{kind}-{i}" for i in range(outages) for kind in ("ACROSS", "INSIDE")]
    )
    seen = [_one_outage(daemon, central, i) for i in range(outages)]

    calls = central.calls()
    for n, outage in enumerate(seen):
        end = seen[n + 1].first_call if n + 1 < len(seen) else len(calls)
        after = [c for c in calls[outage.first_call : end] if c.action in TRANSACTION_MESSAGES]
        replay = after[: outage.queued]
        assert [c.action for c in replay].count("StopTransaction") == 2, (
            f"outage {n}: both stops replayed: {[c.action for c in after]}"
        )
        assert [c for c in after if _time(c) < outage.back] == replay, (
            "the queued messages go first, and are all the outage produced"
        )
        times = [_time(c) for c in replay]
        assert times == sorted(times), f"outage {n}: replayed in the order they happened"
        assert all(t < outage.back for t in times), (
            f"outage {n}: original timestamps, all before the reconnection: {times}"
        )
        assert all(c.answer is not None for c in replay), "each acknowledged"
        start = next(c for c in replay if c.action == "StartTransaction")
        assert start.payload["idTag"] == f"INSIDE-{n}"
        tid = start.answer["transactionId"] if start.answer else None
        later = [c.payload["transactionId"] for c in replay[replay.index(start) + 1 :]]
        assert later and later == [tid] * len(later), (
            "the offline transaction's messages carry the id its StartTransaction got"
        )
        made_offline = replay[replay.index(start) - 1 :]  # the first stop, then the session
        assert all(_time(c) >= outage.went - SLACK for c in made_offline), (
            f"outage {n}: stamped when they happened, during the outage"
        )
        assert not [c for c in central.calls("Authorize") if c.payload["idTag"] == f"INSIDE-{n}"]

    per_tx: dict[Any, list[datetime]] = {}
    for c in calls:
        if c.action in ("MeterValues", "StopTransaction"):
            per_tx.setdefault(c.payload["transactionId"], []).append(_time(c))
    assert all(t == sorted(t) for t in per_tx.values()), "monotonic within each transaction"
    found = audit(central, {f"{k}-{i}" for i in range(outages) for k in ("ACROSS", "INSIDE")})
    assert found.lost_starts == found.lost_stops == found.stray_stops == (), found
    assert found.duplicates == dict.fromkeys(TRANSACTION_MESSAGES, 0), "every message once"
    assert found.meter_violations == () and found.time_violations == ()
    report = table(
        [
            ("outages", outages),
            ("sessions", found.sessions),
            ("messages replayed", sum(o.queued for o in seen)),
            ("longest outage, s", round(max((o.back - o.went).total_seconds() for o in seen), 2)),
            ("duplicates", sum(found.duplicates.values())),
            ("lost Start/Stop", len(found.lost_starts) + len(found.lost_stops)),
        ]
    )
    print("\n" + report)
    with REPORT.open("a") as out:
        out.write(report + "\n")


def test_restarts_inside_one_outage_keep_original_times_in_order(
    pair: tuple[Daemon, GatedCentralSystem],
) -> None:
    """A restart during an outage leaves the daemon without a wall clock (it learns it from
    the central system); what it queues then is stamped once the clock is known again,
    even when another restart came in between (e.g. two power flickers in one outage)."""
    daemon, central = pair
    boot(daemon, central, **FAST_KEYS)
    send_local_list(central, ["RESTARTED-1"])
    went = datetime.now(UTC)
    central.stop()
    daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    daemon.kill9()
    daemon.start()  # offline: no wall clock in this run
    _charge(daemon, "RESTARTED-1", samples=2)
    daemon.wait(lambda s: s["queued_messages"] >= 2, what="Start and MeterValues queued")
    daemon.kill9()
    daemon.start()  # still offline: the transaction is ended by the power-loss rule
    daemon.wait(lambda s: s["queued_messages"] >= 3, what="PowerLoss StopTransaction queued")
    back = datetime.now(UTC)
    central.start()
    daemon.wait_settled(timeout=30)

    replay = [c for c in central.calls() if c.action in TRANSACTION_MESSAGES]
    assert (replay[0].action, replay[-1].action) == ("StartTransaction", "StopTransaction")
    times = [_time(c) for c in replay]
    assert times == sorted(times), f"in the order they happened: {times}"
    assert all(went - SLACK <= t < back for t in times), (
        f"stamped during the outage, not at the reconnection ({back}): {times}"
    )
    assert replay[-1].payload["reason"] == "PowerLoss"


def test_messages_of_an_earlier_os_boot_are_stamped_no_later_than_this_run_began(
    tmp_path: Path,
) -> None:
    """After a real power cut the monotonic clock of the run that queued a message without a
    wall clock is gone; its stamp must still not fall after this run's own PowerLoss stop
    (a transaction ending before it started). Driven on the sans-I/O ChargePoint: one OS
    boot cannot be faked for the daemon process."""
    store = Store.open(tmp_path / "cpagent.db")
    try:
        start = {"connectorId": 1, "idTag": "OLD", "meterStart": 0, "timestamp": None}
        store.begin_transaction(1, "OLD", 0.0, start, boot="earlier-os-boot", mono=5.0)
        ids = (f"m{i}" for i in range(100))
        cp = ChargePoint(
            store=store,
            boot_payload={"chargePointVendor": "v", "chargePointModel": "m"},
            connector_ids=[1],
            boot_id="this-os-boot",
            new_id=lambda: next(ids),
            now=100.0,
        )  # the power-loss rule queues the Stop, without a clock
        cp.connected(101.0)
        boot_call = json.loads(cp.drain_frames()[0])
        cp.receive(
            json.dumps(
                [
                    3,
                    boot_call[1],
                    {
                        "status": "Accepted",
                        "currentTime": "2026-11-30T12:00:30.000Z",
                        "interval": 300,
                    },
                ]
            ),
            130.0,
        )  # the clock: mono 130 is 12:00:30, so this run began at 12:00:00
        stamps = {m.action: m.payload["timestamp"] for m in store.outbox()}
    finally:
        store.close()
    assert stamps == {
        "StartTransaction": "2026-11-30T12:00:00.000Z",
        "StopTransaction": "2026-11-30T12:00:00.000Z",
    }
