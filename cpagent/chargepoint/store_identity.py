"""Whose the state store is: chargepoint id and store identity, integrity, and its backup."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from cpagent.chargepoint.store import StoreOpenError

if TYPE_CHECKING:
    from cpagent.chargepoint.store import Store

log = logging.getLogger(__name__)

BACKUP_SUFFIX = ".backup"  # cpagent.db.backup: a consistent copy made at every good start
SIDECARS = ("-wal", "-shm")  # SQLite's write-ahead log and its index, beside the database
HEADER = b"SQLite format 3\x00"

# Theory of operation. The meta table names the chargepoint the database belongs to
# ('chargepoint_id') and a random identity of this database ('store_id'); every row of
# `transactions` and `outbox` carries the store_id that wrote it (triggers, migration v3).
# SQLite checks a write-ahead log's own checksums but not which database it belongs to, so a
# WAL copied beside our database (a restored SD card image, a wrong backup) replays another
# chargepoint's pages into ours: its rows then name another store, or its meta page names
# another chargepoint, and the database is refused instead of having its transactions
# stopped as ours. A database without these facts (written by an older cpagent) adopts them.


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def preflight(path: Path) -> None:
    """Refuse, before SQLite touches them, files that are not a database of ours."""
    if not path.exists():
        if Path(f"{path}{SIDECARS[0]}").exists():
            raise StoreOpenError(path, "a write-ahead log (-wal) without its database")
        if backup_path(path).exists():
            raise StoreOpenError(path, f"missing, but a backup exists ({backup_path(path).name})")
        return  # a fresh state dir
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StoreOpenError(path, exc.strerror or str(exc)) from None
    if size == 0:
        if backup_path(path).exists():
            raise StoreOpenError(
                path, f"empty (0 bytes), but a backup exists ({backup_path(path).name})"
            )
        return  # SQLite creates an empty file first: a start cut short before any commit
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise StoreOpenError(path, exc.strerror or str(exc)) from None
    if len(head) < 100 or not head.startswith(HEADER):
        raise StoreOpenError(path, "not an SQLite database (bad header)")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    valid_for = int.from_bytes(head[92:96], "big")
    change_counter = int.from_bytes(head[24:28], "big")
    if pages and valid_for == change_counter and size < pages * page_size:
        raise StoreOpenError(path, f"truncated ({size} bytes; its header says {pages * page_size})")


def verify(store: Store, chargepoint_id: str) -> None:
    """Check the open store is this chargepoint's and whole; adopt an older database."""
    db = store.connection
    ours = store.get_meta("chargepoint_id")
    store_id = store.get_meta("store_id")
    if ours is None or store_id is None:
        _adopt(store, chargepoint_id, store_id)
        return
    if ours != chargepoint_id:
        raise StoreOpenError(store.path, f"belongs to chargepoint {ours!r}, not {chargepoint_id!r}")
    foreign = 0
    for table in ("transactions", "outbox"):
        (count,) = db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE store IS NOT ?", (store_id,)
        ).fetchone()
        foreign += int(count)
    if foreign:
        raise StoreOpenError(
            store.path,
            f"holds {foreign} record(s) written by another "
            "database (a write-ahead log that is not ours?)",
        )


def _adopt(store: Store, chargepoint_id: str, store_id: str | None) -> None:
    store_id = store_id or uuid.uuid4().hex
    with store._tx() as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('chargepoint_id', ?)", (chargepoint_id,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('store_id', ?)", (store_id,))
        for table in ("transactions", "outbox"):
            db.execute(f"UPDATE {table} SET store = ? WHERE store IS NULL", (store_id,))
    log.info(
        "state store %s: recorded as chargepoint %s's (store %s)",
        store.path,
        chargepoint_id,
        store_id[:8],
    )


def integrity(store: Store) -> str | None:
    """None when SQLite's quick_check finds the database whole, else what it found."""
    try:
        rows = store.connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        return str(exc)
    problems = [str(r[0]) for r in rows if r[0] != "ok"]
    return "; ".join(problems[:3]) or None


def write_backup(store: Store) -> Path:
    """A consistent copy of the database beside it (written, synced, then renamed in)."""
    target = backup_path(store.path)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        copy = sqlite3.connect(str(partial))
        try:
            store.connection.backup(copy)
        finally:
            copy.close()
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)  # a half copy must not take the space a full disk lacks
        raise
    return target


def check_copy(path: Path, chargepoint_id: str) -> None:
    """Check a database that has a write-ahead log on a copy of both: closing a connection
    checkpoints the log into the database file and deletes it, which would make a foreign
    log's pages ours for good and destroy the evidence. Raises StoreOpenError."""
    from cpagent.chargepoint.store import Store

    with tempfile.TemporaryDirectory(prefix="cpagent-check-") as tmp:
        copy = Path(tmp) / path.name
        for suffix in ("", SIDECARS[0]):
            source = Path(f"{path}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{copy}{suffix}")
        try:
            store = Store.open(copy, chargepoint_id=chargepoint_id)
        except StoreOpenError as exc:
            raise StoreOpenError(path, exc.reason) from None
        try:
            problem = integrity(store)
        finally:
            store.close()
        if problem is not None:
            raise StoreOpenError(path, f"corrupt ({problem})")


def check_at_start(path: Path, chargepoint_id: str) -> None:
    """The start-up check: open, identity, integrity, then refresh the backup.
    Raises StoreOpenError."""
    from cpagent.chargepoint.store import Store, StoreError

    preflight(path)
    wal = Path(f"{path}{SIDECARS[0]}")
    if wal.exists() and wal.stat().st_size > 0:
        check_copy(path, chargepoint_id)  # an unclean stop left a log: is it ours?
    store = Store.open(path, chargepoint_id=chargepoint_id)
    try:
        problem = integrity(store)
        if problem is not None:
            raise StoreOpenError(path, f"corrupt ({problem})")
        try:
            write_backup(store)
        except (OSError, sqlite3.Error, StoreError) as exc:  # the store itself is fine
            log.warning("state store %s: backup not written: %s", path, exc)
    finally:
        store.close()
