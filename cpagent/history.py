"""Finished charging sessions read from the state database, read-only, while the daemon runs."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FETCH_ROWS = 256  # rows fetched at a time while streaming
WIRE_TIME = "'%Y-%m-%dT%H:%M:%fZ'"  # RFC 3339 UTC with milliseconds, as the OCPP messages

# Times are stored as POSIX seconds and given out as RFC 3339 UTC text, as the OCPP messages
# carry them. `start` falls back to `stop` for filtering when the start time was never known.
_COLUMNS = f"""
    h.local_id, h.transaction_id, h.connector_id, h.id_tag,
    strftime({WIRE_TIME}, h.start_s, 'unixepoch'), strftime({WIRE_TIME}, h.stop_s, 'unixepoch'),
    h.meter_start_wh, h.meter_stop_wh, h.stop_reason, h.acknowledged"""
_SAMPLES = f"""(SELECT json_group_array(json_array(strftime({WIRE_TIME}, time, 'unixepoch'),
    power_w, energy_wh)) FROM (SELECT time, power_w, energy_wh FROM history_samples s
    WHERE s.local_id = h.local_id ORDER BY n))"""
_SINCE = "(:since IS NULL OR COALESCE(h.start_s, h.stop_s) >= :since)"


class HistoryUnavailable(Exception):
    """The state database is missing, unreadable or has no session history (yet)."""


class SessionHistory:
    """The session history (`cpagent.chargepoint.store_history`) of one state database.

    Opened read-only on its own connection (`mode=ro`): the daemon's write-ahead log lets it
    write meanwhile, and each call reads one consistent snapshot. Every session is a dict with
    `id` (the central system's transactionId; None while its StartTransaction is unanswered,
    -1 if it was never delivered, OCPP 1.6 errata 3.18), `local_id` (this chargepoint's
    number), `connector`, `id_tag`, `start`, `stop` (RFC 3339 UTC text, None if the clock was
    never known), `meter_start_wh`, `meter_stop_wh` (the register, Wh), `energy_wh` (delivered:
    stop minus start), `stop_reason` (OCPP 1.6 §7.36 Reason), `acknowledged` (the central system
    answered its StopTransaction) and `samples`: [time, power_w, energy_wh] lists, oldest first,
    energy_wh being the register (None where the message carried no such value).
    Its methods may be called from several threads (one lock serialises them).
    """

    def __init__(self, path: str | Path) -> None:
        """Raises HistoryUnavailable (missing, unreadable, no history table)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.is_file():
            raise HistoryUnavailable(f"{self.path}: no state database (no session recorded yet)")
        # With no write-ahead log beside it no daemon has the database open (a clean stop
        # checkpoints and removes it): read it as immutable, so that reading creates no -wal
        # and -shm files (made by `sudo cpagent sessions`, root's, the daemon could not open).
        live = Path(f"{self.path}-wal").exists()
        uri = f"{self.path.resolve().as_uri()}?mode=ro{'' if live else '&immutable=1'}"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._db.execute("SELECT 1 FROM history LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            if hasattr(self, "_db"):
                self._db.close()
            reason = str(exc)
            if "no such table" in reason:
                reason = "no session history in it (written by an older cpagent: start it once)"
            raise HistoryUnavailable(f"{self.path}: {reason}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SessionHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def page(
        self, offset: int, limit: int, since: datetime | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """(how many sessions started at or after `since`, those at [offset, offset + limit)
        of them newest first). One query; samples are read for this page's sessions only."""
        params = {"since": _posix(since), "offset": max(offset, 0), "limit": max(limit, 0)}
        with self._lock:
            return self._page(params)

    def _page(self, params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        rows = self._db.execute(
            f"""WITH page AS (SELECT {_COLUMNS},
                    (SELECT COUNT(*) FROM history h WHERE {_SINCE}) AS total
                FROM history h WHERE {_SINCE}
                ORDER BY h.local_id DESC LIMIT :limit OFFSET :offset)
            SELECT page.*, {_SAMPLES.replace("h.local_id", "page.local_id")} FROM page""",
            params,
        ).fetchall()
        if rows:
            return int(rows[0][10]), [_session(r[:10], r[11]) for r in rows]
        (total,) = self._db.execute(
            f"SELECT COUNT(*) FROM history h WHERE {_SINCE}", params
        ).fetchone()
        return int(total), []

    def iterate(
        self, since: datetime | None = None, *, samples: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Every session started at or after `since`, **oldest first**, streamed (a few
        hundred rows in memory at a time); `samples=False` leaves them out (an empty list)."""
        extra = f", {_SAMPLES}" if samples else ""
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {_COLUMNS}{extra} FROM history h WHERE {_SINCE} ORDER BY h.local_id",
                {"since": _posix(since)},
            )
        try:
            while True:
                with self._lock:
                    chunk = cursor.fetchmany(FETCH_ROWS)
                if not chunk:
                    break
                for row in chunk:
                    yield _session(row[:10], row[10] if samples else None)
        finally:
            with suppress(sqlite3.ProgrammingError):  # closed with the connection already
                cursor.close()


def _posix(since: datetime | None) -> float | None:
    if since is None:
        return None
    return (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()


def _session(row: tuple[Any, ...], samples: str | None) -> dict[str, Any]:
    local_id, tx_id, connector, id_tag, start, stop, meter_start, meter_stop, reason, acked = row
    return {
        "id": tx_id,
        "local_id": local_id,
        "connector": connector,
        "id_tag": id_tag,
        "start": start,
        "stop": stop,
        "meter_start_wh": meter_start,
        "meter_stop_wh": meter_stop,
        "energy_wh": max(meter_stop - meter_start, 0.0),
        "stop_reason": reason,
        "acknowledged": bool(acked),
        "samples": json.loads(samples) if samples else [],
    }
