"""SuspendedEV from meter power: an EV that stops drawing while the contactor is closed."""

from __future__ import annotations

from cpagent.chargepoint.connector import ConnectorStatus, Trigger
from cpagent.chargepoint.points import Point

S = ConnectorStatus
# Below this active power the EV is taken as not drawing. An EV that charges draws at least
# the IEC 61851-1 minimum of 6 A (about 1.4 kW on one phase); 100 W sits well above a meter's
# zero noise and an EV's own standby draw, and well below any real charging.
SUSPENDED_EV_POWER_W = 100.0
# How long power must stay below it: an EV takes seconds to start drawing after the contactor
# closes, and pauses briefly (e.g. cell balancing) without having stopped.
SUSPENDED_EV_AFTER_S = 60.0


def ev_activity(p: Point, now: float) -> Trigger | None:
    """After a meter sample: the status trigger it calls for, if any (OCPP 1.6 §4.9 C4, D3).

    Only a connector with a running transaction and the contactor closed counts, in Charging
    or SuspendedEV (relay open: SuspendedEVSE or an unplugged EV are decided elsewhere).
    Charging -> SuspendedEV once every sample for SUSPENDED_EV_AFTER_S was below
    SUSPENDED_EV_POWER_W; SuspendedEV -> Charging at the first sample at or above it.
    """
    status = p.connector.status
    if (
        p.tx is None
        or not p.relay
        or p.sample is None
        or status not in (S.CHARGING, S.SUSPENDED_EV)
    ):
        p.low_since = None
        return None
    if p.sample.power_w >= SUSPENDED_EV_POWER_W:
        p.low_since = None
        return Trigger.CHARGING if status is S.SUSPENDED_EV else None
    if status is S.SUSPENDED_EV:
        return None
    if p.low_since is None:
        p.low_since = now
    return Trigger.SUSPENDED_BY_EV if now - p.low_since >= SUSPENDED_EV_AFTER_S else None
