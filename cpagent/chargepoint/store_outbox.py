"""The state store's transactions and their durable message queue (the outbox table)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.store_errors import StoreWriteError
from cpagent.chargepoint.store_history import HistoryTables, _seconds


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
    held: bool = False  # a StopTransaction waiting for its final meter reading: not sent yet


@dataclass(frozen=True, slots=True)
class HeldStop:
    """A queued StopTransaction.req still held for its final reading (after a crash: its
    transaction's register is read at the restart)."""

    local_id: int
    connector_id: int
    meter_stop_wh: int


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


class OutboxTables(HistoryTables):
    """Transactions and the queue of their messages (Start/Stop/MeterValues), in order.

    A transaction's begin and its StartTransaction.req are one commit, and so are its end and
    its StopTransaction.req (with its history row), so a power cut never leaves one without
    the other (§3.7)."""

    def begin_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        start_payload: Mapping[str, Any],
        boot: str | None = None,
        mono: float | None = None,
    ) -> int:
        """Record a new transaction and queue its StartTransaction.req in one commit."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO transactions (connector_id, id_tag, meter_start_wh, last_meter_wh,"
                " start_s) VALUES (?, ?, ?, ?, ?)",
                (
                    connector_id,
                    id_tag,
                    meter_start_wh,
                    meter_start_wh,
                    _seconds(start_payload.get("timestamp")),
                ),
            )
            local_id = int(cur.lastrowid or 0)
            self._enqueue(db, "StartTransaction", start_payload, local_id, boot, mono)
        return local_id

    def record_meter(self, local_id: int, energy_wh: float, wall_s: float | None) -> None:
        """The latest register reading, for a StopTransaction after a power cut."""
        with self._tx() as db:
            db.execute(
                "UPDATE transactions SET last_meter_wh = ?, last_meter_wall = ? WHERE local_id = ?",
                (energy_wh, wall_s, local_id),
            )

    def end_transaction(
        self,
        local_id: int,
        stop_payload: Mapping[str, Any],
        boot: str | None = None,
        mono: float | None = None,
        held: bool = False,
    ) -> None:
        """Mark the transaction stopped, queue its StopTransaction.req and record it in the
        history, in one commit; a second call for the same transaction is ignored (never two
        Stops). `held`: not sent until `release_stop` (its final meter reading is awaited)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE transactions SET stopped = 1, last_meter_wh = ?"
                " WHERE local_id = ? AND stopped = 0",
                (stop_payload["meterStop"], local_id),
            )
            if cur.rowcount == 1:
                seq = self._enqueue(db, "StopTransaction", stop_payload, local_id, boot, mono, held)
                self._record_session(db, local_id, stop_payload, seq)

    def held_stops(self) -> list[HeldStop]:
        """StopTransaction.reqs still held for their final reading, oldest first."""
        rows = self._db.execute(
            "SELECT o.local_tx, t.connector_id, o.payload FROM outbox o JOIN transactions t"
            " ON o.local_tx = t.local_id WHERE o.held = 1 AND o.action = 'StopTransaction'"
            " ORDER BY o.seq"
        ).fetchall()
        return [HeldStop(r[0], r[1], int(json.loads(r[2])["meterStop"])) for r in rows]

    def release_stop(
        self,
        local_id: int,
        meter_stop: int | None = None,
        end: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Let transaction `local_id`'s held StopTransaction.req go, first patching it with
        its final reading: `meter_stop`, and `end` as the SampledValues of its Transaction.End
        entry (OCPP 1.6 §7.35: equal to meterStop), in the queued payload, the transaction
        and the history row, in one commit. Without them it goes as it was queued.

        The commit is not synced on its own (the stop already was, when it was queued): lost
        to a power cut, the Stop is found held at the restart and released then, with the
        register read at that start (the relay has been open since), as after a crash. A
        write that fails (the store falls back to memory) is done again there before the
        StoreWriteError is raised: a Stop left held would stop the queue until a restart."""
        try:
            self._release(local_id, meter_stop, end)
        except StoreWriteError:
            self._release(local_id, meter_stop, end)
            raise

    def _release(
        self, local_id: int, meter_stop: int | None, end: Sequence[Mapping[str, Any]]
    ) -> None:
        with self._tx(durable=False) as db:
            row = db.execute(
                "SELECT seq, payload FROM outbox WHERE local_tx = ? AND held = 1"
                " AND action = 'StopTransaction'",
                (local_id,),
            ).fetchone()
            if row is None:
                return
            seq, body = row[0], json.loads(row[1])
            if meter_stop is not None:
                body["meterStop"] = meter_stop
                db.execute(
                    "UPDATE transactions SET last_meter_wh = ? WHERE local_id = ?",
                    (meter_stop, local_id),
                )
            patched = _patch_end(body, end)
            db.execute(
                "UPDATE outbox SET payload = ?, held = 0 WHERE seq = ?", (json.dumps(body), seq)
            )
            self._patch_session(db, local_id, meter_stop, patched, seq)

    def transactions(self, include_stopped: bool = False) -> list[TransactionRecord]:
        """Transactions still running (or, with include_stopped, also those whose Stop is
        not yet acknowledged)."""
        rows = self._db.execute(
            "SELECT local_id, connector_id, id_tag, meter_start_wh, transaction_id,"
            " last_meter_wh, last_meter_wall, stopped FROM transactions"
            + ("" if include_stopped else " WHERE stopped = 0")
            + " ORDER BY local_id"
        )
        return [
            TransactionRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows
        ]

    def enqueue(
        self,
        action: str,
        payload: Mapping[str, Any],
        local_tx: int | None = None,
        boot: str | None = None,
        mono: float | None = None,
    ) -> int:
        """Queue a transaction-related message (e.g. MeterValues) durably, in order; a
        transaction's MeterValues also go into its history samples, in the same commit."""
        with self._tx() as db:
            seq = self._enqueue(db, action, payload, local_tx, boot, mono)
            if action == "MeterValues" and local_tx is not None:
                self._record_samples(db, local_tx, payload.get("meterValue", []), seq)
            return seq

    @staticmethod
    def _enqueue(
        db: sqlite3.Connection,
        action: str,
        payload: Mapping[str, Any],
        local_tx: int | None,
        boot: str | None,
        mono: float | None,
        held: bool = False,
    ) -> int:
        cur = db.execute(
            "INSERT INTO outbox (action, payload, local_tx, boot, mono, held)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (action, json.dumps(payload), local_tx, boot, mono, int(held)),
        )
        return int(cur.lastrowid or 0)

    def outbox(self, limit: int | None = None) -> list[QueuedMessage]:
        """Queued messages, oldest first (at most `limit`), with the real transactionId filled
        in where known."""
        rows = self._db.execute(
            "SELECT o.seq, o.action, o.payload, o.local_tx, o.attempts, o.next_attempt, o.boot,"
            " o.mono, o.held, t.transaction_id FROM outbox o LEFT JOIN transactions t"
            " ON o.local_tx = t.local_id ORDER BY o.seq LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
        out = []
        for seq, action, payload, local_tx, attempts, nxt, boot, mono, held, tx_id in rows:
            body = json.loads(payload)
            if action != "StartTransaction" and tx_id is not None:
                body["transactionId"] = tx_id
            out.append(
                QueuedMessage(seq, action, body, local_tx, attempts, nxt, boot, mono, bool(held))
            )
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
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ? WHERE seq = ?",
                (next_attempt, seq),
            )

    def ack(self, seq: int, transaction_id: int | None = None, delivered: bool = True) -> None:
        """The central system answered message `seq` (`delivered`; False: given up after
        TransactionMessageAttempts): drop it, and for a StartTransaction record the real
        transactionId it assigned, for a StopTransaction that the history's session was
        acknowledged, in the same commit."""
        with self._tx() as db:
            row = db.execute("SELECT action, local_tx FROM outbox WHERE seq = ?", (seq,)).fetchone()
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            if row is None:
                return
            action, local_tx = row
            if action == "StartTransaction" and transaction_id is not None:
                db.execute(
                    "UPDATE transactions SET transaction_id = ? WHERE local_id = ?",
                    (transaction_id, local_tx),
                )
            if action == "StopTransaction":
                db.execute("DELETE FROM transactions WHERE local_id = ?", (local_tx,))
            if local_tx is not None:
                self._history_ack(db, action, local_tx, transaction_id, delivered)

    def backdate(self, boot: str, offset_s: float, others_at: float | None = None) -> int:
        """Give messages queued before the clock was known their wall time: monotonic +
        `offset_s` for this boot; `others_at` (if given) for those of earlier boots, whose
        monotonic clock is gone. Returns how many were changed."""
        rows = self._db.execute(
            "SELECT seq, payload, mono, boot, action, local_tx FROM outbox WHERE mono IS NOT NULL"
        ).fetchall()
        changed = 0
        with self._tx() as db:
            for seq, payload, mono, row_boot, action, local_tx in rows:
                if row_boot == boot:
                    when_s = mono + offset_s
                elif others_at is not None:
                    when_s = others_at
                else:
                    continue
                when = to_wire(when_s)
                body = json.loads(payload)
                if body.get("timestamp", "") is None:
                    body["timestamp"] = when
                for mv in body.get("meterValue", []) + body.get("transactionData", []):
                    if mv.get("timestamp") is None:
                        mv["timestamp"] = when
                db.execute(
                    "UPDATE outbox SET payload = ?, mono = NULL WHERE seq = ?",
                    (json.dumps(body), seq),
                )
                if local_tx is not None:
                    self._history_backdate(db, action, local_tx, seq, when_s)
                changed += 1
        return changed


def _patch_end(
    body: dict[str, Any], end: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], bool] | None:
    """Give StopTransaction.req `body`'s Transaction.End entry the SampledValues `end` (a new
    entry after the others if it had none but has transactionData): (the entry, whether it
    replaced one), or None if nothing changed."""
    data = body.get("transactionData")
    if not end or not data:
        return None
    ends = [v for v in data if _is_end(v)]
    if ends:
        ends[-1]["sampledValue"] = list(end)
        return ends[-1], True
    entry = {"timestamp": body.get("timestamp"), "sampledValue": list(end)}
    data.append(entry)
    return entry, False


def _is_end(value: Mapping[str, Any]) -> bool:
    return any(sv.get("context") == "Transaction.End" for sv in value.get("sampledValue", []))
