"""The state store's session history: finished transactions and their meter samples, bounded."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpagent.chargepoint.clock import from_wire
from cpagent.chargepoint.metering import CURRENT_PHASES, Measurand
from cpagent.chargepoint.store_db import Database

MAX_SAMPLES = 1000
"""Most meter samples kept per session. Past it the samples are thinned evenly: every
`stride`-th sample of the session is kept (the stride doubles each time the bound is reached,
so 500-999 of them), plus always the latest one, so the plot spans the whole session."""

DEFAULT_HISTORY_DAYS = 365
DEFAULT_HISTORY_MAX_SESSIONS = 10_000

ENERGY = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER  # the default measurand (OCPP 1.6 §7.31)
POWER = Measurand.POWER_ACTIVE_IMPORT
SCALE = {"Wh": 1.0, "kWh": 1000.0, "W": 1.0, "kW": 1000.0}  # UnitOfMeasure, §7.45


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history is kept (`[state] history_days` / `history_max_sessions`). Days
    count back from the end of the session just recorded, not from the system clock, so a
    Pi booting with a wrong clock never empties the history."""

    days: int = DEFAULT_HISTORY_DAYS
    max_sessions: int = DEFAULT_HISTORY_MAX_SESSIONS


class HistoryTables(Database):
    """Finished transactions (`history`) and their meter samples (`history_samples`).

    Theory of operation: nothing here commits on its own. Each method takes the connection of
    a transaction the outbox has open, so a sample is written in the same commit as the
    MeterValues.req it was sent in, a session's history row in the same commit as its
    StopTransaction.req (OCPP 1.6 §3.7: nothing lost on a power cut, no extra fsync), its
    `acknowledged` flag in the commit that removes the delivered Stop from the queue, and
    times recorded before the clock was known in the commit that back-dates the queue.
    """

    retention: Retention = Retention()

    def _record_samples(
        self, db: sqlite3.Connection, local_id: int, values: Iterable[Mapping[str, Any]], seq: int
    ) -> None:
        """Keep the energy register and power of each MeterValue sent for `local_id` in the
        message queued as `seq` (a missing time waits for the back-dating of `seq`)."""
        for value in values:
            if not isinstance(value, Mapping):  # not ours to judge: the queue keeps it as it is
                continue
            sampled = value.get("sampledValue")
            energy, power = _reading(sampled if isinstance(sampled, list) else [])
            if energy is None and power is None:
                continue
            stamp = value.get("timestamp")
            self._add_sample(db, local_id, _seconds(stamp), power, energy, seq)

    def _add_sample(
        self,
        db: sqlite3.Connection,
        local_id: int,
        time_s: float | None,
        power_w: float | None,
        energy_wh: float | None,
        seq: int,
    ) -> None:
        # The session's sample count and stride come from its rows (index seeks), so a
        # sample costs the outbox commit one page more (the history_samples leaf), no more.
        (last,) = db.execute(
            "SELECT MAX(n) FROM history_samples WHERE local_id = ?", (local_id,)
        ).fetchone()
        n = 0 if last is None else int(last) + 1
        # kept: n = 0, stride, 2 x stride, ... and the latest, so the first after 0 is the stride
        first = db.execute(
            "SELECT n FROM history_samples WHERE local_id = ? AND n > 0 ORDER BY n LIMIT 1",
            (local_id,),
        ).fetchone()
        stride = 1 if first is None else int(first[0])
        if n and (n - 1) % stride:  # the previous latest was kept only as the latest
            db.execute(
                "DELETE FROM history_samples WHERE local_id = ? AND n = ?", (local_id, n - 1)
            )
        db.execute(
            "INSERT INTO history_samples (local_id, n, time, power_w, energy_wh, seq)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (local_id, n, time_s, power_w, energy_wh, None if time_s is not None else seq),
        )
        if n // stride + 1 >= MAX_SAMPLES:  # the bound, counting the latest: thin evenly
            db.execute(
                "DELETE FROM history_samples WHERE local_id = ? AND n % ? != 0 AND n != ?",
                (local_id, stride * 2, n),
            )

    def _record_session(
        self, db: sqlite3.Connection, local_id: int, stop: Mapping[str, Any], seq: int
    ) -> None:
        """The history row of transaction `local_id`, ended by StopTransaction.req `stop`
        (queued as `seq`), then the retention rule applied."""
        row = db.execute(
            "SELECT connector_id, id_tag, transaction_id, start_s, meter_start_wh"
            " FROM transactions WHERE local_id = ?",
            (local_id,),
        ).fetchone()
        if row is None:
            return
        connector_id, id_tag, transaction_id, start_s, meter_start = row
        end = [
            v
            for v in stop.get("transactionData") or []
            if any(sv.get("context") == "Transaction.End" for sv in v.get("sampledValue", []))
        ]
        self._record_samples(db, local_id, end[-1:], seq)
        stop_s = _seconds(stop.get("timestamp"))
        db.execute(
            "INSERT OR REPLACE INTO history (local_id, transaction_id, connector_id, id_tag,"
            " start_s, stop_s, meter_start_wh, meter_stop_wh, stop_reason, acknowledged)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                local_id,
                transaction_id,
                connector_id,
                id_tag,
                start_s,
                stop_s,
                meter_start,
                float(stop["meterStop"]),
                # §6.49: reason is optional, its absence means Local (§7.36 Reason)
                stop.get("reason") or "Local",
            ),
        )
        self._prune(db, stop_s)

    def _patch_session(
        self,
        db: sqlite3.Connection,
        local_id: int,
        meter_stop: int | None,
        end: tuple[Mapping[str, Any], bool] | None,
        seq: int,
    ) -> None:
        """The final reading of transaction `local_id`, ended by StopTransaction.req `seq`:
        its meterStop, and `end` (its Transaction.End entry, whether it replaced the one the
        history took as the session's latest sample when the Stop was queued)."""
        if meter_stop is not None:
            db.execute(
                "UPDATE history SET meter_stop_wh = ? WHERE local_id = ?",
                (float(meter_stop), local_id),
            )
        if end is None:
            return
        entry, replaced = end
        if not replaced:
            self._record_samples(db, local_id, [entry], seq)
            return
        energy, power = _reading(entry.get("sampledValue", []))
        if energy is not None or power is not None:
            db.execute(
                "UPDATE history_samples SET energy_wh = ?, power_w = ? WHERE local_id = ?"
                " AND n = (SELECT MAX(n) FROM history_samples WHERE local_id = ?)",
                (energy, power, local_id, local_id),
            )

    def _prune(self, db: sqlite3.Connection, newest_stop_s: float | None) -> None:
        """Drop the oldest sessions (and their samples) beyond the retention bounds."""
        keep = self.retention
        (bound,) = db.execute(
            "SELECT local_id FROM history ORDER BY local_id DESC LIMIT 1 OFFSET ?",
            (keep.max_sessions,),
        ).fetchone() or (None,)
        if bound is not None:
            db.execute("DELETE FROM history_samples WHERE local_id <= ?", (bound,))
            db.execute("DELETE FROM history WHERE local_id <= ?", (bound,))
        if newest_stop_s is not None:
            cutoff = newest_stop_s - keep.days * 86400.0
            db.execute(
                "DELETE FROM history_samples WHERE local_id IN"
                " (SELECT local_id FROM history WHERE stop_s < ?)",
                (cutoff,),
            )
            db.execute("DELETE FROM history WHERE stop_s < ?", (cutoff,))

    @staticmethod
    def _history_ack(
        db: sqlite3.Connection, action: str, local_id: int, tx_id: int | None, delivered: bool
    ) -> None:
        """A queued message is done: a Start's transactionId, a Stop's acknowledgement."""
        if action == "StartTransaction" and tx_id is not None:
            db.execute(
                "UPDATE history SET transaction_id = ? WHERE local_id = ?", (tx_id, local_id)
            )
        elif action == "StopTransaction" and delivered:
            db.execute("UPDATE history SET acknowledged = 1 WHERE local_id = ?", (local_id,))

    @staticmethod
    def _history_backdate(
        db: sqlite3.Connection, action: str, local_id: int, seq: int, when_s: float
    ) -> None:
        """Message `seq` of transaction `local_id` was given its time `when_s`."""
        if action == "StartTransaction":
            for table in ("transactions", "history"):
                db.execute(
                    f"UPDATE {table} SET start_s = ? WHERE local_id = ? AND start_s IS NULL",
                    (when_s, local_id),
                )
        elif action == "StopTransaction":
            db.execute(
                "UPDATE history SET stop_s = ? WHERE local_id = ? AND stop_s IS NULL",
                (when_s, local_id),
            )
        db.execute(
            "UPDATE history_samples SET time = ?, seq = NULL WHERE local_id = ? AND seq = ?",
            (when_s, local_id, seq),
        )


def _seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return from_wire(stamp)
    except ValueError:
        return None


def _reading(values: Iterable[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """(energy register Wh, active power W) of one MeterValue's SampledValues: the totals, or
    the sum of the phases where only per-phase values were sent (§7.31, §7.45)."""
    totals: dict[str, float] = {}
    phases: dict[str, float] = {}
    for sv in values:
        if not isinstance(sv, Mapping):
            continue
        measurand = sv.get("measurand", ENERGY)
        if measurand not in (ENERGY, POWER):
            continue
        try:
            value = float(sv["value"]) * SCALE[sv.get("unit", "Wh" if measurand == ENERGY else "W")]
        except (KeyError, TypeError, ValueError):
            continue
        phase = sv.get("phase")
        if phase is None:
            totals[measurand] = value
        elif phase in CURRENT_PHASES:  # not L1-N etc.: those are the same phases again
            phases[measurand] = phases.get(measurand, 0.0) + value
    energy = totals.get(ENERGY, phases.get(ENERGY))
    power = totals.get(POWER, phases.get(POWER))
    return energy, power
