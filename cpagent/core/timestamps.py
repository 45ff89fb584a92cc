"""ISO 8601 date-times from a peer: what we accept (offset optional = UTC) and how we read it."""

# Why lenient on input: OCPP 1.6 (edition 2) §3.15 "Time notations" asks for ISO 8601 and says
# receivers must handle fractional seconds and time zone offsets; §3.14 "Time zones" only
# *recommends* UTC. Central systems in the field send `datetime.utcnow().isoformat()`, i.e. no
# offset at all, which a JSON-schema (RFC 3339) date-time check refuses: that loses
# registrations and duplicates transactions. So a missing offset is read as UTC (the zone the
# spec recommends) and any offset is honoured.
# What we send stays strict RFC 3339 in UTC with `Z` (cpagent.chargepoint.clock.to_wire).
#
# Accepted (ISO 8601 extended format, the RFC 3339 profile plus the field's deviations):
#   YYYY-MM-DD ("T" | "t" | " ") hh:mm [:ss [(. | ,) fraction]] [Z | z | ±hh:mm | ±hhmm | ±hh]
# Refused: anything else (date only, basic format 20261201T100000, week dates, text, out-of-range
# fields such as month 13, hour 24 or offset ±24:00). A leap second (:60) is read as the
# first instant of the next minute.

from __future__ import annotations

import re

# Field ranges are in the pattern (it runs for every date-time a peer sends: keep it one
# match); only the day of the month against the month and leap year is checked in code.
_PATTERN = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):([0-5]\d)"
    r"(?::([0-5]\d|60)(?:[.,](\d{1,9}))?)?"  # :60 is a leap second (RFC 3339 §5.6)
    r"(?:[Zz]|([+-])([01]\d|2[0-3])(?::?([0-5]\d))?)?",
    re.ASCII,  # \d must not match other scripts' digits, which int() would accept
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid(match: re.Match[str] | None) -> bool:
    if match is None:
        return False
    year, month, day = match.group(1, 2, 3)
    if year == "0000":
        return False
    if day <= "28":
        return True
    y, m = int(year), int(month)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return int(day) <= (29 if m == 2 and leap else _MONTH_DAYS[m - 1])


def is_datetime(value: object) -> bool:
    """True if ``value`` is a date-time ``parse_datetime`` accepts (the schema format check)."""
    return type(value) is str and _valid(_PATTERN.fullmatch(value))


def parse_datetime(text: str) -> float:
    """POSIX seconds for an ISO 8601 date-time; no offset means UTC. Raises ValueError if bad.

    Pure arithmetic (no datetime, no clock), so the sans-I/O core can use it.
    """
    if type(text) is not str:
        raise ValueError(f"date-time must be a string, got {type(text).__name__}")
    match = _PATTERN.fullmatch(text)
    if match is None or not _valid(match):
        raise ValueError(f"not an ISO 8601 date-time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    offset = 0
    if sign is not None:
        offset = (int(off_h) * 3600 + int(off_m or 0) * 60) * (-1 if sign == "-" else 1)
    days = _days_from_civil(int(year), int(month), int(day))
    # a leap second (s == 60) is the first instant of the next minute
    seconds = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second or 0) - offset
    return seconds + (float("0." + fraction) if fraction else 0.0)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
