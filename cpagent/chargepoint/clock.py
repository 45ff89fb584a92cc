"""Wall clock derived from monotonic time once the central system has told us the time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from cpagent.core.timestamps import parse_datetime

_log = logging.getLogger(__name__)


def to_wire(wall_s: float) -> str:
    """OCPP dateTime (RFC 3339, UTC, millisecond precision, 'Z'), e.g. 2026-11-30T00:00:00.000Z."""
    dt = datetime.fromtimestamp(wall_s, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def from_wire(text: str) -> float:
    """POSIX seconds of a date-time from the central system; raises ValueError if malformed.

    Read as ISO 8601 (OCPP 1.6 §3.15), the offset optional (none = UTC, which §3.14 recommends):
    the same grammar the incoming schema check accepts (cpagent.core.timestamps), so anything
    that passed validation parses here.
    """
    return parse_datetime(text)


STEP_LOG_S = 1.0
"""A correction at least this large is a clock step worth a log line; smaller is jitter."""


@dataclass(slots=True)
class WallClock:
    """Maps monotonic seconds to wall time, learnt from the central system's currentTime.

    Until the first `set` the clock is unknown and nothing may be timestamped with it; events
    recorded meanwhile keep their monotonic time and are back-dated with the first offset
    (no transaction is timestamped before the clock is set). Monotonic time never jumps.

    Policy for later currentTime values (BootNotification.conf, Heartbeat.conf). OCPP 1.6
    §4.2 and §4.6 only *recommend* synchronising with currentTime, so the choice is ours,
    and we make the one that keeps billing data right: **time only moves forward within a
    transaction**. While any transaction is open the offset is frozen, so every timestamp
    of that transaction (StartTransaction, its MeterValues, StopTransaction) comes from one
    clock: monotone, and its duration is the real elapsed time. A new currentTime is held
    and applied as one step once no transaction is open (`settle`); the hold is logged once
    (WARNING, if the difference is `STEP_LOG_S` or more), and so is the step when it is
    applied (INFO forward, WARNING backward). Between transactions a new currentTime steps
    the clock at once. There is no slewing: the drift a transaction can accumulate is that of
    the board's oscillator over its duration (tens of ppm: a few seconds per day), corrected
    right after it. While a step is held, wall times given by the central system (reservation
    expiry, charging profile validity, retrieveDate) are compared with the held clock.
    """

    offset_s: float | None = None
    held: tuple[float, float] | None = None
    """(wall_s, mono_s) of a currentTime that waits for the open transactions to end."""
    _hold_logged: bool = False

    @property
    def is_set(self) -> bool:
        return self.offset_s is not None

    def set(self, wall_s: float, mono_s: float, *, in_transaction: bool = False) -> None:
        """Monotonic `mono_s` is wall time `wall_s` (a currentTime); held while in a transaction."""
        if self.offset_s is None:
            self.offset_s = wall_s - mono_s
            _log.info("clock set from the central system: %s", to_wire(wall_s))
            return
        if not in_transaction:
            self.held = None
            self._step(wall_s - mono_s)
            return
        self.held = (wall_s, mono_s)
        delta = wall_s - mono_s - self.offset_s
        if abs(delta) >= STEP_LOG_S and not self._hold_logged:
            self._hold_logged = True
            _log.warning(
                "the central system's time differs from ours by %+.1f s during a "
                "transaction: its timestamps keep our clock; the step applies when "
                "no transaction is open",
                delta,
            )

    def settle(self, *, in_transaction: bool) -> None:
        """Apply a held currentTime once no transaction is open (call after every input)."""
        if self.held is None or in_transaction:
            return
        wall_s, mono_s = self.held
        self.held = None
        self._step(wall_s - mono_s)

    def _step(self, offset_s: float) -> None:
        delta = offset_s - (self.offset_s or 0.0)
        self.offset_s = offset_s
        self._hold_logged = False
        if abs(delta) >= STEP_LOG_S:
            level = logging.INFO if delta > 0 else logging.WARNING
            _log.log(level, "clock stepped by %+.1f s to the central system's time", delta)

    def wall(self, mono_s: float) -> float:
        """Wall seconds for monotonic `mono_s`; raises RuntimeError while the clock is unknown."""
        if self.offset_s is None:
            raise RuntimeError("wall clock not set yet (no BootNotification/Heartbeat answer)")
        return mono_s + self.offset_s

    def wire(self, mono_s: float) -> str:
        """OCPP dateTime for monotonic `mono_s`."""
        return to_wire(self.wall(mono_s))
