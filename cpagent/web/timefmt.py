"""ISO 8601 times in and out of the web page: read leniently as UTC, written strictly in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(text: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime; no offset means UTC (as the
    daemon reads central-system times). Raises ValueError for anything else."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def shown(text: object) -> str:
    """A stored time for people: `2026-12-01 14:03:07 UTC`, or "-" when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return "-"
    try:
        return f"{parse_utc(text):%Y-%m-%d %H:%M:%S} UTC"
    except ValueError:
        return text
