"""The store's session history: recorded with the Stop, acknowledged with its answer, bounded."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.store import MIGRATIONS, Store, StoreWriteError
from cpagent.chargepoint.store_history import MAX_SAMPLES, Retention
from cpagent.chargepoint.tx_queue import RetryPolicy, TxQueue
from cpagent.core import CallAnswered, CallErrored, GenericError

T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.db")
    yield s
    s.close()


def history(store: Store) -> list[dict[str, Any]]:
    """The history rows as the database holds them (another connection: what is committed)."""
    db = sqlite3.connect(store.path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM history ORDER BY local_id")]
    finally:
        db.close()


def samples(store: Store, local_id: int) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(store.path)
    try:
        return db.execute(
            "SELECT n, time, power_w, energy_wh FROM history_samples WHERE local_id = ? ORDER BY n",
            (local_id,),
        ).fetchall()
    finally:
        db.close()


def meter_value(at: float | None, energy_wh: float, power_w: float) -> dict[str, Any]:
    """MeterValues.req as MeterReports queues it: Energy in Wh, Power in kW (to see units)."""
    return {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": None if at is None else to_wire(at),
                "sampledValue": [
                    {"value": f"{energy_wh}", "context": "Sample.Periodic", "unit": "Wh"},
                    {
                        "value": f"{power_w / 1000}",
                        "context": "Sample.Periodic",
                        "measurand": "Power.Active.Import",
                        "unit": "kW",
                    },
                    {"value": "230", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                ],
            }
        ],
    }


def session(store: Store, start: float, *, n: int = 3, tag: str = "CARD", reason: str = "Local"):
    """One transaction of `n` periodic samples, a minute apart, 7.2 kW; returns local_id."""
    payload = {"connectorId": 1, "idTag": tag, "meterStart": 1000, "timestamp": to_wire(start)}
    local = store.begin_transaction(1, tag, 1000.0, payload)
    for i in range(n):
        store.enqueue("MeterValues", meter_value(start + 60 * (i + 1), 1000 + 120 * i, 7200), local)
    stop = {"meterStop": 1000 + 120 * n, "timestamp": to_wire(start + 60 * (n + 1))}
    store.end_transaction(local, stop | {"reason": reason})
    return local


def test_a_finished_transaction_is_in_the_history_with_the_stop_and_its_samples(
    store: Store,
) -> None:
    local = session(store, T0, reason="EVDisconnected")
    [row] = history(store)
    assert row == {
        "local_id": local,
        "transaction_id": None,  # the Start is not answered yet
        "connector_id": 1,
        "id_tag": "CARD",
        "start_s": T0,
        "stop_s": T0 + 240,
        "meter_start_wh": 1000.0,
        "meter_stop_wh": 1360.0,
        "stop_reason": "EVDisconnected",
        "acknowledged": 0,
    }
    assert samples(store, local) == [
        (0, T0 + 60, 7200.0, 1000.0),  # kW and Wh as sent, the per-phase voltage ignored
        (1, T0 + 120, 7200.0, 1120.0),
        (2, T0 + 180, 7200.0, 1240.0),
    ]
    # the history row is in the Stop's commit: both or neither
    assert [m.action for m in store.outbox()][-1] == "StopTransaction"


def test_the_answers_fill_in_the_transaction_id_and_the_acknowledgement(store: Store) -> None:
    local = session(store, T0)
    start, *rest = store.outbox()
    store.ack(start.seq, transaction_id=4711)
    assert history(store)[0]["transaction_id"] == 4711
    for m in rest[:-1]:
        store.ack(m.seq)
    assert history(store)[0]["acknowledged"] == 0  # MeterValues answered, not the Stop
    store.ack(rest[-1].seq)
    assert history(store)[0]["acknowledged"] == 1
    assert store.transactions(include_stopped=True) == []  # the live row goes, history stays
    assert len(samples(store, local)) == 3


def test_a_stop_given_up_is_recorded_as_not_acknowledged(store: Store) -> None:
    """TransactionMessageAttempts exhausted (§3.7): dropped from the queue, never answered."""
    session(store, T0)
    done: list[Any] = []
    queue = TxQueue(
        store,
        lambda: RetryPolicy(attempts=1, interval_s=1),
        lambda *a: done.append(a),
        ready=lambda: True,
        held=lambda: False,
    )
    while (head := queue.due(1e9)) is not None:
        queue.outcome(head, "m", CallErrored("m", head.action, GenericError("no")), 1e9, [])
    assert store.outbox() == []
    [row] = history(store)
    assert row["acknowledged"] == 0
    assert row["transaction_id"] == -1  # errata 3.18: the Start was given up too


def test_times_unknown_at_the_time_are_back_dated_with_the_queue(store: Store) -> None:
    start = {"connectorId": 1, "idTag": "T", "meterStart": 5, "timestamp": None}
    local = store.begin_transaction(1, "T", 5.0, start, boot="b1", mono=10.0)
    store.enqueue("MeterValues", meter_value(None, 5, 1000), local, boot="b1", mono=20.0)
    store.end_transaction(local, {"meterStop": 9, "timestamp": None, "reason": "Local"}, "b1", 30.0)
    assert history(store)[0]["start_s"] is None
    store.backdate("b1", offset_s=T0)
    row = history(store)[0]
    assert (row["start_s"], row["stop_s"]) == (T0 + 10, T0 + 30)
    assert samples(store, local) == [(0, T0 + 20, 1000.0, 5.0)]


def test_the_transaction_end_value_of_the_stop_is_the_last_sample(store: Store) -> None:
    """StopTxnSampledData (§9.1): the register at the stop closes the plot."""
    local = store.begin_transaction(1, "T", 0.0, {"timestamp": to_wire(T0)})
    end = {
        "timestamp": to_wire(T0 + 90),
        "sampledValue": [{"value": "0.5", "unit": "kWh", "context": "Transaction.End"}],
    }
    begin = {**end, "sampledValue": [{"value": "0", "context": "Transaction.Begin"}]}
    stop = {"meterStop": 500, "timestamp": to_wire(T0 + 90), "reason": "Local"}
    store.end_transaction(local, stop | {"transactionData": [begin, end]})
    assert samples(store, local) == [(0, T0 + 90, None, 500.0)]


def test_samples_are_bounded_and_thinned_evenly_keeping_the_latest(store: Store) -> None:
    start = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": to_wire(T0)}
    local = store.begin_transaction(1, "T", 0.0, start)
    count = 5 * MAX_SAMPLES + 3
    for i in range(count):
        store.enqueue("MeterValues", meter_value(T0 + i, i, 1000), local)
        if i in (MAX_SAMPLES - 1, 3 * MAX_SAMPLES):
            assert len(samples(store, local)) <= MAX_SAMPLES
    kept = samples(store, local)
    assert MAX_SAMPLES // 2 <= len(kept) <= MAX_SAMPLES
    steps = {b[0] - a[0] for a, b in zip(kept[:-2], kept[1:-1], strict=True)}
    assert len(steps) == 1  # evenly spaced over the whole session
    assert kept[0][0] == 0 and kept[-1][0] == count - 1  # the first and the latest


def test_retention_keeps_the_newest_sessions_and_drops_their_samples_too(store: Store) -> None:
    store.retention = Retention(days=365, max_sessions=3)
    ids = [session(store, T0 + 3600 * i) for i in range(5)]
    assert [r["local_id"] for r in history(store)] == ids[2:]
    assert samples(store, ids[0]) == [] and samples(store, ids[1]) == []
    assert len(samples(store, ids[2])) == 3


def test_retention_by_days_counts_back_from_the_newest_session(store: Store) -> None:
    store.retention = Retention(days=30, max_sessions=100)
    old = session(store, T0)
    kept = session(store, T0 + 20 * 86400)
    assert [r["local_id"] for r in history(store)] == [old, kept]
    newest = session(store, T0 + 31 * 86400)
    assert [r["local_id"] for r in history(store)] == [kept, newest]
    assert samples(store, old) == []


def test_a_power_loss_stop_corrected_at_start_is_corrected_in_the_history(
    tmp_path: Path,
) -> None:
    s = Store.open(tmp_path / "s.db")
    local = s.begin_transaction(1, "CARD", 1000.0, {"timestamp": to_wire(T0)})
    s.record_meter(local, 1400.0, T0 + 100)
    s.close()  # the power goes; at the next start the transaction ends as PowerLoss
    s = Store.open(tmp_path / "s.db")
    [rec] = s.transactions()
    stop = {"meterStop": 1400, "timestamp": None, "reason": "PowerLoss"}
    s.end_transaction(rec.local_id, stop, held=True)  # as Charging queues it at start
    s.release_stop(rec.local_id, 1450)  # the register read at start
    [row] = history(s)
    assert (row["stop_reason"], row["meter_stop_wh"]) == ("PowerLoss", 1450.0)
    s.close()


def test_a_transaction_running_across_the_upgrade_is_recorded(tmp_path: Path) -> None:
    old = Store.open(tmp_path / "s.db", MIGRATIONS[:3])
    with old._tx() as db:  # as a v3 cpagent wrote it
        local = db.execute(
            "INSERT INTO transactions (connector_id, id_tag, meter_start_wh, last_meter_wh)"
            " VALUES (1, 'CARD', 10, 10)"
        ).lastrowid
    old.close()
    new = Store.open(tmp_path / "s.db")
    assert local is not None
    new.end_transaction(local, {"meterStop": 20, "timestamp": to_wire(T0), "reason": "Local"})
    [row] = history(new)
    assert (row["start_s"], row["stop_s"], row["meter_stop_wh"]) == (None, T0, 20.0)
    new.close()


WRITER = textwrap.dedent("""
    import sys
    from cpagent.chargepoint.clock import to_wire
    from cpagent.chargepoint.store import Store
    s = Store.open(sys.argv[1])
    i = 0
    while True:
        local = s.begin_transaction(1, f"T{i}", 0.0, {"timestamp": to_wire(1.7e9 + i)})
        value = {"timestamp": to_wire(1.7e9 + i), "sampledValue": [{"value": "5"}]}
        s.enqueue("MeterValues", {"meterValue": [value]}, local)
        stop = {"meterStop": 9, "timestamp": to_wire(1.7e9 + i), "reason": "Local"}
        s.end_transaction(local, stop)
        print(local, flush=True)
        i += 1
""")


def test_sigkill_mid_sessions_leaves_every_queued_stop_with_its_history(tmp_path: Path) -> None:
    """kill -9 at any point: a Stop in the queue has its history row and its sample, and a
    history row has its Stop (the same commits)."""
    path = tmp_path / "state.db"
    Store.open(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    finished: list[int] = []
    try:
        assert proc.stdout is not None
        while len(finished) < 60:
            line = proc.stdout.readline()
            assert line, "writer died early"
            finished.append(int(line))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    s = Store.open(path)
    try:
        stops = {m.local_tx for m in s.outbox() if m.action == "StopTransaction"}
        rows = {r["local_id"] for r in history(s)}
        assert set(finished) <= rows and rows == stops
        assert all(len(samples(s, i)) == 1 for i in rows)
    finally:
        s.close()


def _end(energy_wh: float, power_w: float) -> list[dict[str, Any]]:
    return [
        {"value": f"{energy_wh}", "context": "Transaction.End", "unit": "Wh"},
        {
            "value": f"{power_w}",
            "context": "Transaction.End",
            "measurand": "Power.Active.Import",
            "unit": "W",
        },
    ]


def test_a_held_stop_is_released_patched_in_queue_and_history_in_one_commit(
    store: Store,
) -> None:
    """A Stop queued at the moment its transaction ended (the latest reading), held: it is not
    the queue's to send; `release_stop` gives it the final reading - meterStop and the
    Transaction.End value (§7.36) - in the payload, the history row and its last sample."""
    payload = {"connectorId": 1, "idTag": "CARD", "meterStart": 1000, "timestamp": to_wire(T0)}
    local = store.begin_transaction(1, "CARD", 1000.0, payload)
    store.enqueue("MeterValues", meter_value(T0 + 60, 1100, 7200), local)
    begin = {"timestamp": to_wire(T0), "sampledValue": [{"value": "1000", "unit": "Wh"}]}
    end = {"timestamp": to_wire(T0 + 90), "sampledValue": _end(1150, 7000)}
    stop = {"meterStop": 1150, "timestamp": to_wire(T0 + 90), "reason": "EVDisconnected"}
    store.end_transaction(local, stop | {"transactionData": [begin, end]}, held=True)
    assert [m.held for m in store.outbox()] == [False, False, True]
    assert store.held_stops()[0].meter_stop_wh == 1150
    store.release_stop(local, 1156, _end(1156, 0))
    [queued] = [m for m in store.outbox() if m.action == "StopTransaction"]
    assert not queued.held and store.held_stops() == []
    assert queued.payload["meterStop"] == 1156 and queued.payload["reason"] == "EVDisconnected"
    assert queued.payload["transactionData"][0] == begin
    assert queued.payload["transactionData"][-1]["sampledValue"] == _end(1156, 0)
    [row] = history(store)
    assert (row["meter_stop_wh"], row["stop_reason"]) == (1156.0, "EVDisconnected")
    assert samples(store, local)[-1][2:] == (0.0, 1156.0)  # power, energy of the End sample
    store.release_stop(local, 9999)  # released already: nothing changes
    assert history(store)[0]["meter_stop_wh"] == 1156.0


def test_a_held_stop_is_not_sent_but_what_was_queued_before_it_is(store: Store) -> None:
    """§3.7: in order. The queue sends up to the held Stop and waits there (no deadline:
    the release is an input); released, the Stop is due."""
    payload = {"connectorId": 1, "idTag": "CARD", "meterStart": 1000, "timestamp": to_wire(T0)}
    local = store.begin_transaction(1, "CARD", 1000.0, payload)
    store.enqueue("MeterValues", meter_value(T0 + 60, 1100, 7200), local)
    stop = {"meterStop": 1150, "timestamp": to_wire(T0 + 90), "reason": "Local"}
    store.end_transaction(local, stop, held=True)
    queue = TxQueue(
        store,
        lambda: RetryPolicy(attempts=3, interval_s=1),
        lambda *a: None,
        ready=lambda: True,
        held=lambda: False,
    )
    sent = []
    while (head := queue.due(1e9)) is not None:
        sent.append(head.action)
        queue.outcome(head, "m", CallAnswered("m", head.action, {}), 1e9, [])
    assert sent == ["StartTransaction", "MeterValues"]
    assert queue.deadline() is None
    store.release_stop(local)
    head = queue.due(1e9)
    assert head is not None and head.action == "StopTransaction"
    assert head.payload["meterStop"] == 1150


def test_a_release_that_cannot_be_written_is_done_in_memory_all_the_same(store: Store) -> None:
    """The medium refuses the release (read-only, disk full): the store carries on in memory
    with the Stop released there, not held for good, and the fault is raised."""
    payload = {"connectorId": 1, "idTag": "CARD", "meterStart": 1000, "timestamp": to_wire(T0)}
    local = store.begin_transaction(1, "CARD", 1000.0, payload)
    stop = {"meterStop": 1150, "timestamp": to_wire(T0 + 90), "reason": "Local"}
    store.end_transaction(local, stop, held=True)
    store.connection.execute("PRAGMA query_only = ON")  # SQLITE_READONLY on the next write
    with pytest.raises(StoreWriteError):
        store.release_stop(local, 1160)
    assert store.fault is not None
    [queued] = [m for m in store.outbox() if m.action == "StopTransaction"]
    assert not queued.held and queued.payload["meterStop"] == 1160
