"""Meter plausibility: an energy register that jumps or runs backwards is a meter fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

POWER_MARGIN = 1.5
"""A register may rise by at most this many times the connector's maximum power over the
time since the last accepted reading (meter accuracy, voltage above nominal, read jitter)."""

SLACK_WH = 20.0
"""Plus this much: SDM registers count in 0.01 kWh steps, and a float32 register near
100,000 kWh resolves only to ~8 Wh."""

BACKWARDS_SLACK_WH = 1.0
"""A register lower than the accepted one by more than this went backwards."""

FAULT_AFTER = 3
"""Consecutive implausible readings that make a fault (one is a warning: a glitch); as many
consecutive readings consistent with each other afterwards are the meter's new baseline."""


class MeterVerdict(StrEnum):
    OK = "ok"  # accepted: the new reference
    REJECTED = "rejected"  # ignored, reported as a warning (error code, status kept)
    FAULTED = "faulted"  # the FAULT_AFTER-th in a row: the connector faults
    RECOVERED = "recovered"  # a new self-consistent baseline after a fault: accepted


@dataclass(slots=True)
class MeterCheck:
    """Checks each register reading against the last accepted one (pure: times are inputs).

    A rejected reading never becomes the floor for later ones: they are compared with the
    last plausible reading, over the time elapsed since it, so a one-off spike is dropped and
    the readings after it are accepted again.
    """

    reference: tuple[float, float] | None = None  # (energy_wh, at_s) last accepted
    rejected: int = 0
    faulted: bool = False
    _chain: list[tuple[float, float]] = field(default_factory=list)  # consistent rejects

    def check(self, energy_wh: float, at_s: float, max_power_w: float) -> tuple[MeterVerdict, str]:
        """The verdict on one reading, and (unless OK) why, for a log line."""
        ref = self.reference
        if ref is None:
            self.reference = (energy_wh, at_s)
            return MeterVerdict.OK, ""
        why = _implausible(ref, energy_wh, at_s, max_power_w)
        if why is None and not self.faulted:
            self.reference, self.rejected, self._chain = (energy_wh, at_s), 0, []
            return MeterVerdict.OK, ""
        if why is None:  # back within reach of the old reference: the meter is fine again
            self._recover(energy_wh, at_s)
            return MeterVerdict.RECOVERED, "readings consistent with the last accepted one again"
        self.rejected += 1
        if self._chain and _implausible(self._chain[-1], energy_wh, at_s, max_power_w):
            self._chain = []
        self._chain.append((energy_wh, at_s))
        if self.faulted and len(self._chain) >= FAULT_AFTER:
            self._recover(energy_wh, at_s)
            return MeterVerdict.RECOVERED, f"new register baseline {energy_wh:.0f} Wh"
        if not self.faulted and self.rejected >= FAULT_AFTER:
            self.faulted = True
            self._chain = self._chain[-1:]
            return MeterVerdict.FAULTED, why
        return MeterVerdict.REJECTED, why

    def _recover(self, energy_wh: float, at_s: float) -> None:
        self.reference, self.rejected, self.faulted, self._chain = (energy_wh, at_s), 0, False, []


def _implausible(
    ref: tuple[float, float], energy_wh: float, at_s: float, max_power_w: float
) -> str | None:
    ref_wh, ref_at = ref
    if energy_wh < ref_wh - BACKWARDS_SLACK_WH:
        return f"energy register went backwards {ref_wh:.0f} -> {energy_wh:.0f} Wh"
    elapsed = max(at_s - ref_at, 0.0)
    most = max_power_w * POWER_MARGIN * elapsed / 3600.0 + SLACK_WH
    if energy_wh - ref_wh > most:
        return (
            f"energy register jumped {energy_wh - ref_wh:+.0f} Wh in {elapsed:.1f} s "
            f"(at most {most:.0f} Wh)"
        )
    return None
