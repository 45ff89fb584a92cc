"""The state store's SQLite database: opening, schema migrations, durable commits, write faults."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Self

from cpagent.chargepoint.store_errors import StoreOpenError, StoreWriteError, medium_error
from cpagent.ids import uuid4_hex

DATABASE_FILE = "cpagent.db"  # the store's file name in the [state] dir
OPEN_TIMEOUT_S = 2.0  # how long to wait for a lock another process holds on the database
RETRY_DISK_S = 10.0  # while writes fail, how often to try writing the kept state back

log = logging.getLogger("cpagent.chargepoint.store")
_identity_log = logging.getLogger("cpagent.chargepoint.store_identity")
HEADER = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-shm")  # SQLite's write-ahead log and its index, beside the database
BACKUP_SUFFIX = ".backup"  # cpagent.db.backup: a consistent copy made at every good start

# Theory of operation. The meta table names the chargepoint the database belongs to
# ('chargepoint_id') and a random identity of this database ('store_id'); every row of
# `transactions` and `outbox` carries the store_id that wrote it (triggers, migration v3).
# SQLite checks a write-ahead log's own checksums but not which database it belongs to, so a
# WAL copied beside our database (a restored SD card image, a wrong backup) replays another
# chargepoint's pages into ours: its rows then name another store, or its meta page names
# another chargepoint, and the database is refused instead of having its transactions
# stopped as ours. A database without these facts (written by an older cpagent) adopts them.


# Each entry moves the schema from version i to i + 1 (PRAGMA user_version). Never edit a
# released entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE local_list (id_tag TEXT PRIMARY KEY, status TEXT NOT NULL, expiry REAL,
                             parent TEXT);
    CREATE TABLE auth_cache (id_tag TEXT PRIMARY KEY, status TEXT NOT NULL, expiry REAL,
                             parent TEXT, used INTEGER NOT NULL);
    CREATE TABLE reservations (reservation_id INTEGER PRIMARY KEY, connector_id INTEGER NOT NULL,
                               id_tag TEXT NOT NULL, expiry REAL NOT NULL, parent TEXT);
    CREATE TABLE charging_profiles (profile_id INTEGER PRIMARY KEY,
                                    connector_id INTEGER NOT NULL, profile TEXT NOT NULL);
    CREATE TABLE transactions (local_id INTEGER PRIMARY KEY AUTOINCREMENT,
        connector_id INTEGER NOT NULL, id_tag TEXT NOT NULL, meter_start_wh REAL NOT NULL,
        transaction_id INTEGER, last_meter_wh REAL NOT NULL, last_meter_wall REAL,
        stopped INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL,
        payload TEXT NOT NULL, local_tx INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL DEFAULT 0);
    """,
    # v2: messages recorded before the wall clock was known keep their boot and monotonic
    # time, so they can be back-dated once the central system tells the time.
    """
    ALTER TABLE outbox ADD COLUMN boot TEXT;
    ALTER TABLE outbox ADD COLUMN mono REAL;
    """,
    # v3: every billing row names the store that wrote it (meta 'store_id'), so rows that
    # arrive from another database (a write-ahead log copied beside ours) are recognised
    # (cpagent.chargepoint.store_identity). Triggers, so writers need not know.
    """
    ALTER TABLE transactions ADD COLUMN store TEXT;
    ALTER TABLE outbox ADD COLUMN store TEXT;
    CREATE TRIGGER transactions_store AFTER INSERT ON transactions WHEN NEW.store IS NULL
    BEGIN
        UPDATE transactions SET store = (SELECT value FROM meta WHERE key = 'store_id')
        WHERE local_id = NEW.local_id;
    END;
    CREATE TRIGGER outbox_store AFTER INSERT ON outbox WHEN NEW.store IS NULL
    BEGIN
        UPDATE outbox SET store = (SELECT value FROM meta WHERE key = 'store_id')
        WHERE seq = NEW.seq;
    END;
    """,
    # v4: the session history (cpagent.chargepoint.store_history). A transaction keeps its
    # start time (POSIX seconds; NULL until the clock is known); a finished one gets a
    # `history` row; its samples are recorded as they are sent.
    """
    ALTER TABLE transactions ADD COLUMN start_s REAL;
    CREATE TABLE history (local_id INTEGER PRIMARY KEY, transaction_id INTEGER,
        connector_id INTEGER NOT NULL, id_tag TEXT NOT NULL, start_s REAL, stop_s REAL,
        meter_start_wh REAL NOT NULL, meter_stop_wh REAL NOT NULL, stop_reason TEXT NOT NULL,
        acknowledged INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE history_samples (local_id INTEGER NOT NULL, n INTEGER NOT NULL, time REAL,
        power_w REAL, energy_wh REAL, seq INTEGER, PRIMARY KEY (local_id, n)) WITHOUT ROWID;
    """,
    # v5: a StopTransaction.req is queued in the commit that ends its transaction, `held` (not
    # sent) until its final meter reading has patched it, so a crash in that wait (<= 1 s)
    # keeps its reason and idTag (cpagent.chargepoint.tx_readings).
    """
    ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    """,
)


class Database:
    """One SQLite database in the state directory, used by the owner thread only.

    Durability: journal_mode=WAL so readers never block the writer and a crash mid-write
    leaves the last commit intact; synchronous=FULL because in WAL mode NORMAL fsyncs only
    at checkpoints, so a power cut could roll back commits already acknowledged to the
    central system (a lost StopTransaction). FULL fsyncs the WAL on every commit: a few
    milliseconds per transaction message, a handful per session. Every method that
    changes state is one transaction (`with self._tx()`), all or nothing.
    """

    def __init__(self, conn: sqlite3.Connection, path: str | Path = "") -> None:
        self._db = self._disk = conn
        self.path = Path(path)
        self.fault: str | None = None  # why writes go to memory; None: on disk
        self.retry_at = 0.0  # monotonic time of the next `retry_disk` worth trying

    @classmethod
    def open(
        cls,
        path: str | Path,
        migrations: Sequence[str] = MIGRATIONS,
        *,
        chargepoint_id: str | None = None,
    ) -> Self:
        """Open (create, migrate) the database; with `chargepoint_id`, also check it is
        this chargepoint's (adopting an older one). Raises StoreOpenError."""
        preflight(Path(path))
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=OPEN_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise StoreOpenError(path, medium_error(exc) or str(exc)) from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            store = cls(conn, path)
            store._migrate(migrations)
            if chargepoint_id is not None:
                verify(store, chargepoint_id)
        except (sqlite3.Error, StoreWriteError) as exc:
            conn.close()
            reason = medium_error(exc) if isinstance(exc, sqlite3.Error) else None
            raise StoreOpenError(path, reason or str(exc)) from None
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        if self._db is not self._disk:
            self.retry_disk()  # last chance to keep what only memory holds
            self._db.close()
        self._disk.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection in use (for store_identity and store maintenance only)."""
        return self._db

    # -- write faults -------------------------------------------------------------------------
    def _fall_back(self, exc: sqlite3.Error, reason: str) -> StoreWriteError:
        """A write failed: carry on in memory from the last commit on disk."""
        if self._db is self._disk:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            try:
                self._disk.backup(memory)  # reads still work on a full disk
            except sqlite3.Error as copy_exc:  # unreadable too: start memory from nothing
                log.critical("state store %s unreadable: %s", self.path, copy_exc)
            self._db = memory
        self.fault = reason
        log.critical(
            "state store %s: write failed (%s); state kept in memory until it can be written",
            self.path,
            reason,
        )
        return StoreWriteError(f"state store {self.path}: {reason}")

    def retry_disk(self) -> bool:
        """Try to write the state kept in memory back to the database; True once on disk."""
        if self._db is self._disk:
            return True
        try:
            self._db.backup(self._disk)
        except sqlite3.Error as exc:
            log.warning(
                "state store %s still not writable: %s", self.path, medium_error(exc) or exc
            )
            return False
        log.warning("state store %s writable again: state written back", self.path)
        self._db.close()
        self._db, self.fault = self._disk, None
        return True

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, migrations: Sequence[str]) -> None:
        current = self.schema_version
        if current > len(migrations):
            raise RuntimeError(
                f"database schema v{current} is newer than this program (v{len(migrations)})"
            )
        for version in range(current, len(migrations)):
            with self._tx() as db:
                for statement in _statements(migrations[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={version + 1}")

    @contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. `durable=False` skips the fsync, for data that may be lost
        (the next durable commit syncs the write-ahead log, taking this one along)."""
        db = self._db
        try:
            if not durable:
                db.execute("PRAGMA synchronous=NORMAL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                if not durable:
                    db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            reason = medium_error(exc)
            if reason is None:
                raise  # our own SQL is wrong: a bug, not a fault of the medium
            if db.in_transaction:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise self._fall_back(exc, reason) from exc

    # Configuration keys and small facts.
    def load_config(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM config").fetchall())

    def save_config(self, values: Mapping[str, str]) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO config VALUES (?, ?)", values.items())

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


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


def verify(store: Database, chargepoint_id: str) -> None:
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


def _adopt(store: Database, chargepoint_id: str, store_id: str | None) -> None:
    store_id = store_id or uuid4_hex()
    with store._tx() as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('chargepoint_id', ?)", (chargepoint_id,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('store_id', ?)", (store_id,))
        for table in ("transactions", "outbox"):
            db.execute(f"UPDATE {table} SET store = ? WHERE store IS NULL", (store_id,))
    _identity_log.info(
        "state store %s: recorded as chargepoint %s's (store %s)",
        store.path,
        chargepoint_id,
        store_id[:8],
    )


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script (triggers hold ';' inside BEGIN ... END)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
