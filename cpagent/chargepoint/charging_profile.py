"""One charging profile as data (OCPP 1.6 §3.13, §7.8-§7.15): purposes, periods, schedule times."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cpagent.chargepoint.clock import from_wire

DAY_S = 86400
WEEK_S = 7 * DAY_S
DEFAULT_PHASES = 3  # ChargingSchedulePeriod.numberPhases default (§7.15)


class Purpose(StrEnum):
    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class Kind(StrEnum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class ProfileStatus(StrEnum):
    """SetChargingProfile.conf status (§7.12)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


class ClearStatus(StrEnum):
    """ClearChargingProfile.conf status (§7.9)."""

    ACCEPTED = "Accepted"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Period:
    start_s: int
    limit: float
    phases: int | None


@dataclass(frozen=True, slots=True)
class Profile:
    """An installed charging profile; `raw` is csChargingProfiles as received (for storage)."""

    connector_id: int
    profile_id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    recurrency_s: int | None
    valid_from: float | None
    valid_to: float | None
    transaction_id: int | None
    unit: str  # "A" or "W"
    start: float | None
    duration_s: int | None
    periods: tuple[Period, ...]
    raw: dict[str, Any]

    @classmethod
    def parse(cls, connector_id: int, p: Mapping[str, Any]) -> Profile:
        """Raises ValueError/KeyError on a profile that breaks §7.13's own rules."""
        s = p["chargingSchedule"]
        kind = Kind(p["chargingProfileKind"])
        rec = p.get("recurrencyKind")
        start = from_wire(s["startSchedule"]) if s.get("startSchedule") else None
        if kind is Kind.RECURRING and (rec is None or start is None):
            raise ValueError("Recurring needs recurrencyKind and startSchedule")
        if kind is Kind.ABSOLUTE and start is None:
            raise ValueError("Absolute needs startSchedule")
        periods = tuple(
            Period(int(x["startPeriod"]), float(x["limit"]), x.get("numberPhases"))
            for x in s["chargingSchedulePeriod"]
        )
        if (
            not periods
            or periods[0].start_s != 0
            or any(b.start_s <= a.start_s for a, b in zip(periods, periods[1:], strict=False))
        ):
            raise ValueError("periods must start at 0 and increase")
        if any(x.limit < 0 for x in periods):
            raise ValueError("negative limit")
        return cls(
            connector_id,
            int(p["chargingProfileId"]),
            int(p["stackLevel"]),
            Purpose(p["chargingProfilePurpose"]),
            kind,
            {"Daily": DAY_S, "Weekly": WEEK_S}[rec] if rec else None,
            from_wire(p["validFrom"]) if p.get("validFrom") else None,
            from_wire(p["validTo"]) if p.get("validTo") else None,
            p.get("transactionId"),
            s["chargingRateUnit"],
            start,
            s.get("duration"),
            periods,
            dict(p),
        )

    def schedule_start(self, t: float, tx_start: float | None) -> float | None:
        """When the schedule running at wall time `t` began, or None if none runs."""
        if self.kind is Kind.RELATIVE:
            return tx_start  # relative to the transaction's start (§7.13)
        if self.start is None:
            return None
        if self.kind is Kind.ABSOLUTE or self.recurrency_s is None:
            return self.start if t >= self.start else None
        if t < self.start:
            return None
        return self.start + math.floor((t - self.start) / self.recurrency_s) * self.recurrency_s

    def period_at(self, t: float, tx_start: float | None) -> Period | None:
        """The period in force at wall time `t`, or None (not valid, not started, or over)."""
        if (self.valid_from is not None and t < self.valid_from) or (
            self.valid_to is not None and t >= self.valid_to
        ):
            return None
        start = self.schedule_start(t, tx_start)
        if start is None or t < start:
            return None
        offset = t - start
        if self.duration_s is not None and offset >= self.duration_s:
            return None
        current = None
        for period in self.periods:
            if period.start_s <= offset:
                current = period
        return current

    def breakpoints(self, t0: float, t1: float, tx_start: float | None) -> Iterator[float]:
        """Times in (t0, t1) where this profile's limit may change."""
        yield from (x for x in (self.valid_from, self.valid_to) if x is not None)
        base = self.schedule_start(t0, tx_start)
        if base is None:
            base = self.start if self.kind is not Kind.RELATIVE else tx_start
        if base is None:
            return
        step = self.recurrency_s if self.kind is Kind.RECURRING else None
        while base < t1:
            yield base
            yield from (base + p.start_s for p in self.periods)
            if self.duration_s is not None:
                yield base + self.duration_s
            if step is None:
                break
            base += step


@dataclass(frozen=True, slots=True)
class Electrical:
    """What converting between W and A needs: nominal phase voltage and phases wired, and
    the connectors' ratings (what is offered, and what a composite schedule shows, where
    nothing limits): `ratings` maps a connector to its own, `max_current_a` is the highest
    (and the rating of a connector not in `ratings`)."""

    voltage_v: float = 230.0
    phases: int = 1
    max_current_a: float = 32.0
    ratings: Mapping[int, float] = field(default_factory=dict)

    def rating_a(self, connector_id: int) -> float:
        """The most current connector `connector_id` may offer (its `max_current_a`)."""
        return self.ratings.get(connector_id, self.max_current_a)

    def to_amps(self, limit: float, unit: str, period_phases: int | None) -> float:
        if unit == "A":
            return limit
        phases = min(self.phases, period_phases or DEFAULT_PHASES)
        return limit / (self.voltage_v * phases)

    def from_amps(self, amps: float, unit: str) -> float:
        return amps if unit == "A" else amps * self.voltage_v * self.phases
