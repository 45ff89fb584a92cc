"""SQLite persistence of chargepoint state and the durable queue of transaction messages."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpagent.chargepoint.authorization import AuthorizationStatus, IdTagInfo
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.reservations import Reservation

DATABASE_FILE = "cpagent.db"  # the store's file name in the [state] dir
OPEN_TIMEOUT_S = 2.0  # how long to wait for a lock another process holds on the database
RETRY_DISK_S = 10.0  # while writes fail, how often to try writing the kept state back

log = logging.getLogger(__name__)

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
)

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


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A transaction message waiting for its answer; `payload` has the real transactionId."""

    seq: int
    action: str
    payload: dict[str, Any]
    local_tx: int | None
    attempts: int
    next_attempt: float
    boot: str | None = None
    mono: float | None = None


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A transaction as persisted; `transaction_id` is None until StartTransaction.conf."""

    local_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: float
    transaction_id: int | None
    last_meter_wh: float
    last_meter_wall: float | None
    stopped: bool


class Store:
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
    def open(cls, path: str | Path, migrations: Sequence[str] = MIGRATIONS, *,
             chargepoint_id: str | None = None) -> Store:
        """Open (create, migrate) the database; with `chargepoint_id`, also check it is
        this chargepoint's (adopting an older one). Raises StoreOpenError."""
        from cpagent.chargepoint import store_identity

        store_identity.preflight(Path(path))
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
                store_identity.verify(store, chargepoint_id)
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
        log.critical("state store %s: write failed (%s); state kept in memory until it can "
                     "be written", self.path, reason)
        return StoreWriteError(f"state store {self.path}: {reason}")

    def retry_disk(self) -> bool:
        """Try to write the state kept in memory back to the database; True once on disk."""
        if self._db is self._disk:
            return True
        try:
            self._db.backup(self._disk)
        except sqlite3.Error as exc:
            log.warning("state store %s still not writable: %s", self.path,
                        medium_error(exc) or exc)
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
            raise RuntimeError(f"database schema v{current} is newer than this program "
                               f"(v{len(migrations)})")
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

    # Local authorization list and cache.
    def load_local_list(self) -> tuple[int, list[tuple[str, IdTagInfo]]]:
        version = int(self.get_meta("local_list_version") or 0)
        rows = self._db.execute("SELECT id_tag, status, expiry, parent FROM local_list")
        return version, [(t, IdTagInfo(AuthorizationStatus(s), e, p)) for t, s, e, p in rows]

    def save_local_list(self, version: int, entries: Iterable[tuple[str, IdTagInfo]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM local_list")
            db.executemany("INSERT INTO local_list VALUES (?, ?, ?, ?)",
                           ((t, str(i.status), i.expiry_s, i.parent_id_tag) for t, i in entries))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('local_list_version', ?)",
                       (str(version),))

    def load_cache(self) -> list[tuple[str, IdTagInfo]]:
        rows = self._db.execute(
            "SELECT id_tag, status, expiry, parent FROM auth_cache ORDER BY used")
        return [(t, IdTagInfo(AuthorizationStatus(s), e, p)) for t, s, e, p in rows]

    def save_cache(self, entries: Iterable[tuple[str, IdTagInfo]]) -> None:
        """Replace the cache with `entries`, least recently used first."""
        with self._tx() as db:
            db.execute("DELETE FROM auth_cache")
            db.executemany("INSERT INTO auth_cache VALUES (?, ?, ?, ?, ?)", (
                (t, str(i.status), i.expiry_s, i.parent_id_tag, n)
                for n, (t, i) in enumerate(entries)))

    def put_cache(self, id_tag: str, info: IdTagInfo, evicted: Iterable[str] = ()) -> None:
        """Store one cache entry as the most recently used and drop `evicted`; the cache is
        advisory (OCPP 1.6 §3.5.2), so this commit is not synced on its own."""
        with self._tx(durable=False) as db:
            db.execute("INSERT OR REPLACE INTO auth_cache VALUES (?, ?, ?, ?,"
                       " (SELECT COALESCE(MAX(used), -1) + 1 FROM auth_cache))",
                       (id_tag, str(info.status), info.expiry_s, info.parent_id_tag))
            db.executemany("DELETE FROM auth_cache WHERE id_tag = ?", ((t,) for t in evicted))

    # Reservations and charging profiles.
    def load_reservations(self) -> list[Reservation]:
        rows = self._db.execute(
            "SELECT reservation_id, connector_id, id_tag, expiry, parent FROM reservations")
        return [Reservation(*row) for row in rows]

    def save_reservations(self, reservations: Iterable[Reservation]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM reservations")
            db.executemany("INSERT INTO reservations VALUES (?, ?, ?, ?, ?)", (
                (r.reservation_id, r.connector_id, r.id_tag, r.expiry_s, r.parent_id_tag)
                for r in reservations))

    def load_profiles(self) -> list[tuple[int, dict[str, Any]]]:
        rows = self._db.execute("SELECT connector_id, profile FROM charging_profiles")
        return [(c, json.loads(p)) for c, p in rows]

    def save_profiles(self, profiles: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM charging_profiles")
            db.executemany("INSERT INTO charging_profiles VALUES (?, ?, ?)", (
                (p["chargingProfileId"], c, json.dumps(p)) for c, p in profiles))

    # Transactions and their messages.
    def begin_transaction(self, connector_id: int, id_tag: str, meter_start_wh: float,
                          start_payload: Mapping[str, Any], boot: str | None = None,
                          mono: float | None = None) -> int:
        """Record a new transaction and queue its StartTransaction.req in one commit."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO transactions (connector_id, id_tag, meter_start_wh, last_meter_wh)"
                " VALUES (?, ?, ?, ?)", (connector_id, id_tag, meter_start_wh, meter_start_wh))
            local_id = int(cur.lastrowid or 0)
            self._enqueue(db, "StartTransaction", start_payload, local_id, boot, mono)
        return local_id

    def record_meter(self, local_id: int, energy_wh: float, wall_s: float | None) -> None:
        """The latest register reading, for a StopTransaction after a power cut."""
        with self._tx() as db:
            db.execute("UPDATE transactions SET last_meter_wh = ?, last_meter_wall = ?"
                       " WHERE local_id = ?", (energy_wh, wall_s, local_id))

    def end_transaction(self, local_id: int, stop_payload: Mapping[str, Any],
                        boot: str | None = None, mono: float | None = None) -> None:
        """Mark the transaction stopped and queue its StopTransaction.req in one commit;
        a second call for the same transaction is ignored (never two Stops)."""
        with self._tx() as db:
            cur = db.execute("UPDATE transactions SET stopped = 1, last_meter_wh = ?"
                             " WHERE local_id = ? AND stopped = 0",
                             (stop_payload["meterStop"], local_id))
            if cur.rowcount == 1:
                self._enqueue(db, "StopTransaction", stop_payload, local_id, boot, mono)

    def set_stop_meter(self, local_id: int, meter_stop: int) -> None:
        """Correct the meterStop of transaction `local_id`'s queued (not yet sent)
        StopTransaction, e.g. a PowerLoss stop once the register could be read."""
        with self._tx() as db:
            row = db.execute("SELECT seq, payload FROM outbox WHERE local_tx = ? AND"
                             " action = 'StopTransaction'", (local_id,)).fetchone()
            if row is None:
                return
            body = json.loads(row[1])
            body["meterStop"] = meter_stop
            db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (json.dumps(body), row[0]))
            db.execute("UPDATE transactions SET last_meter_wh = ? WHERE local_id = ?",
                       (meter_stop, local_id))

    def transactions(self, include_stopped: bool = False) -> list[TransactionRecord]:
        """Transactions still running (or, with include_stopped, also those whose Stop is
        not yet acknowledged)."""
        rows = self._db.execute(
            "SELECT local_id, connector_id, id_tag, meter_start_wh, transaction_id,"
            " last_meter_wh, last_meter_wall, stopped FROM transactions"
            + ("" if include_stopped else " WHERE stopped = 0") + " ORDER BY local_id")
        return [TransactionRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))
                for r in rows]

    def enqueue(self, action: str, payload: Mapping[str, Any], local_tx: int | None = None,
                boot: str | None = None, mono: float | None = None) -> int:
        """Queue a transaction-related message (e.g. MeterValues) durably, in order."""
        with self._tx() as db:
            return self._enqueue(db, action, payload, local_tx, boot, mono)

    @staticmethod
    def _enqueue(db: sqlite3.Connection, action: str, payload: Mapping[str, Any],
                 local_tx: int | None, boot: str | None, mono: float | None) -> int:
        cur = db.execute("INSERT INTO outbox (action, payload, local_tx, boot, mono)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (action, json.dumps(payload), local_tx, boot, mono))
        return int(cur.lastrowid or 0)

    def outbox(self, limit: int | None = None) -> list[QueuedMessage]:
        """Queued messages, oldest first (at most `limit`), with the real transactionId filled
        in where known."""
        rows = self._db.execute(
            "SELECT o.seq, o.action, o.payload, o.local_tx, o.attempts, o.next_attempt, o.boot,"
            " o.mono, t.transaction_id FROM outbox o LEFT JOIN transactions t"
            " ON o.local_tx = t.local_id ORDER BY o.seq LIMIT ?",
            (-1 if limit is None else limit,)).fetchall()
        out = []
        for seq, action, payload, local_tx, attempts, nxt, boot, mono, tx_id in rows:
            body = json.loads(payload)
            if action != "StartTransaction" and tx_id is not None:
                body["transactionId"] = tx_id
            out.append(QueuedMessage(seq, action, body, local_tx, attempts, nxt, boot, mono))
        return out

    def head(self) -> QueuedMessage | None:
        """The message to send next (the queue is sent strictly in order, one at a time)."""
        queue = self.outbox(limit=1)
        return queue[0] if queue else None

    def queue_depth(self) -> int:
        """How many messages wait in the outbox."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(count)

    def mark_attempt(self, seq: int, next_attempt: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?"
                       " WHERE seq = ?", (next_attempt, seq))

    def ack(self, seq: int, transaction_id: int | None = None) -> None:
        """The central system answered message `seq`: drop it, and for a StartTransaction
        record the real transactionId it assigned, in the same commit."""
        with self._tx() as db:
            row = db.execute("SELECT action, local_tx FROM outbox WHERE seq = ?",
                             (seq,)).fetchone()
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            if row is None:
                return
            action, local_tx = row
            if action == "StartTransaction" and transaction_id is not None:
                db.execute("UPDATE transactions SET transaction_id = ? WHERE local_id = ?",
                           (transaction_id, local_tx))
            if action == "StopTransaction":
                db.execute("DELETE FROM transactions WHERE local_id = ?", (local_tx,))

    def backdate(self, boot: str, offset_s: float, others_at: float | None = None) -> int:
        """Give messages queued before the clock was known their wall time: monotonic +
        `offset_s` for this boot; `others_at` (if given) for those of earlier boots, whose
        monotonic clock is gone. Returns how many were changed."""
        rows = self._db.execute("SELECT seq, payload, mono, boot FROM outbox"
                                " WHERE mono IS NOT NULL").fetchall()
        changed = 0
        with self._tx() as db:
            for seq, payload, mono, row_boot in rows:
                if row_boot == boot:
                    when = to_wire(mono + offset_s)
                elif others_at is not None:
                    when = to_wire(others_at)
                else:
                    continue
                body = json.loads(payload)
                if body.get("timestamp", "") is None:
                    body["timestamp"] = when
                for mv in body.get("meterValue", []) + body.get("transactionData", []):
                    if mv.get("timestamp") is None:
                        mv["timestamp"] = when
                db.execute("UPDATE outbox SET payload = ?, mono = NULL WHERE seq = ?",
                           (json.dumps(body), seq))
                changed += 1
        return changed


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration script (triggers hold ';' inside BEGIN ... END)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
