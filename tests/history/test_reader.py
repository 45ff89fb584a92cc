"""`cpagent.history.SessionHistory`: pages and streams of the store's history, read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.sessions_export import T0, fill
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.store import MIGRATIONS, Store
from cpagent.history import HistoryUnavailable, SessionHistory
from cpagent.web.plot import samples_from
from tests.web.fakes import session as web_session

WEB_KEYS = set(web_session(1)) | {"local_id"}  # what the web page reads, plus our own id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cpagent.db"
    fill(path, 30, 5)
    return path


@pytest.fixture
def history(db: Path) -> Iterator[SessionHistory]:
    h = SessionHistory(db)
    yield h
    h.close()


def recorded_session(store: Store) -> int:
    """One session through the store's own API, as the daemon records it."""
    local = store.begin_transaction(1, "04A1B2C3D4", 500.0, {"timestamp": to_wire(T0)})
    for i in range(3):
        values = [
            {"value": f"{500 + 100 * i}"},
            {"value": "6000", "measurand": "Power.Active.Import"},
        ]
        payload = {"meterValue": [{"timestamp": to_wire(T0 + 60 * i), "sampledValue": values}]}
        store.enqueue("MeterValues", payload, local)
    stop = {"meterStop": 800, "timestamp": to_wire(T0 + 180), "reason": "EVDisconnected"}
    store.end_transaction(local, stop)
    return local


def test_a_recorded_session_reads_as_the_web_page_expects(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "cpagent.db")
    local = recorded_session(store)
    with SessionHistory(tmp_path / "cpagent.db") as h:
        total, [s] = h.page(0, 50, None)
    store.close()
    assert total == 1 and set(s) == WEB_KEYS
    assert s == {
        "id": None,
        "local_id": local,
        "connector": 1,
        "id_tag": "04A1B2C3D4",
        "start": "2025-12-01T00:00:00.000Z",
        "stop": "2025-12-01T00:03:00.000Z",
        "meter_start_wh": 500.0,
        "meter_stop_wh": 800.0,
        "energy_wh": 300.0,
        "stop_reason": "EVDisconnected",
        "acknowledged": False,
        "samples": [
            ["2025-12-01T00:00:00.000Z", 6000.0, 500.0],
            ["2025-12-01T00:01:00.000Z", 6000.0, 600.0],
            ["2025-12-01T00:02:00.000Z", 6000.0, 700.0],
        ],
    }
    assert len(samples_from(s["samples"])) == 3  # the plot reads every one


def test_pages_are_newest_first_with_the_total(history: SessionHistory) -> None:
    total, rows = history.page(0, 10, None)
    assert total == 30 and [s["local_id"] for s in rows] == list(range(30, 20, -1))
    total, rows = history.page(25, 10, None)
    assert total == 30 and [s["local_id"] for s in rows] == [5, 4, 3, 2, 1]
    assert history.page(40, 10, None) == (30, [])
    assert all(len(s["samples"]) == 5 for s in rows)


def test_since_counts_a_session_from_its_start(history: SessionHistory) -> None:
    since = datetime.fromtimestamp(T0 + 3600 * 28, tz=UTC)  # session 28 starts then
    total, rows = history.page(0, 10, since)
    assert total == 3 and [s["local_id"] for s in rows] == [30, 29, 28]
    assert [s["local_id"] for s in history.iterate(since)] == [28, 29, 30]
    naive = since.replace(tzinfo=None)  # no offset: UTC
    assert history.page(0, 10, naive)[0] == 3


def test_a_page_is_one_query_reading_only_its_own_samples(tmp_path: Path) -> None:
    """The work of a page does not grow with the samples of the other pages."""

    def steps(sessions: int) -> tuple[int, int]:
        path = tmp_path / f"{sessions}.db"
        fill(path, sessions, 200)
        h = SessionHistory(path)
        statements: list[str] = []
        count = [0]
        h._db.set_trace_callback(statements.append)
        h._db.set_progress_handler(lambda: count.__setitem__(0, count[0] + 1) or 0, 100)
        total, rows = h.page(0, 10, None)
        h.close()
        assert (total, len(rows)) == (sessions, 10)
        return len(statements), count[0]

    small_queries, small = steps(20)
    big_queries, big = steps(2000)  # 400,000 samples, of which the page needs 2,000
    assert small_queries == big_queries == 1
    assert big < 5 * small


def test_iterate_streams_oldest_first_without_samples_if_asked(history: SessionHistory) -> None:
    rows = history.iterate(samples=False)
    first = next(rows)
    assert first["local_id"] == 1 and first["samples"] == []
    assert [s["local_id"] for s in rows] == list(range(2, 31))
    assert len(next(history.iterate())["samples"]) == 5


def test_reading_while_the_daemon_writes(tmp_path: Path) -> None:
    """WAL: the reader sees every commit, and a write transaction in progress blocks it not."""
    path = tmp_path / "cpagent.db"
    store = Store.open(path)
    recorded_session(store)
    h = SessionHistory(path)
    assert h.page(0, 10, None)[0] == 1
    recorded_session(store)
    assert h.page(0, 10, None)[0] == 2
    with store._tx() as db:  # the daemon mid-commit
        db.execute("DELETE FROM history")
        assert h.page(0, 10, None)[0] == 2  # the last commit, not the half-done one
    assert h.page(0, 10, None)[0] == 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        h._db.execute("DELETE FROM history")
    h.close()
    store.close()


def test_reading_a_stopped_daemons_database_leaves_no_files(db: Path) -> None:
    """A clean stop removes -wal and -shm; `sudo cpagent sessions` must not make them (root's,
    the daemon could not open them)."""
    before = sorted(p.name for p in db.parent.iterdir())
    with SessionHistory(db) as h:
        assert h.page(0, 1, None)[0] == 30
    assert sorted(p.name for p in db.parent.iterdir()) == before == ["cpagent.db"]


def test_no_database_or_one_without_history_says_so(tmp_path: Path) -> None:
    with pytest.raises(HistoryUnavailable, match="no state database"):
        SessionHistory(tmp_path / "cpagent.db")
    Store.open(tmp_path / "old.db", MIGRATIONS[:3]).close()
    with pytest.raises(HistoryUnavailable, match="older cpagent"):
        SessionHistory(tmp_path / "old.db")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(HistoryUnavailable, match="not a database"):
        SessionHistory(tmp_path / "junk.db")
