"""What can go wrong with the state store: errors, and SQLite's codes for a failing medium."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# SQLite primary result codes (sqlite3.h) that mean the medium failed, not our SQL.
_MEDIUM_ERRORS = {
    5: "database is locked",  # SQLITE_BUSY
    6: "database table is locked",  # SQLITE_LOCKED
    8: "read-only file system or database",  # SQLITE_READONLY
    10: "I/O error",  # SQLITE_IOERR
    11: "database disk image is malformed",  # SQLITE_CORRUPT
    13: "disk full",  # SQLITE_FULL
    14: "unable to open the database file",  # SQLITE_CANTOPEN
    15: "locking protocol error",  # SQLITE_PROTOCOL
    26: "not an SQLite database",  # SQLITE_NOTADB
}


class StoreError(Exception):
    """The state store cannot be used; the message is one line naming the database."""


class StoreOpenError(StoreError):
    """The database is refused at start: not ours, corrupt, truncated or locked."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"state store {path}: {reason}")
        self.path, self.reason = Path(path), reason


class StoreWriteError(StoreError):
    """A write failed (disk full, I/O error). The store now keeps its state in memory
    (`Store.fault` says why) and writes it back once `retry_disk` succeeds."""


def medium_error(exc: sqlite3.Error) -> str | None:
    """What `exc` says about the medium (disk full, I/O error, ...), or None for a bug of
    ours (bad SQL, a constraint)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    return _MEDIUM_ERRORS.get(code & 0xFF)
