"""A state store that is not this chargepoint's, or not whole, is refused at start."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cpagent.chargepoint.store import MIGRATIONS, Store, StoreOpenError
from cpagent.chargepoint.store_identity import backup_path, check_at_start
from tests.reliability.campaign import CHARGEPOINT_ID, Daemon, GatedCentralSystem, running_pair
from tests.support.daemon import REPO

START = {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": "2026-01-01T00:00:00Z"}


def make_store(path: Path, cp_id: str, *, transactions: int = 1) -> None:
    """A cleanly closed database of `cp_id` holding open transactions."""
    check_at_start(path, cp_id)
    store = Store.open(path, chargepoint_id=cp_id)
    for _ in range(transactions):
        store.begin_transaction(1, "T", 0.0, START)
    store.close()


def foreign_wal(ours: Path, tmp: Path) -> None:
    """Put beside `ours` the write-ahead log another chargepoint's database had when it died:
    its newest transaction is only in the log (the connection is never closed, which would
    checkpoint and delete the log)."""
    other = tmp / "other" / "cpagent.db"
    other.parent.mkdir()
    make_store(other, "OTHER-CP")
    store = Store.open(other, chargepoint_id="OTHER-CP")
    store.begin_transaction(1, "OTHER-TAG", 500.0, START)
    shutil.copyfile(f"{other}-wal", f"{ours}-wal")
    store.close()


def corrupt_middle(path: Path, _tmp: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xa5" * 4096  # the second page (a table's root) is garbage
    path.write_bytes(bytes(data))


def truncate(path: Path, _tmp: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty_with_backup(path: Path, _tmp: Path) -> None:
    assert backup_path(path).exists()
    path.write_bytes(b"")


def missing_with_backup(path: Path, _tmp: Path) -> None:
    path.unlink()


def wal_without_database(path: Path, tmp: Path) -> None:
    foreign_wal(path, tmp)
    path.unlink()
    backup_path(path).unlink()


def not_a_database(path: Path, _tmp: Path) -> None:
    path.write_bytes(b"this is a text file, not SQLite\n" * 10)


def other_chargepoint(path: Path, tmp: Path) -> None:
    for suffix in ("", ".backup"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    make_store(path, "OTHER-CP")


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (foreign_wal, "record(s) written by another database"),
        (other_chargepoint, "belongs to chargepoint 'OTHER-CP', not 'CP-1'"),
        (corrupt_middle, "corrupt"),
        (truncate, "truncated"),
        (empty_with_backup, "empty (0 bytes), but a backup exists"),
        (not_a_database, "not an SQLite database"),
        (missing_with_backup, "missing, but a backup exists"),
        (wal_without_database, "a write-ahead log (-wal) without its database"),
    ],
)
def test_a_store_that_is_not_ours_or_not_whole_is_refused(
    tmp_path: Path, damage: Callable[[Path, Path], None], says: str
) -> None:
    path = tmp_path / "cpagent.db"
    # the foreign log fits page for page (same layout): SQLite itself sees nothing wrong
    make_store(path, "CP-1", transactions=1 if damage is foreign_wal else 40)
    damage(path, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(StoreOpenError) as refused:
        check_at_start(path, "CP-1")
    assert says in str(refused.value) and str(path) in str(refused.value)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before, "a refused store is left exactly as found (the evidence too)"


def test_a_locked_store_is_refused_not_waited_on_forever(tmp_path: Path) -> None:
    path = tmp_path / "cpagent.db"
    make_store(path, "CP-1")
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreOpenError, match="database is locked"):
            check_at_start(path, "CP-1")
    finally:
        holder.close()


def test_an_older_database_adopts_the_chargepoint_and_keeps_its_transactions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cpagent.db"
    old = Store.open(path, MIGRATIONS[:2])
    with old.connection:  # a transaction as a v2 store wrote it (no history columns yet)
        old.connection.execute(
            "INSERT INTO transactions (connector_id, id_tag, meter_start_wh, last_meter_wh)"
            " VALUES (1, 'T', 12.0, 12.0)"
        )
    old.close()
    check_at_start(path, "CP-1")
    store = Store.open(path, chargepoint_id="CP-1")
    assert store.get_meta("chargepoint_id") == "CP-1" and store.get_meta("store_id")
    assert [t.meter_start_wh for t in store.transactions()] == [12.0]
    store.close()
    with pytest.raises(StoreOpenError, match="belongs to chargepoint 'CP-1'"):
        check_at_start(path, "CP-2")


def test_an_empty_database_without_a_backup_is_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "cpagent.db"
    path.write_bytes(b"")
    check_at_start(path, "CP-1")
    assert backup_path(path).exists()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpagent", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=30,
    )


def test_a_foreign_wal_stops_the_daemon_with_one_line_and_stops_no_transaction(
    tmp_path: Path,
) -> None:
    with running_pair(tmp_path) as (daemon, central):
        _foreign_wal_run(daemon, central, tmp_path)


def _foreign_wal_run(daemon: Daemon, central: GatedCentralSystem, tmp_path: Path) -> None:
    state = daemon.workdir / "state"
    state.mkdir()
    db = state / "cpagent.db"
    make_store(db, CHARGEPOINT_ID)
    check_at_start(db, CHARGEPOINT_ID)  # a later good start: its backup holds transaction T
    foreign_wal(db, tmp_path)
    run = cli("run", "--config", str(daemon.config_path))
    assert run.returncode == 65, run.stderr
    lines = [line for line in run.stderr.splitlines() if "cannot start" in line]
    assert len(lines) == 1 and str(db) in lines[0], run.stderr
    assert f"cpagent store check --config {daemon.config_path}" in lines[0]
    assert "Traceback" not in run.stderr and "PowerLoss" not in run.stderr
    assert central.calls("StopTransaction") == [] and central.connected_ids == []

    check = cli("store", "check", "--config", str(daemon.config_path))
    assert check.returncode == 65 and "cpagent store restore" in check.stdout, check.stdout
    restored = cli("store", "restore", "--config", str(daemon.config_path))
    assert restored.returncode == 0, restored.stderr
    assert cli("store", "check", "--config", str(daemon.config_path)).returncode == 0
    aside = [p for p in state.iterdir() if p.name.startswith("store-aside-")]
    assert len(aside) == 1 and (aside[0] / "cpagent.db-wal").exists(), "evidence kept"
    # the restored store is ours: the daemon starts and ends our own transaction only
    daemon.start()
    daemon.wait_settled()
    starts, stops = central.calls("StartTransaction"), central.calls("StopTransaction")
    assert [c.payload["idTag"] for c in starts] == ["T"], starts
    assert [(c.payload["idTag"], c.payload["reason"]) for c in stops] == [("T", "PowerLoss")]


def test_store_reset_moves_everything_aside_and_the_daemon_starts_empty(tmp_path: Path) -> None:
    with running_pair(tmp_path) as (daemon, central):
        state = daemon.workdir / "state"
        state.mkdir()
        make_store(state / "cpagent.db", "OTHER-CP")
        assert cli("run", "--config", str(daemon.config_path)).returncode == 65
        reset = cli("store", "reset", "--config", str(daemon.config_path))
        assert reset.returncode == 0 and "starts empty" in reset.stdout, reset.stderr
        daemon.start()
        assert daemon.wait_settled()["queued_messages"] == 0
        assert central.calls("StopTransaction") == []


def test_store_commands_refuse_while_a_daemon_holds_the_state_dir(tmp_path: Path) -> None:
    with running_pair(tmp_path) as (daemon, _central):
        daemon.start()
        busy = cli("store", "reset", "--config", str(daemon.config_path))
        assert busy.returncode == 71 and f"pid {daemon.pid}" in busy.stderr, busy.stderr
        assert (daemon.workdir / "state" / "cpagent.db").exists()


def test_store_help_names_every_action() -> None:
    done = cli("store", "--help")
    assert done.returncode == 0
    assert all(word in done.stdout for word in ("check", "reset", "restore", "exit 65"))
