"""SQLite store: round trips, migrations, the transaction message queue, and kill -9 safety."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.authorization import AuthorizationStatus, IdTagInfo
from cpagent.chargepoint.reservations import Reservation
from cpagent.chargepoint.store import MIGRATIONS, Store

A = AuthorizationStatus


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.db")
    yield s
    s.close()


def test_pragmas_and_schema_version(store: Store, tmp_path: Path) -> None:
    assert store.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_migration_from_v1_keeps_data(tmp_path: Path) -> None:
    old = Store.open(tmp_path / "s.db", MIGRATIONS[:1])
    assert old.schema_version == 1
    old.save_config({"HeartbeatInterval": "90"})
    old.close()
    new = Store.open(tmp_path / "s.db")
    assert new.schema_version == len(MIGRATIONS)
    assert new.load_config() == {"HeartbeatInterval": "90"}
    new.enqueue("MeterValues", {"connectorId": 1, "meterValue": []}, boot="b", mono=1.0)
    new.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path / "s.db").close()
    with pytest.raises(RuntimeError, match="newer"):
        Store.open(tmp_path / "s.db", MIGRATIONS[:1])


def test_round_trips(store: Store) -> None:
    store.save_config({"A": "1", "B": "x"})
    store.save_config({"A": "2"})
    assert store.load_config() == {"A": "2", "B": "x"}
    entries = [("T1", IdTagInfo(A.ACCEPTED, 5.0, "P")), ("T2", IdTagInfo(A.BLOCKED))]
    store.save_local_list(7, entries)
    assert store.load_local_list() == (7, entries)
    store.save_cache(list(reversed(entries)))
    assert store.load_cache() == list(reversed(entries))
    res = [Reservation(1, 0, "X", 100.0, None), Reservation(2, 1, "Y", 200.0, "P")]
    store.save_reservations(res)
    assert store.load_reservations() == res
    profile = {"chargingProfileId": 4, "stackLevel": 0}
    store.save_profiles([(1, profile)])
    assert store.load_profiles() == [(1, profile)]


def test_transaction_queue_maps_ids_and_never_stops_twice(store: Store) -> None:
    start = {"connectorId": 1, "idTag": "T", "meterStart": 100, "timestamp": "t0"}
    local = store.begin_transaction(1, "T", 100.0, start)
    store.enqueue("MeterValues", {"connectorId": 1, "meterValue": []}, local)
    store.record_meter(local, 150.0, 10.0)
    stop = {"meterStop": 200, "timestamp": "t1", "reason": "Local"}
    store.end_transaction(local, stop)
    store.end_transaction(local, stop | {"meterStop": 300})  # ignored: already stopped
    assert [m.action for m in store.outbox()] == [
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    assert "transactionId" not in store.outbox()[1].payload  # not known yet
    head = store.head()
    assert head is not None
    store.mark_attempt(head.seq, 60.0)
    assert store.head() == head.__class__(head.seq, head.action, head.payload, local, 1, 60.0)
    store.ack(head.seq, transaction_id=4711)
    assert [m.payload.get("transactionId") for m in store.outbox()] == [4711, 4711]
    assert store.transactions(include_stopped=True)[0].transaction_id == 4711
    for m in store.outbox():
        store.ack(m.seq)
    assert store.outbox() == [] and store.transactions(include_stopped=True) == []


def test_running_transaction_survives_for_power_loss_stop(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db")
    local = s.begin_transaction(2, "CARD", 1000.0, {"connectorId": 2})
    s.record_meter(local, 1234.5, 99.0)
    s.close()
    again = Store.open(tmp_path / "s.db")
    [tx] = again.transactions()
    assert (tx.connector_id, tx.id_tag, tx.last_meter_wh, tx.stopped) == (2, "CARD", 1234.5, False)
    again.close()


def test_backdate_fills_missing_timestamps(store: Store) -> None:
    store.begin_transaction(
        1, "T", 0.0, {"connectorId": 1, "timestamp": None}, boot="boot-1", mono=50.0
    )
    store.enqueue(
        "MeterValues",
        {"connectorId": 1, "meterValue": [{"sampledValue": []}]},
        boot="boot-1",
        mono=60.0,
    )
    store.enqueue("MeterValues", {"connectorId": 1, "meterValue": []}, boot="boot-0", mono=1.0)
    assert store.backdate("boot-1", offset_s=1_764_460_800.0 - 50.0) == 2
    q = store.outbox()
    assert q[0].payload["timestamp"] == "2025-11-30T00:00:00.000Z"
    assert q[1].payload["meterValue"][0]["timestamp"] == "2025-11-30T00:00:10.000Z"
    assert q[2].mono == 1.0  # another boot: untouched


WRITER = textwrap.dedent("""
    import sys
    from cpagent.chargepoint.store import Store
    s = Store.open(sys.argv[1])
    i = 0
    while True:
        local = s.begin_transaction(1, f"T{i}", float(i), {"connectorId": 1, "n": i})
        s.record_meter(local, i + 0.5, None)
        print(local, flush=True)
        i += 1
""")


def test_sigkill_mid_writes_loses_no_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store.open(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    committed: list[int] = []
    try:
        assert proc.stdout is not None
        while len(committed) < 150:
            line = proc.stdout.readline()
            assert line, "writer died early"
            committed.append(int(line))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    s = Store.open(path)
    try:
        rows = {t.local_id: t for t in s.transactions()}
        starts = {m.local_tx for m in s.outbox() if m.action == "StartTransaction"}
        assert set(committed) <= set(rows) and set(committed) <= starts
        assert set(rows) == starts  # each transaction row came with its queued Start
        assert all(rows[i].last_meter_wh == i - 0.5 for i in committed)
    finally:
        s.close()


def test_cache_entries_are_written_one_at_a_time(tmp_path: Path) -> None:
    """put_cache keeps least-recently-used order across a reopen and drops what was evicted."""
    store = Store.open(tmp_path / "db")
    store.put_cache("A", IdTagInfo(AuthorizationStatus.ACCEPTED))
    store.put_cache("B", IdTagInfo(AuthorizationStatus.BLOCKED))
    store.put_cache("A", IdTagInfo(AuthorizationStatus.ACCEPTED, expiry_s=5.0))
    store.put_cache("C", IdTagInfo(AuthorizationStatus.ACCEPTED), evicted=["B"])
    store.close()
    reopened = Store.open(tmp_path / "db")
    assert [(t, i.status, i.expiry_s) for t, i in reopened.load_cache()] == [
        ("A", AuthorizationStatus.ACCEPTED, 5.0),
        ("C", AuthorizationStatus.ACCEPTED, None),
    ]
