"""Answers to the central system's requests (OCPP 1.6 §5), one function per action."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cpagent.chargepoint import cards
from cpagent.chargepoint.commands import RestartRequested
from cpagent.chargepoint.connector import ConnectorStatus, Trigger
from cpagent.chargepoint.reservations import ReservationStatus
from cpagent.chargepoint.smart_charging import ProfileStatus, Purpose
from cpagent.core import NotImplemented_, NotSupported, PropertyConstraintViolation

if TYPE_CHECKING:
    from cpagent.chargepoint.chargepoint import ChargePoint

S = ConnectorStatus
Payload = dict[str, Any]
Handler = Callable[["ChargePoint", Payload, float], Payload]


def change_availability(cp: ChargePoint, req: Payload, now: float) -> Payload:
    """§5.2: Scheduled while a transaction runs; connector 0 means all of them."""
    cid, operative = req["connectorId"], req["type"] == "Operative"
    ch = cp.charging
    if cid not in ch.points:
        return {"status": "Rejected"}
    targets = list(ch.points) if cid == 0 else [cid]
    scheduled = False
    for c in targets:
        p = ch.points[c]
        cp.store.set_meta(f"inoperative:{c}", "0" if operative else "1")
        if operative:
            p.unavailable_later = False
            ch._move(p, Trigger.BECOME_AVAILABLE, now)
            if p.plugged and p.tx is None and p.connector.status is S.AVAILABLE:
                ch._move(p, Trigger.USAGE_INITIATED, now)  # §4.9 H2: already plugged in
                p.since = now  # ConnectionTimeOut runs from here
        elif p.tx is not None:
            p.unavailable_later = scheduled = True
        else:
            cp.drop_reservations(c, now, release=False)  # §5.13 (3); Reserved -> G8
            if p.connector.status in (S.PREPARING, S.FINISHING):
                p.auth = None
                ch._move(p, Trigger.SESSION_ENDED, now)
            ch._move(p, Trigger.BECOME_UNAVAILABLE, now)
    return {"status": "Scheduled" if scheduled else "Accepted"}


def change_configuration(cp: ChargePoint, req: Payload, now: float) -> Payload:
    status = cp.settings.change(req["key"], req["value"])
    cp.save_settings()
    return {"status": str(status)}


def get_configuration(cp: ChargePoint, req: Payload, now: float) -> Payload:
    return cp.settings.get_configuration(req.get("key"))


def clear_cache(cp: ChargePoint, req: Payload, now: float) -> Payload:
    cp.cache.clear()
    cp.store.save_cache([])
    return {"status": "Accepted"}


def data_transfer(cp: ChargePoint, req: Payload, now: float) -> Payload:
    return {"status": "UnknownVendorId"}  # no vendor extensions registered


def get_local_list_version(cp: ChargePoint, req: Payload, now: float) -> Payload:
    """§5.10: 0 = empty list; -1 while LocalAuthListEnabled is false (no list in use)."""
    enabled = cp.settings.get_bool("LocalAuthListEnabled")
    return {"listVersion": cp.local_list.reported_version(enabled)}


def send_local_list(cp: ChargePoint, req: Payload, now: float) -> Payload:
    status = cp.local_list.update(req, enabled=cp.settings.get_bool("LocalAuthListEnabled"))
    if status == "Accepted":
        cp.store.save_local_list(cp.local_list.version, cp.local_list.entries())
    return {"status": str(status)}


def remote_start(cp: ChargePoint, req: Payload, now: float) -> Payload:
    """§5.11: authorize first if AuthorizeRemoteTxRequests; the plug may come later."""
    ch, tag = cp.charging, req["idTag"]
    profile = req.get("chargingProfile")
    if cp.registration != "Accepted" or cp.firmware.blocks_charging or (
            profile is not None and profile.get("chargingProfilePurpose") != Purpose.TX):
        return {"status": "Rejected"}
    p = ch._choose(req.get("connectorId", 0), tag)
    if p is None or p.tx is not None or p.connector.connector_id == 0 or (
            p.connector.status in (S.FAULTED, S.UNAVAILABLE)) or (
            cp.reservations.blocks(p.connector.connector_id, tag, cards.parent_of(ch, tag),
                                   ch.statuses())):  # §5.13: the group may use it too
        return {"status": "Rejected"}
    p.remote_profile = profile
    if cp.settings.get_bool("AuthorizeRemoteTxRequests"):
        ch._authorize(p, tag, now, lambda info: ch.authorized(p, tag, info, now))
    else:
        ch.authorized(p, tag, None, now)
    return {"status": "Accepted"}


def remote_stop(cp: ChargePoint, req: Payload, now: float) -> Payload:
    if cp.registration != "Accepted":
        return {"status": "Rejected"}  # §4.2: not allowed while Pending
    for p in cp.charging.points.values():
        if p.tx is not None and p.tx.transaction_id == req["transactionId"]:
            cp.charging.stop(p, "Remote", now)
            return {"status": "Accepted"}
    return {"status": "Rejected"}


def reset(cp: ChargePoint, req: Payload, now: float) -> Payload:
    return {"status": "Accepted"}  # the work happens after the answer (after_answer)


def unlock_connector(cp: ChargePoint, req: Payload, now: float) -> Payload:
    return {"status": "NotSupported"}  # no connector lock actuator on this hardware


def trigger_message(cp: ChargePoint, req: Payload, now: float) -> Payload:
    """§5.17: Accepted for what RemoteTrigger covers here; the message follows the answer.

    connectorId matters only to MeterValues and StatusNotification (an unknown one is
    Rejected); for the others it is ignored and the message still sent (§5.17 "The requested
    message is leading"). BootNotification once Accepted is Rejected: a second boot could
    come back Pending or Rejected and silence a charger with transactions running (errata
    3.35, §5.17; the central system should not ask, errata 3.40).
    """
    what, cid = req["requestedMessage"], req.get("connectorId")
    if what in FIRMWARE_TRIGGERS and not cp.firmware_management:
        return {"status": "NotImplemented"}
    if what in CONNECTOR_TRIGGERS and cid is not None and cid not in cp.charging.points:
        return {"status": "Rejected"}
    if what == "BootNotification" and cp.registration == "Accepted":
        return {"status": "Rejected"}
    if what == "MeterValues" and (cp.wall(now) is None or not any(
            p.sample is not None for c, p in cp.charging.points.items()
            if c and cid in (None, 0, c))):
        return {"status": "Rejected"}  # nothing measured yet: "Accepted ... SHOULD be sent"
    return {"status": "Accepted"}


def reserve_now(cp: ChargePoint, req: Payload, now: float) -> Payload:
    wall = cp.wall(now)
    if wall is None:
        return {"status": "Rejected"}
    before = {r.reservation_id: r.connector_id for r in cp.reservations}
    status, res = cp.reservations.reserve(req, cp.charging.statuses(), wall)
    if status is ReservationStatus.ACCEPTED and res is not None:
        old = before.get(res.reservation_id)
        if old is not None and old != res.connector_id:
            cp.charging.unreserved(old, now)
        p = cp.charging.points.get(res.connector_id)
        if res.connector_id and p is not None and p.connector.status is S.AVAILABLE:
            cp.charging._move(p, Trigger.RESERVED, now)
        cp.store.save_reservations(cp.reservations)
    return {"status": str(status)}


def cancel_reservation(cp: ChargePoint, req: Payload, now: float) -> Payload:
    status, gone = cp.reservations.cancel(req["reservationId"])
    if gone is not None:
        cp.charging.unreserved(gone.connector_id, now)
        cp.store.save_reservations(cp.reservations)
    return {"status": str(status)}


def set_charging_profile(cp: ChargePoint, req: Payload, now: float) -> Payload:
    if req["connectorId"] not in cp.charging.points:  # errata 3.39: a CALLERROR, not Rejected
        raise PropertyConstraintViolation(
            f"SetChargingProfile: connectorId {req['connectorId']} does not exist")
    if int(req["csChargingProfiles"]["stackLevel"]) < 0:  # §7.8: "integer >= 0"
        raise PropertyConstraintViolation("SetChargingProfile: stackLevel below 0")
    active = {c: p.tx.transaction_id for c, p in cp.charging.points.items() if p.tx is not None}
    status, _ = cp.profiles.set(req["connectorId"], req["csChargingProfiles"], active)
    if status is ProfileStatus.ACCEPTED:
        cp.charging._save_profiles()
    return {"status": str(status)}


def clear_charging_profile(cp: ChargePoint, req: Payload, now: float) -> Payload:
    status, gone = cp.profiles.clear(req)
    if gone:
        cp.charging._save_profiles()
    return {"status": str(status)}


def get_composite_schedule(cp: ChargePoint, req: Payload, now: float) -> Payload:
    wall = cp.wall(now)
    p = cp.charging.points.get(req["connectorId"])
    if wall is None or p is None:
        return {"status": "Rejected"}
    start = cp.wall(p.tx.start_mono) if p.tx is not None else None
    running = {c: cp.wall(q.tx.start_mono) for c, q in cp.charging.points.items()
               if q.tx is not None}
    return cp.profiles.composite(req, wall, start, p.tx is not None, running)


HANDLERS: dict[str, Handler] = {
    "CancelReservation": cancel_reservation,
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_configuration,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_charging_profile,
    "DataTransfer": data_transfer,
    "GetCompositeSchedule": get_composite_schedule,
    "GetConfiguration": get_configuration,
    "GetLocalListVersion": get_local_list_version,
    "RemoteStartTransaction": remote_start,
    "RemoteStopTransaction": remote_stop,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_charging_profile,
    "TriggerMessage": trigger_message,
    "UnlockConnector": unlock_connector,
}
def get_diagnostics(cp: ChargePoint, req: Payload, now: float) -> Payload:
    return cp.firmware.get_diagnostics(req, now)  # §5.8


def update_firmware(cp: ChargePoint, req: Payload, now: float) -> Payload:
    return cp.firmware.update_firmware(req, now)  # §5.19


FIRMWARE_HANDLERS: dict[str, Handler] = {
    "GetDiagnostics": get_diagnostics,
    "UpdateFirmware": update_firmware,
}
FIRMWARE_TRIGGERS = frozenset({"DiagnosticsStatusNotification", "FirmwareStatusNotification"})
CONNECTOR_TRIGGERS = frozenset({"MeterValues", "StatusNotification"})  # connectorId matters


def handle(cp: ChargePoint, action: str, req: Payload, now: float) -> Payload:
    """The answer to one request; raises an OcppError to answer with a CALLERROR."""
    handler = HANDLERS.get(action)
    if handler is not None:
        return handler(cp, req, now)
    if action in FIRMWARE_HANDLERS:
        if not cp.firmware_management:
            raise NotSupported(f"{action}: no firmware worker (FirmwareManagement not offered)")
        return FIRMWARE_HANDLERS[action](cp, req, now)
    raise NotImplemented_(f"{action} is not implemented by a charge point")


def after_answer(cp: ChargePoint, action: str, req: Payload, answer: Payload,
                 now: float) -> None:
    """Work that must follow the answer on the wire (§5.14 Reset, §5.17 TriggerMessage)."""
    if answer.get("status") != "Accepted":
        return
    if action == "Reset":
        reason = "HardReset" if req["type"] == "Hard" else "SoftReset"
        for p in cp.charging.points.values():
            cp.charging.stop(p, reason, now)
        cp.command(RestartRequested(req["type"]))
    elif action == "TriggerMessage":
        what, cid = req["requestedMessage"], req.get("connectorId")
        if what == "BootNotification":
            cp.trigger_boot(now)  # only while not Accepted (see trigger_message)
        elif what == "Heartbeat":
            cp.request("Heartbeat", {}, cp._set_clock, triggered=True)
        elif what == "MeterValues":
            cp.charging.meters.trigger(cp.charging.points, cid, now)
        elif what in FIRMWARE_TRIGGERS:
            cp.firmware.trigger(what)
        elif what == "StatusNotification":
            for c, p in cp.charging.points.items():
                if cid is None or cid == c:
                    p.connector.request_report()
