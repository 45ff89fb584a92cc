"""OCPP 1.6 requests from the central system (§5) to the charger model's intents, as tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from cpagent.chargepoint.commands import Command, RestartRequested
from cpagent.chargepoint.firmware import FirmwareManagement
from cpagent.chargepoint.model import ChargerModel
from cpagent.chargepoint.ports import OnAnswer
from cpagent.chargepoint.settings import Settings
from cpagent.chargepoint.smart_charging import Purpose
from cpagent.core import NotImplemented_, NotSupported, PropertyConstraintViolation

Payload = dict[str, Any]


class Adapter(Protocol):
    """The OCPP 1.6 adapter (`chargepoint.ChargePoint`) as its handlers see it."""

    registration: str
    firmware_management: bool
    settings: Settings
    charging: ChargerModel
    firmware: FirmwareManagement

    def wall(self, mono: float | None) -> float | None: ...
    def command(self, cmd: Command) -> None: ...
    def save_settings(self) -> None: ...
    def trigger_boot(self, now: float) -> None: ...
    def heartbeat_answered(self) -> OnAnswer: ...
    def request(
        self,
        action: str,
        payload: dict[str, Any],
        on_answer: OnAnswer | None = None,
        *,
        triggered: bool = False,
    ) -> None: ...


Handler = Callable[[Adapter, Payload, float], Payload]
AfterAnswer = Callable[[Adapter, Payload, float], None]


def change_availability(cp: Adapter, req: Payload, now: float) -> Payload:
    """§5.2: Scheduled while a transaction runs; connector 0 means all of them."""
    operative = req["type"] == "Operative"
    return {"status": cp.charging.change_availability(req["connectorId"], operative, now)}


def change_configuration(cp: Adapter, req: Payload, now: float) -> Payload:
    status = cp.settings.change(req["key"], req["value"])
    cp.save_settings()
    return {"status": str(status)}


def get_configuration(cp: Adapter, req: Payload, now: float) -> Payload:
    return cp.settings.get_configuration(req.get("key"))


def clear_cache(cp: Adapter, req: Payload, now: float) -> Payload:
    cp.charging.clear_cache()
    return {"status": "Accepted"}


def data_transfer(cp: Adapter, req: Payload, now: float) -> Payload:
    return {"status": "UnknownVendorId"}  # no vendor extensions registered


def get_local_list_version(cp: Adapter, req: Payload, now: float) -> Payload:
    """§5.10: 0 = empty list; -1 while LocalAuthListEnabled is false (no list in use)."""
    enabled = cp.settings.get_bool("LocalAuthListEnabled")
    return {"listVersion": cp.charging.local_list.reported_version(enabled)}


def send_local_list(cp: Adapter, req: Payload, now: float) -> Payload:
    enabled = cp.settings.get_bool("LocalAuthListEnabled")
    return {"status": cp.charging.send_local_list(req, enabled)}


def remote_start(cp: Adapter, req: Payload, now: float) -> Payload:
    """§5.11: authorize first if AuthorizeRemoteTxRequests; the plug may come later. Only a
    TxProfile may come with it (§5.11, §3.13.2); not while Pending (§4.2)."""
    profile = req.get("chargingProfile")
    if cp.registration != "Accepted" or (
        profile is not None and profile.get("chargingProfilePurpose") != Purpose.TX
    ):
        return {"status": "Rejected"}
    started = cp.charging.remote_start(req.get("connectorId", 0), req["idTag"], profile, now)
    return {"status": "Accepted" if started else "Rejected"}


def remote_stop(cp: Adapter, req: Payload, now: float) -> Payload:
    if cp.registration != "Accepted":
        return {"status": "Rejected"}  # §4.2: not allowed while Pending
    stopped = cp.charging.remote_stop(req["transactionId"], now)
    return {"status": "Accepted" if stopped else "Rejected"}


def reset(cp: Adapter, req: Payload, now: float) -> Payload:
    return {"status": "Accepted"}  # the work happens after the answer (AFTER_ANSWER)


def unlock_connector(cp: Adapter, req: Payload, now: float) -> Payload:
    return {"status": "NotSupported"}  # no connector lock actuator on this hardware


def trigger_message(cp: Adapter, req: Payload, now: float) -> Payload:
    """§5.17: Accepted for what RemoteTrigger covers here; the message follows the answer.

    connectorId matters only to MeterValues and StatusNotification (an unknown one is
    Rejected); for the others it is ignored and the message still sent (§5.17 "The requested
    message is leading"). BootNotification once Accepted is Rejected: a second boot could
    come back Pending or Rejected and silence a charger with transactions running (errata
    3.35, §5.17; the central system should not ask, errata 3.40).
    """
    what, cid = req["requestedMessage"], req.get("connectorId")
    views = cp.charging.snapshot()
    if what in FIRMWARE_TRIGGERS and not cp.firmware_management:
        return {"status": "NotImplemented"}
    if (
        what in CONNECTOR_TRIGGERS
        and cid is not None
        and cid not in {v.connector_id for v in views}
    ):
        return {"status": "Rejected"}
    if what == "BootNotification" and cp.registration == "Accepted":
        return {"status": "Rejected"}
    if what == "MeterValues" and (
        cp.wall(now) is None
        or not any(
            v.energy_wh is not None
            for v in views
            if v.connector_id and cid in (None, 0, v.connector_id)
        )
    ):
        return {"status": "Rejected"}  # nothing measured yet: "Accepted ... SHOULD be sent"
    return {"status": "Accepted"}


def reserve_now(cp: Adapter, req: Payload, now: float) -> Payload:
    return {"status": str(cp.charging.reserve(req, now))}


def cancel_reservation(cp: Adapter, req: Payload, now: float) -> Payload:
    return {"status": cp.charging.cancel_reservation(req["reservationId"], now)}


def set_charging_profile(cp: Adapter, req: Payload, now: float) -> Payload:
    if req["connectorId"] not in cp.charging.points:  # errata 3.39: a CALLERROR, not Rejected
        raise PropertyConstraintViolation(
            f"SetChargingProfile: connectorId {req['connectorId']} does not exist"
        )
    if int(req["csChargingProfiles"]["stackLevel"]) < 0:  # §7.8: "integer >= 0"
        raise PropertyConstraintViolation("SetChargingProfile: stackLevel below 0")
    status = cp.charging.set_profile(req["connectorId"], req["csChargingProfiles"])
    return {"status": str(status)}


def clear_charging_profile(cp: Adapter, req: Payload, now: float) -> Payload:
    return {"status": cp.charging.clear_profiles(req)}


def get_composite_schedule(cp: Adapter, req: Payload, now: float) -> Payload:
    answer = cp.charging.composite(req, now)
    return {"status": "Rejected"} if answer is None else answer


def get_diagnostics(cp: Adapter, req: Payload, now: float) -> Payload:
    return cp.firmware.get_diagnostics(req, now)  # §5.8


def update_firmware(cp: Adapter, req: Payload, now: float) -> Payload:
    return cp.firmware.update_firmware(req, now)  # §5.19


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
FIRMWARE_HANDLERS: dict[str, Handler] = {
    "GetDiagnostics": get_diagnostics,
    "UpdateFirmware": update_firmware,
}
FIRMWARE_TRIGGERS = frozenset({"DiagnosticsStatusNotification", "FirmwareStatusNotification"})
CONNECTOR_TRIGGERS = frozenset({"MeterValues", "StatusNotification"})  # connectorId matters


def handle(cp: Adapter, action: str, req: Payload, now: float) -> Payload:
    """The answer to one request; raises an OcppError to answer with a CALLERROR."""
    handler = HANDLERS.get(action)
    if handler is not None:
        return handler(cp, req, now)
    if action in FIRMWARE_HANDLERS:
        if not cp.firmware_management:
            raise NotSupported(f"{action}: no firmware worker (FirmwareManagement not offered)")
        return FIRMWARE_HANDLERS[action](cp, req, now)
    raise NotImplemented_(f"{action} is not implemented by a charge point")


# -- work that must follow the answer on the wire (§5.14 Reset, §5.17 TriggerMessage) ----------
def after_reset(cp: Adapter, req: Payload, now: float) -> None:
    cp.charging.stop_all("HardReset" if req["type"] == "Hard" else "SoftReset", now)
    cp.command(RestartRequested(req["type"]))


def trigger_boot(cp: Adapter, req: Payload, now: float) -> None:
    cp.trigger_boot(now)  # only while not Accepted (see trigger_message)


def trigger_heartbeat(cp: Adapter, req: Payload, now: float) -> None:
    cp.request("Heartbeat", {}, cp.heartbeat_answered(), triggered=True)


def trigger_meter_values(cp: Adapter, req: Payload, now: float) -> None:
    cp.charging.trigger_meter_values(req.get("connectorId"), now)


def trigger_firmware_status(cp: Adapter, req: Payload, now: float) -> None:
    cp.firmware.trigger(req["requestedMessage"])


def trigger_status(cp: Adapter, req: Payload, now: float) -> None:
    cp.charging.request_status(req.get("connectorId"))


TRIGGERED: dict[str, AfterAnswer] = {
    "BootNotification": trigger_boot,
    "DiagnosticsStatusNotification": trigger_firmware_status,
    "FirmwareStatusNotification": trigger_firmware_status,
    "Heartbeat": trigger_heartbeat,
    "MeterValues": trigger_meter_values,
    "StatusNotification": trigger_status,
}


def after_trigger(cp: Adapter, req: Payload, now: float) -> None:
    follow = TRIGGERED.get(req["requestedMessage"])
    if follow is not None:
        follow(cp, req, now)


AFTER_ANSWER: dict[str, AfterAnswer] = {
    "Reset": after_reset,
    "TriggerMessage": after_trigger,
}
"""Work done once an Accepted answer is on the wire, by action."""


def after_answer(cp: Adapter, action: str, req: Payload, answer: Payload, now: float) -> None:
    """Work that must follow the answer on the wire (only after an Accepted one)."""
    follow = AFTER_ANSWER.get(action)
    if follow is not None and answer.get("status") == "Accepted":
        follow(cp, req, now)
