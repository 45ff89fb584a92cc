"""A state store that cannot be written (a full filesystem) is a fault, not a crash.

The state dir is a real, small tmpfs; the test fills it while a transaction runs.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.store import RETRY_DISK_S, Store, StoreWriteError
from tests.reliability.campaign import Daemon, GatedCentralSystem, boot, running_pair

START = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """tmp_path/state as an 8 MiB tmpfs (root only; skipped where mount is refused)."""
    state = tmp_path / "state"
    state.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0750", "tmpfs", str(state)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the filesystem is full (ENOSPC)."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    return filler


def test_a_full_disk_ends_the_transaction_safely_and_the_daemon_keeps_serving(
    small_fs: Path, tmp_path: Path
) -> None:
    with running_pair(tmp_path) as (daemon, central):
        _full_disk_session(daemon, central, small_fs)


def _full_disk_session(daemon: Daemon, central: GatedCentralSystem, state: Path) -> None:
    boot(daemon, central, MeterValueSampleInterval="1")
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="TAG-1")
    conn = daemon.wait_connector(
        lambda c: c["relay"] is True and c["transaction"]["id"], what="charging"
    )
    tx_id = conn["transaction"]["id"]
    daemon.wait_samples(3)
    before = daemon.connector()["meter"]["energy_wh"]  # in memory, maybe not yet persisted
    filler = fill(state)

    faulted = daemon.wait(lambda s: not s["store"]["ok"], 15, "the store write fault")
    assert faulted["store"]["error"] == "disk full", faulted["store"]
    one = faulted["connectors"][0]
    assert one["relay"] is False and one["transaction"] is None and one["status"] == "Faulted"
    assert "disk full" in (faulted["last_error"] or "")
    stop = central.wait_call("StopTransaction", lambda p: p["transactionId"] == tx_id)
    assert stop.payload["reason"] == "Other"
    assert stop.payload["meterStop"] >= round(before) > 0, (stop.payload, before)
    status = central.wait_call(
        "StatusNotification", lambda p: p["status"] == "Faulted" and p["connectorId"] == 1
    )
    assert status.payload["errorCode"] == "OtherError"
    assert status.payload["vendorErrorCode"] == "StateStoreWrite"
    assert "disk full" in status.payload["info"]
    daemon.do("tap", id_tag="TAG-2")  # still serving: commands answered, nothing starts
    assert daemon.connector()["transaction"] is None

    filler.unlink()  # space again: what memory kept is written back, the fault clears
    healed = daemon.wait(lambda s: s["store"]["ok"], RETRY_DISK_S + 10, "the store back")
    assert healed["connectors"][0]["status"] != "Faulted"
    assert healed["last_error"] is None  # the store writes again: its error is gone
    daemon.wait_settled()
    daemon.stop()
    store = Store.open(state / "cpagent.db")
    try:
        assert store.transactions(include_stopped=True) == [], "the Stop reached the disk"
    finally:
        store.close()
    assert daemon.process is not None and daemon.process.returncode == 0


def test_a_start_on_a_full_disk_exits_74_so_systemd_retries(small_fs: Path, tmp_path: Path) -> None:
    with running_pair(tmp_path) as (daemon, _central):
        fill(small_fs)
        run = subprocess.run(
            ["python3", "-m", "cpagent", "run", "--config", str(daemon.config_path)],
            capture_output=True, text=True, timeout=30, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        assert run.returncode == 74, run.stderr  # not 65: the unit restarts it
        lines = [line for line in run.stderr.splitlines() if "cannot start" in line]
        assert len(lines) == 1 and "disk full" in lines[0], run.stderr
        assert "Traceback" not in run.stderr


def test_the_store_falls_back_to_memory_and_writes_back_once_it_can(tmp_path: Path) -> None:
    # SQLite's own failure injection: max_page_count makes the next growing write SQLITE_FULL
    store = Store.open(tmp_path / "cpagent.db", chargepoint_id="CP-1")
    local = store.begin_transaction(1, "T", 0.0, START)
    disk: sqlite3.Connection = store.connection
    (pages,) = disk.execute("PRAGMA page_count").fetchone()
    disk.execute(f"PRAGMA max_page_count={pages}")
    big = {"connectorId": 1, "meterValue": ["x" * 20000]}
    with pytest.raises(StoreWriteError, match="disk full"):
        store.enqueue("MeterValues", big, local)
    assert store.fault == "disk full"
    store.enqueue("MeterValues", big, local)  # goes on, in memory
    store.record_meter(local, 1234.0, None)
    store.end_transaction(local, {"meterStop": 1234, "timestamp": None, "reason": "Other"})
    kept = ["StartTransaction", "MeterValues", "StopTransaction"]
    assert [m.action for m in store.outbox()] == kept
    assert not store.retry_disk() and store.fault == "disk full"  # still does not fit
    disk.execute("PRAGMA max_page_count=1073741823")
    assert store.retry_disk() and store.fault is None
    store.close()
    again = Store.open(tmp_path / "cpagent.db", chargepoint_id="CP-1")
    assert [m.action for m in again.outbox()] == kept
    assert again.transactions(include_stopped=True)[0].last_meter_wh == 1234.0
    again.close()


def test_a_bug_in_our_sql_is_not_mistaken_for_a_disk_fault(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "cpagent.db")
    with pytest.raises(sqlite3.OperationalError), store._tx() as db:
        db.execute("INSERT INTO no_such_table VALUES (1)")
    assert store.fault is None
    store.close()


def test_a_file_size_limit_is_a_write_fault_too(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: the write fails with EFBIG (SIGXFSZ is ignored by the daemon)
    code = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from cpagent.chargepoint.store import Store, StoreWriteError
store = Store.open({str(tmp_path / "cpagent.db")!r}, chargepoint_id="CP-1")
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    for n in range(1000):
        store.enqueue("MeterValues", {{"pad": "x" * 4000}})
except StoreWriteError as exc:
    print("fault:", store.fault)
    sys.exit(0)
sys.exit(1)
"""
    done = subprocess.run(
        ["python3", "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("fault: I/O error", "fault: disk full"), done.stdout
