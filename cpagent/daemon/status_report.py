"""The chargepoint's status answer, piece by piece: connectors, queue, registration, uptime."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cpagent.chargepoint.clock import from_wire
from cpagent.chargepoint.connector import ChargePointErrorCode
from cpagent.chargepoint.metering import CURRENT_PHASES
from cpagent.chargepoint.points import Point
from cpagent.chargepoint.store import QueuedMessage
from cpagent.daemon.link_status import rfc3339

WallOf = Callable[[float], float]
"""Wall seconds (the board's clock) of a monotonic time."""


def connector_facts(
    conn_id: int,
    point: Point,
    *,
    relay: bool,
    offered_current_a: float | None,
    wall_of: WallOf,
) -> dict[str, Any]:
    """One connector: the keys the first status had, the errorCode it reports, then the
    transaction's energy so far (register now minus the meterStart of its
    StartTransaction.req, OCPP 1.6 §6.45) and per-phase meter values."""
    tx = point.tx
    connector = point.connector
    code = connector.error_code
    reported = None if code is ChargePointErrorCode.NO_ERROR else code.value
    transaction = None
    if tx is not None:
        sample = point.sample
        transaction = {
            "id": tx.transaction_id,
            "id_tag": tx.id_tag,
            "local_id": tx.local_id,
            "started_at": rfc3339(wall_of(tx.start_mono)),
            "meter_start_wh": tx.meter_start_wh,
            "energy_wh": None
            if sample is None
            else round(max(0.0, sample.energy_wh - tx.meter_start_wh), 3),
        }
    return {
        "id": conn_id,
        "status": connector.status.value,
        "relay": relay,
        "plugged": point.plugged,
        "fault": ", ".join(sorted(point.faults)) or None,
        # The connector's errorCode, info and vendorErrorCode, as its StatusNotification
        # carries them (OCPP 1.6 §7.6 ChargePointErrorCode): `fault` names the device, these
        # what is wrong with it.
        "error_code": reported,
        "error_info": connector.info if reported else None,
        "vendor_error_code": connector.vendor_error_code if reported else None,
        "meter": meter_facts(point, wall_of),
        "limit_a": point.limit_a,
        "pilot": point.pilot,
        "offered_current_a": offered_current_a,
        "transaction": transaction,
    }


def meter_facts(point: Point, wall_of: WallOf) -> dict[str, Any] | None:
    """The last sample: totals, then one entry per phase the meter measures (an SDM630
    gives three, a single-phase meter one), labelled as in MeterValues."""
    sample = point.sample
    if sample is None:
        return None
    volts, amps = tuple(sample.voltage_v), tuple(sample.current_a)
    phases = [
        {
            "phase": label,
            "voltage_v": volts[i] if i < len(volts) else None,
            "current_a": amps[i] if i < len(amps) else None,
        }
        for i, label in enumerate(CURRENT_PHASES[: max(len(volts), len(amps))])
    ]
    return {
        "energy_wh": sample.energy_wh,
        "power_w": sample.power_w,
        "voltage_v": list(volts),
        "current_a": list(amps),
        "frequency_hz": getattr(sample, "frequency_hz", None),
        "phases": phases,
        "at": rfc3339(wall_of(point.sample_at)),
    }


def oldest_queued_s(
    head: QueuedMessage | None, boot_id: str, now: float, cp_wall_now: float | None
) -> float | None:
    """Age in seconds of the oldest transaction message still waiting for the central
    system, from the time it carries (its event's time); None when the queue is empty."""
    if head is None:
        return None
    if head.mono is not None and head.boot == boot_id:  # queued before the clock was known
        return round(max(0.0, now - head.mono), 1)
    stamp = _message_time(head.payload)
    if stamp is None or cp_wall_now is None:
        return None
    try:
        return round(max(0.0, cp_wall_now - from_wire(stamp)), 1)
    except ValueError:
        return None


def _message_time(payload: dict[str, Any]) -> str | None:
    """StartTransaction / StopTransaction `timestamp`, MeterValues' first meterValue's."""
    if isinstance(payload.get("timestamp"), str):
        return str(payload["timestamp"])
    values = payload.get("meterValue")
    if isinstance(values, list) and values and isinstance(values[0], dict):
        stamp = values[0].get("timestamp")
        return stamp if isinstance(stamp, str) else None
    return None


def registration_facts(
    registration: str, connected: bool, next_boot: float | None, wall_of: WallOf
) -> dict[str, Any]:
    """The raw RegistrationStatus (OCPP 1.6 §7.38; "None" before any answer on this link)
    and, while Pending or Rejected, when the next BootNotification goes (§4.2: after the
    interval the central system gave)."""
    retry = None
    if connected and registration in ("Pending", "Rejected") and next_boot is not None:
        retry = rfc3339(wall_of(next_boot))
    return {"registration": registration, "registration_retry_at": retry}
