"""The state store's start-up check: identity (`store_db`), integrity, and its backup."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from cpagent.chargepoint.store import Store, StoreError, StoreOpenError
from cpagent.chargepoint.store_db import (
    BACKUP_SUFFIX,
    HEADER,
    SIDECARS,
    backup_path,
    preflight,
)

__all__ = [
    "BACKUP_SUFFIX",
    "HEADER",
    "SIDECARS",
    "backup_path",
    "check_at_start",
    "check_copy",
    "integrity",
    "preflight",
    "write_backup",
]

log = logging.getLogger(__name__)


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
