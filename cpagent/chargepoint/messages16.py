"""OCPP 1.6 message shapes for the model's notifications and answers, and refusal logging."""

from __future__ import annotations

import logging
from typing import Any

from cpagent.chargepoint.authorization import IdTagInfo
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.connector import StatusReport
from cpagent.chargepoint.metering import meter_values_request
from cpagent.chargepoint.ports import OnAnswer, OnAuthorized
from cpagent.chargepoint.store import Store
from cpagent.core import CallFailed, CallRejected, Event, InvalidPayload, InvalidResponse

_log = logging.getLogger("cpagent.chargepoint.chargepoint")  # the journal's name for these


def status_notification(report: StatusReport, wall: float | None) -> dict[str, Any]:
    """StatusNotification.req (§4.9, §6.47) for a status change; `wall`: when it happened,
    None while the clock is unknown (the field is optional)."""
    payload: dict[str, Any] = {
        "connectorId": report.connector_id,
        "errorCode": str(report.error_code),
        "status": str(report.status),
    }
    if report.info:
        payload["info"] = report.info
    if report.vendor_error_code:
        payload["vendorErrorCode"] = report.vendor_error_code
    if wall is not None:
        payload["timestamp"] = to_wire(wall)
    return payload


def start_transaction(
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    stamp: str | None,
    reservation_id: int | None,
) -> dict[str, Any]:
    """StartTransaction.req (§6.45); a null timestamp is filled in by the store's back-dating
    once the clock is known."""
    payload: dict[str, Any] = {
        "connectorId": connector_id,
        "idTag": id_tag,
        "meterStart": meter_start_wh,
        "timestamp": stamp,
    }
    if reservation_id is not None:
        payload["reservationId"] = reservation_id
    return payload


def stop_transaction(
    meter_stop_wh: int,
    stamp: str | None,
    reason: str,
    id_tag: str | None,
    transaction_data: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """StopTransaction.req (§6.49) without its transactionId (the store fills it in)."""
    payload: dict[str, Any] = {"meterStop": meter_stop_wh, "timestamp": stamp, "reason": reason}
    if id_tag is not None:
        payload["idTag"] = id_tag
    if transaction_data:
        payload["transactionData"] = transaction_data
    return payload


def id_tag_info(answer: dict[str, Any] | None) -> IdTagInfo | None:
    """The idTagInfo of a Start/StopTransaction.conf; None if there is none or it is odd (the
    message is delivered all the same, the tag's status unknown)."""
    if answer is None or not isinstance(answer.get("idTagInfo"), dict):
        return None
    try:
        return IdTagInfo.from_wire(answer["idTagInfo"])
    except (KeyError, TypeError, ValueError):
        return None


def log_refused(event: Event) -> None:
    """A message refused by a schema check is never silent (operators must see why)."""
    if isinstance(event, CallFailed) and isinstance(event.error, InvalidResponse):
        err = event.error.error  # OCPP-J 1.6 §4.2.3: the central system's answer is invalid
        # A transaction message's answer still delivers it (tx_queue, OCPP 1.6 §3.7); any
        # other call counts as not answered.
        _log.warning(
            "%s answer from the central system fails its schema: %s %s",
            event.action,
            err.code,
            err.description,
        )
    elif isinstance(event, CallFailed) and isinstance(event.error, InvalidPayload):
        _log.error("%s not sent: our payload fails its schema: %s", event.action, event.error)
    elif isinstance(event, CallRejected):  # INFO: a peer's flood must not flood the journal
        _log.info(
            "%s from the central system refused with %s: %s",
            event.action,
            event.error.code,
            event.error.description,
        )


class Notifications16:
    """The model's notifications as OCPP 1.6 messages: the `ports.Host` methods that queue
    transaction messages or send calls (mixed into `chargepoint.ChargePoint`)."""

    store: Store
    boot_id: str

    def request(
        self,
        action: str,
        payload: dict[str, Any],
        on_answer: OnAnswer | None = None,
        *,
        triggered: bool = False,
    ) -> None:
        raise NotImplementedError  # the adapter's: after the queue, dropped offline

    def transaction_started(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: int,
        stamp: str | None,
        reservation_id: int | None,
        mono: float,
    ) -> int:
        payload = start_transaction(connector_id, id_tag, meter_start_wh, stamp, reservation_id)
        return self.store.begin_transaction(
            connector_id, id_tag, float(meter_start_wh), payload, self.boot_id, mono
        )

    def transaction_ended(
        self,
        local_id: int,
        meter_stop_wh: int,
        stamp: str | None,
        reason: str,
        id_tag: str | None,
        transaction_data: list[dict[str, Any]] | None,
        mono: float,
        *,
        held: bool = False,
    ) -> None:
        payload = stop_transaction(meter_stop_wh, stamp, reason, id_tag, transaction_data)
        self.store.end_transaction(local_id, payload, self.boot_id, mono, held)

    def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        values: list[dict[str, Any]],
        *,
        local_tx: int | None = None,
        mono: float | None = None,
        triggered: bool = False,
    ) -> None:
        payload = meter_values_request(connector_id, transaction_id, values)
        if local_tx is not None:  # transaction-related: the durable queue (§3.7)
            self.store.enqueue("MeterValues", payload, local_tx, self.boot_id, mono)
        else:
            self.request("MeterValues", payload, triggered=triggered)

    def authorize(self, id_tag: str, then: OnAuthorized) -> None:
        """Authorize.req (§4.1); the answer's idTagInfo (the schema check made sure of it)."""

        def answered(answer: dict[str, Any] | None, when: float) -> None:
            then(None if answer is None else IdTagInfo.from_wire(answer["idTagInfo"]), when)

        self.request("Authorize", {"idTag": id_tag}, answered)
