"""What the bench central system saw: chargepoints, connectors, transactions and frames."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

JsonObject = dict[str, Any]

FRAME_LOG_LIMIT = 10_000
"""Frames kept in memory; the oldest are dropped first (a bench tool, not an archive)."""


def iso_utc(wall: float) -> str:
    """Wall-clock seconds as an OCPP date-time: ISO 8601 in UTC with a `Z` (OCPP-J 1.6 §4.1.5)."""
    stamp = datetime.fromtimestamp(wall, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class Direction(StrEnum):
    """Which way a frame went, seen from the central system."""

    RECEIVED = "received"
    SENT = "sent"


class TransactionStatus(StrEnum):
    """Whether a transaction is still running (no StopTransaction seen yet)."""

    ACTIVE = "Active"
    STOPPED = "Stopped"


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One OCPP-J frame as it crossed the wire, with the wall-clock time it did."""

    at: float
    chargepoint_id: str
    direction: Direction
    text: str

    def to_json(self) -> JsonObject:
        return {
            "at": iso_utc(self.at),
            "chargepointId": self.chargepoint_id,
            "direction": str(self.direction),
            "text": self.text,
        }


@dataclass(slots=True)
class ConnectorState:
    """The last StatusNotification seen for one connector (OCPP 1.6 §4.9)."""

    status: str
    error_code: str
    info: str | None = None
    timestamp: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "status": self.status,
            "errorCode": self.error_code,
            "info": self.info,
            "timestamp": self.timestamp,
        }


@dataclass(slots=True)
class ChargepointState:
    """One chargepoint: its link, its BootNotification and its connectors."""

    id: str
    connected: bool = False
    subprotocol: str | None = None
    remote_address: str | None = None
    connected_at: float | None = None
    disconnected_at: float | None = None
    boot: JsonObject | None = None
    last_heartbeat_at: float | None = None
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    data_transfers: list[JsonObject] = field(default_factory=list)

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "connected": self.connected,
            "subprotocol": self.subprotocol,
            "remoteAddress": self.remote_address,
            "connectedAt": _iso_or_none(self.connected_at),
            "disconnectedAt": _iso_or_none(self.disconnected_at),
            "boot": self.boot,
            "lastHeartbeatAt": _iso_or_none(self.last_heartbeat_at),
            "firmwareStatus": self.firmware_status,
            "diagnosticsStatus": self.diagnostics_status,
            "connectors": {str(k): c.to_json() for k, c in sorted(self.connectors.items())},
            "dataTransfers": list(self.data_transfers),
        }


@dataclass(slots=True)
class Transaction:
    """One transaction as the chargepoint reported it (OCPP 1.6 §4.8, §4.10, §4.7)."""

    id: int
    chargepoint_id: str
    connector_id: int
    id_tag: str
    meter_start_wh: int
    started_at: str
    status: TransactionStatus = TransactionStatus.ACTIVE
    meter_stop_wh: int | None = None
    stopped_at: str | None = None
    stop_reason: str | None = None
    meter_values: list[JsonObject] = field(default_factory=list)

    @property
    def energy_wh(self) -> int | None:
        """Energy delivered so far by the meter register; None until the transaction stops."""
        if self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh

    def to_json(self) -> JsonObject:
        return {
            "transactionId": self.id,
            "chargepointId": self.chargepoint_id,
            "connectorId": self.connector_id,
            "idTag": self.id_tag,
            "status": str(self.status),
            "meterStart": self.meter_start_wh,
            "startedAt": self.started_at,
            "meterStop": self.meter_stop_wh,
            "stoppedAt": self.stopped_at,
            "stopReason": self.stop_reason,
            "energyWh": self.energy_wh,
            "meterValues": list(self.meter_values),
        }


def _iso_or_none(wall: float | None) -> str | None:
    return None if wall is None else iso_utc(wall)


@dataclass(slots=True)
class CsmsState:
    """Everything the central system saw; owned by its owner thread, never shared.

    Other threads read it through `CentralSystem.snapshot()`, which asks the owner thread
    for `to_json()`, so nothing here needs a lock.
    """

    chargepoints: dict[str, ChargepointState] = field(default_factory=dict)
    transactions: dict[int, Transaction] = field(default_factory=dict)
    frames: deque[FrameRecord] = field(default_factory=lambda: deque(maxlen=FRAME_LOG_LIMIT))
    last_transaction_id: int = 0

    def chargepoint(self, cp_id: str) -> ChargepointState:
        """The record for `cp_id`, created on first sight."""
        record = self.chargepoints.get(cp_id)
        if record is None:
            record = self.chargepoints[cp_id] = ChargepointState(id=cp_id)
        return record

    def connected(
        self, cp_id: str, subprotocol: str, remote_address: str | None, at: float
    ) -> None:
        record = self.chargepoint(cp_id)
        record.connected = True
        record.subprotocol = subprotocol
        record.remote_address = remote_address
        record.connected_at = at

    def disconnected(self, cp_id: str, at: float) -> None:
        record = self.chargepoint(cp_id)
        record.connected = False
        record.disconnected_at = at

    def log_frame(self, cp_id: str, direction: Direction, text: str, at: float) -> None:
        self.frames.append(FrameRecord(at, cp_id, direction, text))

    def start_transaction(
        self, cp_id: str, connector_id: int, id_tag: str, meter_start_wh: int, started_at: str
    ) -> Transaction:
        """Record a new transaction under the next id; ids increase and are never reused."""
        self.last_transaction_id += 1
        transaction = Transaction(
            id=self.last_transaction_id,
            chargepoint_id=cp_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start_wh=meter_start_wh,
            started_at=started_at,
        )
        self.transactions[transaction.id] = transaction
        return transaction

    def active_transactions(self, cp_id: str | None = None) -> list[Transaction]:
        return [
            t
            for t in self.transactions.values()
            if t.status is TransactionStatus.ACTIVE and cp_id in (None, t.chargepoint_id)
        ]

    def frames_of(self, cp_id: str | None = None, limit: int | None = None) -> list[FrameRecord]:
        """Logged frames, oldest first, of one chargepoint or all; the last `limit` if given."""
        selected = [f for f in self.frames if cp_id in (None, f.chargepoint_id)]
        return selected if limit is None else selected[-limit:]

    def to_json(self, cp_id: str | None = None, frame_limit: int = 50) -> JsonObject:
        """A JSON-ready view of everything, or of one chargepoint and its transactions."""
        chargepoints = [
            c.to_json() for k, c in sorted(self.chargepoints.items()) if cp_id in (None, k)
        ]
        transactions = [
            t.to_json()
            for _, t in sorted(self.transactions.items())
            if cp_id in (None, t.chargepoint_id)
        ]
        frames = [f.to_json() for f in self.frames_of(cp_id, frame_limit)]
        return {"chargepoints": chargepoints, "transactions": transactions, "frames": frames}
