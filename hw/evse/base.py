"""What every EVSE driver shares: current limits, the safe-current latch, fault priority."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterable

from hw.errors import EvseError
from hw.events import EvseFault

# IEC 61851-1 Annex A, Table A.8: a PWM pilot can offer 6 A to 80 A; below 6 A is not offered.
MIN_CURRENT_A = 6.0
MAX_CURRENT_A = 80.0

# The fault reported when several are present: what endangers people first.
FAULT_PRIORITY: tuple[EvseFault, ...] = (
    EvseFault.RESIDUAL_CURRENT,
    EvseFault.STUCK_RELAY,
    EvseFault.NO_GROUND,
    EvseFault.OVER_CURRENT,
    EvseFault.OVER_TEMPERATURE,
    EvseFault.RCD_SELF_TEST,
    EvseFault.DIODE_CHECK,
    EvseFault.PILOT_SHORT,
    EvseFault.PILOT_FAULT,
    EvseFault.VENTILATION,
    EvseFault.CONTROLLER_FAILURE,
    EvseFault.CONTROLLER_OFFLINE,
)


def primary_fault(faults: Iterable[EvseFault]) -> EvseFault | None:
    """The most serious of `faults` (FAULT_PRIORITY order), None if there are none."""
    present = set(faults)
    return next((f for f in FAULT_PRIORITY if f in present), None)


def checked_current(amps: float, max_current_a: float, step_a: float = 1.0) -> float:
    """The current to offer for a request of `amps`: 0, or 6 A..max_current_a rounded DOWN to
    the controller's `step_a` (never more than asked). Raises ValueError for NaN, negative
    values and 0 < amps < 6 A (the charger model turns those into 0 itself)."""
    if not math.isfinite(amps) or amps < 0:
        raise ValueError(f"offered current must be 0 or 6-{MAX_CURRENT_A:g} A, not {amps}")
    if amps == 0:
        return 0.0
    if amps < MIN_CURRENT_A:
        raise ValueError(f"{amps} A is below the {MIN_CURRENT_A:g} A minimum (IEC 61851-1 A.8)")
    capped = min(amps, max_current_a, MAX_CURRENT_A)
    return math.floor(capped / step_a + 1e-9) * step_a


class OfferedCurrent:
    """The current a driver wants offered, written through `write`, re-asserted until it sticks.

    `set()` validates and writes (a current below the controller's own minimum `min_a` is
    offered as 0 A: never more than asked); a failed write leaves `pending` set and raises
    EvseError, and
    `reassert()` (called by the driver before each read) tries again. `latch_off()` sets 0 A
    after a fault: the owner must ask for a current again once the fault is gone.
    """

    def __init__(
        self, max_current_a: float, write: Callable[[float], None], step_a: float = 1.0
    ) -> None:
        if not MIN_CURRENT_A <= max_current_a <= MAX_CURRENT_A:
            raise ValueError(f"max_current_a must be 6-80 A, not {max_current_a}")
        self.max_current_a = max_current_a
        self.step_a = step_a
        self.min_a = MIN_CURRENT_A
        self._write = write
        self._lock = threading.RLock()
        self.amps = 0.0
        self.pending = True  # nothing written yet: the first contact writes 0 A
        self.writes = 0

    def set(self, amps: float) -> None:
        value = checked_current(amps, self.max_current_a, self.step_a)
        if value < self.min_a:
            value = 0.0
        with self._lock:
            self.amps = value
            self.pending = True
            self._flush()

    def reassert(self) -> None:
        with self._lock:
            if self.pending:
                self._flush()

    def latch_off(self) -> None:
        with self._lock:
            if self.amps != 0.0:
                self.amps = 0.0
                self.pending = True
            with contextlib.suppress(EvseError):  # still pending: the next read tries again
                self.reassert()

    def _flush(self) -> None:
        self._write(self.amps)
        self.writes += 1
        self.pending = False
