"""What the page reads from the daemon's answers: card ids masked, absent values as None.

The web server never touches chargepoint state: it calls the two sources the daemon hands
it (`StatusSource`, `SessionsSource`) from its own handler threads, and everything it
shows goes through `cpagent.redact.mask_tag_fields` first, so a card id (OCPP 1.6 §7.28
IdToken) never leaves the machine in full.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

StatusSource = Callable[[], dict[str, Any]]
"""The daemon's `status` answer (as the control socket's `status` command returns it)."""

SessionsSource = Callable[[int, int, datetime | None], tuple[int, list[dict[str, Any]]]]
"""(offset, limit, since) -> (total matching, that page of finished sessions, newest first)."""


def number(value: Any) -> float | None:
    """A finite number from the answer, or None (absent, null, text, bool, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def connector_view(conn: dict[str, Any]) -> dict[str, Any]:
    """The facts the page and /metrics show for one connector, None where the daemon has none.

    Offered current is what the EVSE controller offers on the control pilot
    (`offered_current_a`, None without a controller), the pilot its IEC 61851-1 state
    (`pilot`); the limit is the charging limit in force (`limit_a`). Volts and amps are per
    phase (L1, L2, L3) as the meter gives them (a single-phase meter: one value). The session
    energy is what the running transaction delivered so far (register minus meterStart)."""
    raw_meter, raw_tx = conn.get("meter"), conn.get("transaction")
    meter: dict[str, Any] = raw_meter if isinstance(raw_meter, dict) else {}
    tx: dict[str, Any] | None = raw_tx if isinstance(raw_tx, dict) else None
    return {
        "id": conn.get("id"),
        "status": conn.get("status"),
        "power_w": number(meter.get("power_w")),
        "energy_wh": number(meter.get("energy_wh")),
        "offered_current_a": number(conn.get("offered_current_a")),
        "limit_a": number(conn.get("limit_a")),
        "pilot": conn.get("pilot"),
        "relay": conn.get("relay") if isinstance(conn.get("relay"), bool) else None,
        "plugged": conn.get("plugged") if isinstance(conn.get("plugged"), bool) else None,
        "fault": fault_text(conn),
        "voltage_v": phases(meter.get("voltage_v")),
        "current_a": phases(meter.get("current_a")),
        "transaction_id": None if tx is None else tx.get("id"),
        "session_wh": None if tx is None else number(tx.get("energy_wh")),
        "id_tag": None if tx is None else tx.get("id_tag"),
    }


def fault_text(conn: dict[str, Any]) -> str | None:
    """`GroundFailure (connector1:evse)`: the OCPP 1.6 errorCode the connector reports (§7.6)
    and the device(s) in fault; only the devices from a daemon that does not say the code."""
    code, device = conn.get("error_code"), conn.get("fault")
    if not code:
        return None if device is None else str(device)
    return f"{code} ({device})" if device else str(code)


def phases(value: Any) -> list[float | None]:
    """Per-phase values from the answer: a list of numbers (None where one is not a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [number(v) for v in value[:3]]


def registration_words(value: Any) -> str:
    """OCPP 1.6 §7.38 RegistrationStatus in words for people."""
    return {
        None: "not registered yet",
        "None": "not registered yet",
        "": "not registered yet",
        "Accepted": "accepted",
        "Pending": "pending (the central system will retry)",
        "Rejected": "rejected by the central system",
    }.get(value, str(value))


def queue_depth(status: dict[str, Any]) -> float | None:
    """Transaction messages waiting for the central system (the durable outbox)."""
    return number(status.get("queued_messages"))
