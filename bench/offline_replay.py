"""Benchmark: transaction messages queued offline in the SQLite store, then replayed in order.

Persists N messages (StartTransaction, MeterValues, StopTransaction with their original
timestamps) through cpagent.chargepoint.store exactly as the chargepoint does while offline
(one durable commit each, synchronous=FULL), then replays them the way the chargepoint does on
reconnect: head of the queue -> CALL through a core Session -> a scripted central system's
Session answers -> ack (delete) -> next, one at a time. Checks order, timestamps and
transactionIds, stops by itself (a time budget for the replay) and prints the figures last.
Usage: python3 -m bench.offline_replay [--messages 10000] [--budget-s 120] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.store import Store
from cpagent.core import CallAnswered, CallReceived, Session, Version

PER_TRANSACTION = 20  # 1 StartTransaction + 18 MeterValues + 1 StopTransaction
EPOCH = 1_795_996_800.0  # 2026-11-30T00:00:00Z: the offline stretch starts here
SAMPLE_S = 60.0  # one meter value a minute


def persist(store: Store, messages: int) -> list[tuple[str, str]]:
    """Queue `messages` transaction messages; return (action, timestamp) in queue order."""
    queued: list[tuple[str, str]] = []
    wall = EPOCH
    for tx in itertools.count():
        if len(queued) >= messages:
            return queued
        connector, energy, id_tag, started = tx % 2 + 1, 0.0, f"TAG{tx:06d}", to_wire(wall)
        start = {"connectorId": connector, "idTag": id_tag, "meterStart": 0, "timestamp": started}
        local = store.begin_transaction(connector, id_tag, energy, start)
        queued.append(("StartTransaction", started))
        for _ in range(min(PER_TRANSACTION - 2, messages - len(queued) - 1)):
            wall += SAMPLE_S
            energy += 123.0
            store.enqueue(
                "MeterValues",
                {
                    "connectorId": connector,
                    "meterValue": [
                        {
                            "timestamp": to_wire(wall),
                            "sampledValue": [
                                {
                                    "value": f"{energy:.1f}",
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                }
                            ],
                        }
                    ],
                },
                local,
            )
            store.record_meter(local, energy, wall)
            queued.append(("MeterValues", to_wire(wall)))
        wall += SAMPLE_S
        stopped = to_wire(wall)
        stop = {"meterStop": int(energy), "timestamp": stopped, "reason": "EVDisconnected"}
        store.end_transaction(local, stop)
        queued.append(("StopTransaction", stopped))
    raise AssertionError("unreachable")


def _timestamp(action: str, payload: dict[str, Any]) -> str:
    if action == "MeterValues":
        return str(payload["meterValue"][0]["timestamp"])
    return str(payload["timestamp"])


class CentralSystem:
    """Scripted: accepts every transaction message, assigns transactionIds, records arrivals."""

    def __init__(self) -> None:
        self.session = Session(Version.OCPP16)
        self.arrived: list[tuple[str, str]] = []
        self.bad_tx_ids = 0
        self._next_tx = itertools.count(1000)
        self._current_tx = 0

    def handle(self, now: float) -> None:
        for event in self.session.drain_events():
            assert isinstance(event, CallReceived), event
            self.arrived.append((event.action, _timestamp(event.action, event.payload)))
            if event.action == "StartTransaction":
                self._current_tx = next(self._next_tx)
                answer: dict[str, Any] = {
                    "transactionId": self._current_tx,
                    "idTagInfo": {"status": "Accepted"},
                }
            else:
                if event.payload.get("transactionId") != self._current_tx:
                    self.bad_tx_ids += 1
                answer = {}
            self.session.answer(event.message_id, answer, now)


def replay(store: Store, budget_s: float) -> tuple[int, float, CentralSystem]:
    """Send the queue in order, one CALL in flight; (messages replayed, seconds, central)."""
    cp, cs = Session(Version.OCPP16), CentralSystem()
    now = time.monotonic()
    cp.connected(now)
    cs.session.connected(now)
    ids = itertools.count()
    done = 0
    start = time.perf_counter()
    while (head := store.head()) is not None and time.perf_counter() - start < budget_s:
        now = time.monotonic()
        cp.call(f"r{next(ids)}", head.action, head.payload, now)
        for out in cp.drain_frames():
            cs.session.receive(out.text, now)
        cs.handle(now)
        for out in cs.session.drain_frames():
            cp.receive(out.text, now)
        (answered,) = cp.drain_events()
        assert isinstance(answered, CallAnswered), answered
        store.ack(head.seq, answered.payload.get("transactionId"))
        done += 1
    return done, time.perf_counter() - start, cs


def db_bytes(path: Path) -> tuple[int, int]:
    """(database file, write-ahead log) sizes in bytes."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=120.0,
        help="stop replaying after this many seconds (default 120)",
    )
    parser.add_argument("--dir", default="/var/tmp", help="where the database goes (a disk)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="cpagent-replay-") as tmp:
        path = Path(tmp) / "state.db"
        store = Store.open(path)
        start = time.perf_counter()
        queued = persist(store, args.messages)
        persist_s = time.perf_counter() - start
        size, wal = db_bytes(path)
        head_start = time.perf_counter()
        store.head()
        head_ms = (time.perf_counter() - head_start) * 1000
        done, replay_s, central = replay(store, args.budget_s)
        left = len(store.outbox())
        store.close()
    in_order = central.arrived == queued[:done]
    print(
        f"persisted: {len(queued)} messages in {persist_s:.2f} s "
        f"(one fsync'd commit each, {args.dir})"
    )
    print(
        f"replayed: {done} of {len(queued)} in {replay_s:.2f} s, {left} left in the queue"
        + ("" if done == len(queued) else f" (budget of {args.budget_s:g} s reached)")
    )
    print(
        f"order and original timestamps kept: {'yes' if in_order else 'NO'}; "
        f"wrong transactionIds: {central.bad_tx_ids}"
    )
    print(f"messages/s persisted: {len(queued) / persist_s:.0f}")
    print(f"messages/s replayed: {done / replay_s:.0f}")
    print(f"Store.head() with {len(queued)} queued: {head_ms:.1f} ms")
    print(
        f"database size after persisting: {size / 1024 / 1024:.2f} MiB "
        f"(+ {wal / 1024 / 1024:.2f} MiB write-ahead log)"
    )


if __name__ == "__main__":
    main()
