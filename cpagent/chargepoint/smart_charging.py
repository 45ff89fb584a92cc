"""Smart charging (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): profile stack, limit in A, composite."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cpagent.chargepoint.charging_profile import (
    DAY_S,
    DEFAULT_PHASES,
    WEEK_S,
    ClearStatus,
    Electrical,
    Kind,
    Period,
    Profile,
    ProfileStatus,
    Purpose,
)
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.settings import MAX_PROFILES, MAX_SCHEDULE_PERIODS, MAX_STACK_LEVEL

_log = logging.getLogger(__name__)

__all__ = [
    "DAY_S",
    "DEFAULT_PHASES",
    "WEEK_S",
    "ChargingProfiles",
    "ClearStatus",
    "Electrical",
    "Kind",
    "Period",
    "Profile",
    "ProfileStatus",
    "Purpose",
]


def _rejected(connector_id: int, raw: Mapping[str, Any], reason: str) -> tuple[ProfileStatus, None]:
    """Rejected (§5.16), and why in the log: the central system only sees the status."""
    _log.info(
        "SetChargingProfile %s on connector %d rejected: %s",
        raw.get("chargingProfileId", "?"),
        connector_id,
        reason,
    )
    return ProfileStatus.REJECTED, None


class ChargingProfiles:
    """The installed profiles and what they allow.

    Theory of operation (§3.13.2-3.13.4): within one purpose the valid profile with the
    highest stackLevel whose schedule is running decides; a connector's TxProfile (only
    while its transaction runs) overrides TxDefaultProfiles (connector-specific ones before
    connector 0's at the same stackLevel); the ChargePointMaxProfile caps the result.
    Limits are in A per phase; a limit of 0 A means suspend charging (relay open,
    SuspendedEVSE). The ChargePointMaxProfile limits all connectors together (§3.13.3 "The
    combined energy flow of all connectors SHALL NOT be greater"): `shares_a` splits it
    between the connectors with a transaction, none getting more than its own limit and
    what one leaves unused going to the others.
    """

    def __init__(
        self,
        connector_ids: Iterable[int],
        electrical: Electrical | None = None,
        installed: Iterable[Profile] = (),
    ) -> None:
        self.connector_ids = frozenset(connector_ids)
        self.electrical = electrical or Electrical()
        self._profiles: list[Profile] = list(installed)

    def __iter__(self) -> Iterator[Profile]:
        return iter(list(self._profiles))

    def set(
        self, connector_id: int, raw: Mapping[str, Any], active_tx: Mapping[int, int | None]
    ) -> tuple[ProfileStatus, Profile | None]:
        """SetChargingProfile.req (§5.16). `active_tx` maps connector -> transactionId of its
        running transaction (None while not yet known)."""
        try:
            p = Profile.parse(connector_id, raw)
        except (KeyError, ValueError, TypeError) as exc:
            return _rejected(connector_id, raw, str(exc) or type(exc).__name__)
        refusal = self._refusal(p, active_tx)
        if refusal is not None:
            return _rejected(connector_id, raw, refusal)
        kept = [
            q
            for q in self._profiles
            if not (
                q.profile_id == p.profile_id
                or (q.stack_level, q.purpose, q.connector_id)
                == (p.stack_level, p.purpose, p.connector_id)
            )
        ]
        if len(kept) >= MAX_PROFILES:
            return _rejected(connector_id, raw, f"{MAX_PROFILES} profiles installed already")
        self._profiles = [*kept, p]
        return ProfileStatus.ACCEPTED, p

    def _refusal(self, p: Profile, active_tx: Mapping[int, int | None]) -> str | None:
        """Why `p` cannot be installed (None: it can), in words for the log."""
        if p.connector_id != 0 and p.connector_id not in self.connector_ids:
            return f"no connector {p.connector_id}"
        if p.stack_level > MAX_STACK_LEVEL:
            return f"stackLevel {p.stack_level} above ChargeProfileMaxStackLevel {MAX_STACK_LEVEL}"
        if len(p.periods) > MAX_SCHEDULE_PERIODS:
            return f"{len(p.periods)} periods, ChargingScheduleMaxPeriods is {MAX_SCHEDULE_PERIODS}"
        if p.unit not in ("A", "W"):
            return f"chargingRateUnit {p.unit!r}"
        if p.purpose is Purpose.CHARGE_POINT_MAX:
            if p.connector_id != 0 or p.kind is Kind.RELATIVE:
                return "a ChargePointMaxProfile goes on connector 0 and is not Relative"
            return None
        if p.purpose is Purpose.TX:
            # §5.16: a TxProfile needs a transaction running on that connector.
            if p.connector_id == 0 or p.connector_id not in active_tx:
                return f"a TxProfile needs a transaction running on connector {p.connector_id}"
            running = active_tx[p.connector_id]
            if p.transaction_id is not None and running is not None and p.transaction_id != running:
                return f"transactionId {p.transaction_id}, but transaction {running} runs there"
        return None

    def clear(self, payload: Mapping[str, Any]) -> tuple[ClearStatus, list[Profile]]:
        """ClearChargingProfile.req (§5.5): by id, else by every criterion given."""

        def hit(q: Profile) -> bool:
            if "id" in payload:
                return q.profile_id == payload["id"]
            return all(
                (
                    payload.get("connectorId") in (None, q.connector_id),
                    payload.get("chargingProfilePurpose") in (None, q.purpose),
                    payload.get("stackLevel") in (None, q.stack_level),
                )
            )

        gone = [q for q in self._profiles if hit(q)]
        self._profiles = [q for q in self._profiles if not hit(q)]
        return (ClearStatus.ACCEPTED if gone else ClearStatus.UNKNOWN), gone

    def transaction_ended(self, connector_id: int) -> list[Profile]:
        """A TxProfile lives only as long as its transaction (§3.13.1)."""
        gone = [
            q for q in self._profiles if q.purpose is Purpose.TX and q.connector_id == connector_id
        ]
        self._profiles = [q for q in self._profiles if q not in gone]
        return gone

    def _winner(
        self, candidates: Iterable[Profile], t: float, tx_start: float | None
    ) -> float | None:
        ranked = sorted(
            candidates, key=lambda q: (q.stack_level, q.connector_id != 0), reverse=True
        )
        for q in ranked:
            period = q.period_at(t, tx_start)
            if period is not None:
                return self.electrical.to_amps(period.limit, q.unit, period.phases)
        return None

    def limit_a(
        self,
        connector_id: int,
        t: float,
        tx_start: float | None = None,
        transaction_running: bool = False,
    ) -> float | None:
        """Limit in A per phase at wall time `t` (None: no profile limits it).

        `tx_start` is the wall time the connector's transaction began (Relative profiles).
        """
        cp_max = self._winner(
            (q for q in self._profiles if q.purpose is Purpose.CHARGE_POINT_MAX), t, None
        )
        if connector_id == 0:
            return cp_max
        own: float | None = None
        if transaction_running:
            own = self._winner(
                (
                    q
                    for q in self._profiles
                    if q.purpose is Purpose.TX and q.connector_id == connector_id
                ),
                t,
                tx_start,
            )
        if own is None:
            own = self._winner(
                (
                    q
                    for q in self._profiles
                    if q.purpose is Purpose.TX_DEFAULT and q.connector_id in (0, connector_id)
                ),
                t,
                tx_start,
            )
        limits = [x for x in (own, cp_max) if x is not None]
        return min(limits) if limits else None

    def shares_a(self, t: float, running: Mapping[int, float | None]) -> dict[int, float | None]:
        """Limit in A per phase for each connector with a transaction at wall time `t`
        (`running` maps it to its transaction's start): its own TxProfile/TxDefaultProfile
        limit, with the ChargePointMaxProfile shared so that their sum stays within it (§3.13.3)."""
        cap = self.limit_a(0, t)
        own = {c: self.limit_a(c, t, start, True) for c, start in running.items()}
        if cap is None or len(own) < 2:
            return own
        # a connector never wants more than its rating: what it cannot use goes to the others
        rating = self.electrical.rating_a
        wants = {c: min(rating(c), cap if x is None else x, cap) for c, x in own.items()}
        out: dict[int, float | None] = {}
        left = cap
        for n, c in enumerate(sorted(wants, key=lambda c: (wants[c], c))):
            share = min(wants[c], left / (len(wants) - n))  # equal share of what is left
            out[c] = share
            left -= share
        return out

    def next_change(
        self, connector_id: int, t: float, horizon_s: float, tx_start: float | None = None
    ) -> float | None:
        """The first time in (t, t + horizon_s) at which the limit may change, or None."""
        points = [
            b
            for q in self._profiles
            for b in q.breakpoints(t, t + horizon_s, tx_start)
            if t < b < t + horizon_s
        ]
        return min(points, default=None)

    def composite(
        self,
        payload: Mapping[str, Any],
        t: float,
        tx_start: float | None = None,
        transaction_running: bool = False,
        running: Mapping[int, float | None] | None = None,
    ) -> dict[str, Any]:
        """GetCompositeSchedule.conf payload (§5.7) for the window [t, t + duration).

        `running` (connector -> transaction start) lets a connector's share of the
        ChargePointMaxProfile show, as it is applied (`shares_a`)."""
        cid = int(payload["connectorId"])
        if cid != 0 and cid not in self.connector_ids:
            return {"status": "Rejected"}
        unit = payload.get("chargingRateUnit") or "A"
        duration = int(payload["duration"])
        points = sorted(
            {
                t,
                *(
                    b
                    for q in self._profiles
                    for b in q.breakpoints(t, t + duration, tx_start)
                    if t < b < t + duration
                ),
            }
        )
        periods: list[dict[str, Any]] = []
        for point in points:
            amps = self.limit_a(cid, point, tx_start, transaction_running)
            if running and cid in running:
                amps = self.shares_a(point, running).get(cid)
            rating = self.electrical.rating_a(cid)
            if amps is None or amps > rating:
                amps = rating  # a schedule cannot say "unlimited"
            limit = math.floor(self.electrical.from_amps(amps, unit) * 10 + 1e-6) / 10
            start = int(round(point - t))
            if periods and periods[-1]["limit"] == limit:
                continue
            periods.append(
                {"startPeriod": start, "limit": limit, "numberPhases": self.electrical.phases}
            )
        # The periods count from scheduleStart (§6.22); chargingSchedule.startSchedule is
        # omitted in a GetCompositeSchedule.conf (errata 3.57).
        return {
            "status": "Accepted",
            "connectorId": cid,
            "scheduleStart": to_wire(t),
            "chargingSchedule": {
                "duration": duration,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": periods,
            },
        }
