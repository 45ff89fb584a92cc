"""ISO 8601 date-times from a peer: what we accept (offset optional = UTC) and how we read it."""

# Why lenient on input: OCPP 1.6 §2.3 only *recommends* UTC, and OCPP-J 1.6 (dateTime, RFC 3339)
# is broken in the field by central systems that send `datetime.utcnow().isoformat()`, i.e. no
# offset at all. Refusing those answers loses registrations and duplicates transactions, so a
# missing offset is read as UTC (the only zone the spec recommends) and any offset is honoured.
# What we send stays strict RFC 3339 in UTC with `Z` (cpagent.chargepoint.clock.to_wire).
#
# Accepted (ISO 8601 extended format, the RFC 3339 profile plus the field's deviations):
#   YYYY-MM-DD ("T" | "t" | " ") hh:mm [:ss [(. | ,) fraction]] [Z | z | ±hh:mm | ±hhmm | ±hh]
# Refused: anything else (date only, basic format 20261201T100000, week dates, text, out-of-range
# fields such as month 13, hour 24 or offset ±24:00). A leap second (:60) is read as the
# first instant of the next minute.

from __future__ import annotations

import re

_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})"
    r"(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,  # \d must not match other scripts' digits, which int() would accept
)
_MAX_FRACTION_DIGITS = 9  # nanoseconds; more digits are a malformed (hostile) value
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_datetime(text: str) -> float:
    """POSIX seconds for an ISO 8601 date-time; no offset means UTC. Raises ValueError if bad.

    Pure arithmetic (no datetime, no clock), so the sans-I/O core can use it.
    """
    if type(text) is not str:
        raise ValueError(f"date-time must be a string, got {type(text).__name__}")
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    y, mo, d, h, mi, s = (int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    leap_year = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    last_day = 29 if mo == 2 and leap_year else _MONTH_DAYS[mo - 1] if 1 <= mo <= 12 else 0
    # s == 60: a leap second (RFC 3339 §5.6), read as the first instant of the next minute
    if y < 1 or not 1 <= d <= last_day or h > 23 or mi > 59 or s > 60:
        raise ValueError(f"date-time field out of range: {text[:40]!r}")
    if fraction is not None and len(fraction) > _MAX_FRACTION_DIGITS:
        raise ValueError(f"more than {_MAX_FRACTION_DIGITS} fractional digits: {text[:40]!r}")
    offset = 0
    if sign is not None:
        off_hours, off_minutes = int(off_h), int(off_m or 0)
        if off_hours > 23 or off_minutes > 59:
            raise ValueError(f"offset out of range: {text[:40]!r}")
        offset = (off_hours * 3600 + off_minutes * 60) * (-1 if sign == "-" else 1)
    seconds = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset
    return seconds + (float("0." + fraction) if fraction else 0.0)


def is_datetime(value: object) -> bool:
    """True if ``value`` is a date-time ``parse_datetime`` accepts (the schema format check)."""
    try:
        parse_datetime(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
