"""The control pilot in the model: the status a pilot state means, the current to offer."""

from __future__ import annotations

from cpagent.chargepoint.commands import SetOfferedCurrent
from cpagent.chargepoint.connector import ConnectorStatus, Trigger
from cpagent.chargepoint.points import Point
from cpagent.chargepoint.ports import Host

S = ConnectorStatus
T = Trigger
# IEC 61851-1 Annex A (Table A.3): B = vehicle connected, C/D = vehicle ready and charging
# (D: with ventilation). A = no vehicle; E/F are faults the controller reports (DeviceFaulted).
VEHICLE_PRESENT = frozenset({"B", "C", "D"})
DRAWING = frozenset({"C", "D"})
MIN_OFFER_A = 6.0  # IEC 61851-1 Table A.8: a pilot cannot offer less; below it, 0 (no PWM)
IN_TRANSACTION = frozenset({S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE})


def current_to_offer(rating_a: float, limit_a: float | None, refused: bool) -> float:
    """min(the connector's rating, the smart-charging limit in force: the central system's
    profiles, OCPP 1.6 §3.13), or 0 for a refused idTag (§3.5.4) and below 6 A (Table A.8)."""
    if refused:
        return 0.0
    amps = rating_a if limit_a is None else min(rating_a, limit_a)
    return 0.0 if amps < MIN_OFFER_A else amps


def offer(host: Host, p: Point, amps: float) -> None:
    """Tell `p`'s EVSE controller what to offer (a pilot connector only; below 6 A: 0), once
    per change."""
    if p.pilot is None:
        return
    amps = 0.0 if amps < MIN_OFFER_A else amps
    if amps != p.offered_a:
        p.offered_a = amps
        host.command(SetOfferedCurrent(p.connector.connector_id, amps))


def pilot_trigger(p: Point) -> Trigger | None:
    """A running transaction's move from what is offered and the pilot, or None (no
    transaction, no vehicle, faulted, or a status the pilot does not decide): 0 A offered is
    SuspendedEVSE (OCPP 1.6 §4.9 B5/C5/D5), state B SuspendedEV (B4/C4/E4), C/D Charging
    (B3/D3/E3)."""
    if p.tx is None or not p.plugged or p.connector.status not in IN_TRANSACTION:
        return None
    if p.offered_a == 0:
        return T.SUSPENDED_BY_EVSE
    return T.CHARGING if p.pilot in DRAWING else T.SUSPENDED_BY_EV
