"""The state store: one SQLite database in the state dir (the only chargepoint module doing I/O).

`Store` is the union of its parts, each in its own module: `store_db.Database` (opening,
migrations, durable commits, write faults, config and meta), `store_tables.StateTables`
(authorization list and cache, reservations, charging profiles) and
`store_outbox.OutboxTables` (transactions and the durable message queue). Users that need
one part take a narrow Protocol of it (e.g. `tx_queue.QueueStore`).
"""

from __future__ import annotations

from cpagent.chargepoint.store_db import (
    DATABASE_FILE,
    MIGRATIONS,
    OPEN_TIMEOUT_S,
    RETRY_DISK_S,
    Database,
)
from cpagent.chargepoint.store_errors import (
    StoreError,
    StoreOpenError,
    StoreWriteError,
    medium_error,
)
from cpagent.chargepoint.store_outbox import OutboxTables, QueuedMessage, TransactionRecord
from cpagent.chargepoint.store_tables import StateTables

__all__ = [
    "DATABASE_FILE",
    "MIGRATIONS",
    "OPEN_TIMEOUT_S",
    "RETRY_DISK_S",
    "Database",
    "QueuedMessage",
    "Store",
    "StoreError",
    "StoreOpenError",
    "StoreWriteError",
    "TransactionRecord",
    "medium_error",
]


class Store(OutboxTables, StateTables):
    """One SQLite database in the state directory, used by the owner thread only (see
    `store_db.Database` for durability)."""
