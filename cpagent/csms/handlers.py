"""Answers to every OCPP 1.6 chargepoint-initiated message, recorded in the central state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from cpagent.csms.state import (
    ConnectorState,
    CsmsState,
    JsonObject,
    Transaction,
    TransactionStatus,
    iso_utc,
)

DEFAULT_HEARTBEAT_INTERVAL_S = 300


class AuthorizationStatus(StrEnum):
    """IdTagInfo.status values (OCPP 1.6 §7.15)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class DataTransferStatus(StrEnum):
    """DataTransfer.conf status values (OCPP 1.6 §6.17)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_MESSAGE_ID = "UnknownMessageId"
    UNKNOWN_VENDOR_ID = "UnknownVendorId"


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """How the bench central system answers.

    `accepted_id_tags` None accepts every idTag (open bench); a set accepts only those and
    answers `Invalid` for the others.
    """

    accepted_id_tags: frozenset[str] | None = None
    heartbeat_interval_s: int = DEFAULT_HEARTBEAT_INTERVAL_S

    @classmethod
    def with_id_tags(
        cls, id_tags: Iterable[str] | None, heartbeat_interval_s: int = DEFAULT_HEARTBEAT_INTERVAL_S
    ) -> HandlerSettings:
        tags = frozenset(id_tags) if id_tags else None
        return cls(accepted_id_tags=tags, heartbeat_interval_s=heartbeat_interval_s)


Handler = Callable[[str, JsonObject, float], JsonObject]
"""(chargepoint id, CALL payload, wall-clock now) -> CALLRESULT payload."""


class CentralHandlers:
    """The chargepoint-initiated actions of OCPP 1.6 and how a bench CSMS answers each.

    Every method records what it saw in `state` and returns a payload valid against the
    official `<Action>Response.json` schema. They run on the owner thread only.
    """

    def __init__(self, state: CsmsState, settings: HandlerSettings) -> None:
        self._state = state
        self._settings = settings

    def table(self) -> dict[str, Handler]:
        """Action name (exact wire spelling) -> handler."""
        return {
            "BootNotification": self.boot_notification,
            "Heartbeat": self.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.meter_values,
            "DataTransfer": self.data_transfer,
            "DiagnosticsStatusNotification": self.diagnostics_status_notification,
            "FirmwareStatusNotification": self.firmware_status_notification,
        }

    def id_tag_info(self, id_tag: str) -> JsonObject:
        """IdTagInfo for `id_tag` under the configured list (OCPP 1.6 §7.14)."""
        accepted = self._settings.accepted_id_tags
        ok = accepted is None or id_tag in accepted
        status = AuthorizationStatus.ACCEPTED if ok else AuthorizationStatus.INVALID
        return {"status": str(status)}

    # OCPP 1.6 §4.2: Accepted, with the heartbeat interval and the CSMS clock.
    def boot_notification(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        self._state.chargepoint(cp_id).boot = dict(payload)
        return {
            "status": "Accepted",
            "currentTime": iso_utc(now),
            "interval": self._settings.heartbeat_interval_s,
        }

    # OCPP 1.6 §4.6
    def heartbeat(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        self._state.chargepoint(cp_id).last_heartbeat_at = now
        return {"currentTime": iso_utc(now)}

    # OCPP 1.6 §4.9; connector 0 is the chargepoint as a whole.
    def status_notification(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        self._state.chargepoint(cp_id).connectors[int(payload["connectorId"])] = ConnectorState(
            status=str(payload["status"]),
            error_code=str(payload["errorCode"]),
            info=payload.get("info"),
            timestamp=payload.get("timestamp"),
        )
        return {}

    # OCPP 1.6 §4.1
    def authorize(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        return {"idTagInfo": self.id_tag_info(str(payload["idTag"]))}

    # OCPP 1.6 §4.8: a transactionId is returned even when the idTag is not accepted.
    def start_transaction(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        id_tag = str(payload["idTag"])
        transaction = self._state.start_transaction(
            cp_id,
            connector_id=int(payload["connectorId"]),
            id_tag=id_tag,
            meter_start_wh=int(payload["meterStart"]),
            started_at=str(payload["timestamp"]),
        )
        return {"transactionId": transaction.id, "idTagInfo": self.id_tag_info(id_tag)}

    # OCPP 1.6 §4.10: idTagInfo only when the stop carried an idTag.
    def stop_transaction(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        transaction = self._state.transactions.get(int(payload["transactionId"]))
        if transaction is not None:
            transaction.status = TransactionStatus.STOPPED
            transaction.meter_stop_wh = int(payload["meterStop"])
            transaction.stopped_at = str(payload["timestamp"])
            transaction.stop_reason = payload.get("reason", "Local")
            _append_meter_values(transaction, payload.get("transactionData", []))
        answer: JsonObject = {}
        if "idTag" in payload:
            answer["idTagInfo"] = self.id_tag_info(str(payload["idTag"]))
        return answer

    # OCPP 1.6 §4.7: values without a known transaction are kept in the frame log only.
    def meter_values(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        transaction_id = payload.get("transactionId")
        transaction = (
            None if transaction_id is None else self._state.transactions.get(int(transaction_id))
        )
        if transaction is not None:
            _append_meter_values(transaction, payload["meterValue"])
        return {}

    # OCPP 1.6 §4.3: no vendor extensions here, so every vendorId is unknown.
    def data_transfer(self, cp_id: str, payload: JsonObject, now: float) -> JsonObject:
        self._state.chargepoint(cp_id).data_transfers.append(dict(payload))
        return {"status": str(DataTransferStatus.UNKNOWN_VENDOR_ID)}

    # OCPP 1.6 §4.4
    def diagnostics_status_notification(
        self, cp_id: str, payload: JsonObject, now: float
    ) -> JsonObject:
        self._state.chargepoint(cp_id).diagnostics_status = str(payload["status"])
        return {}

    # OCPP 1.6 §4.5
    def firmware_status_notification(
        self, cp_id: str, payload: JsonObject, now: float
    ) -> JsonObject:
        self._state.chargepoint(cp_id).firmware_status = str(payload["status"])
        return {}


def _append_meter_values(transaction: Transaction, meter_values: list[JsonObject]) -> None:
    transaction.meter_values.extend(dict(m) for m in meter_values)
