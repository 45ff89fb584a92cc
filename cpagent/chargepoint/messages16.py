"""OCPP 1.6 message shapes for the model's notifications and answers, and refusal logging."""

from __future__ import annotations

import logging
from typing import Any

from cpagent.chargepoint.authorization import IdTagInfo
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.connector import StatusReport
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
        # A transaction message's answer still delivers it (tx_queue, OCPP 1.6 §4.7); any
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
