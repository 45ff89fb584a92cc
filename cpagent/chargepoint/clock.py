"""Wall clock derived from monotonic time once the central system has told us the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cpagent.core.timestamps import parse_datetime


def to_wire(wall_s: float) -> str:
    """OCPP dateTime (RFC 3339, UTC, millisecond precision, 'Z'), e.g. 2026-11-30T00:00:00.000Z."""
    dt = datetime.fromtimestamp(wall_s, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def from_wire(text: str) -> float:
    """POSIX seconds of a date-time from the central system; raises ValueError if malformed.

    Read as ISO 8601 with the offset optional (no offset = UTC, OCPP 1.6 §2.3 recommends UTC):
    the same grammar the incoming schema check accepts (cpagent.core.timestamps), so anything
    that passed validation parses here.
    """
    return parse_datetime(text)


@dataclass(slots=True)
class WallClock:
    """Maps monotonic seconds to wall time: offset learnt from BootNotification/Heartbeat.conf.

    Until `set` is called the clock is unknown and nothing may be timestamped with it;
    events recorded meanwhile keep their monotonic time and are back-dated with the same
    offset once it is known (issue 6 "Boot": no transaction timestamped before the clock is
    set). The offset follows the latest currentTime; monotonic time never jumps.
    """

    offset_s: float | None = None

    @property
    def is_set(self) -> bool:
        return self.offset_s is not None

    def set(self, wall_s: float, mono_s: float) -> None:
        """Record that monotonic `mono_s` is wall time `wall_s` (from currentTime)."""
        self.offset_s = wall_s - mono_s

    def wall(self, mono_s: float) -> float:
        """Wall seconds for monotonic `mono_s`; raises RuntimeError while the clock is unknown."""
        if self.offset_s is None:
            raise RuntimeError("wall clock not set yet (no BootNotification/Heartbeat answer)")
        return mono_s + self.offset_s

    def wire(self, mono_s: float) -> str:
        """OCPP dateTime for monotonic `mono_s`."""
        return to_wire(self.wall(mono_s))
