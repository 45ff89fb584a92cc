"""The status answer in words for people: the one-shot view and the `--watch` table."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

REGISTRATION_WORDS = {"Accepted": "accepted", "Pending": "pending", "Rejected": "rejected"}
"""RegistrationStatus (OCPP 1.6 §7.38) in words; "None" (no answer yet) is "not registered
yet"; Pending and Rejected add when the next BootNotification goes (§4.2)."""


def parse_time(text: object) -> float | None:
    """POSIX seconds of an RFC 3339 time from the answer; None if absent or malformed."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def span(seconds: float) -> str:
    """A duration the way people say it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def when(text: object, now: float, *, date: bool = True, relative: bool = True) -> str:
    """`2026-12-02 01:30:00 UTC (3 min ago)` (or `(in 12 s)`); `?` for no time."""
    wall = parse_time(text)
    if wall is None:
        return "?"
    shown = datetime.fromtimestamp(wall, tz=UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC" if date else "%H:%M:%S UTC"
    )
    if not relative:
        return shown
    delta = now - wall
    if abs(delta) < 1:
        return f"{shown} (just now)"
    return f"{shown} ({span(delta)} ago)" if delta > 0 else f"{shown} (in {span(delta)})"


def registration_words(status: dict[str, Any], now: float) -> str:
    """ "not registered yet", "pending, retry at …", "accepted", "rejected, retry at …"."""
    raw = status.get("registration")
    words = REGISTRATION_WORDS.get(str(raw), "not registered yet")
    retry = status.get("registration_retry_at")
    if raw in ("Pending", "Rejected") and retry:
        words += f", retry at {when(retry, now, date=False)}"
    link = status.get("link")
    if isinstance(link, dict) and link.get("state") == "disconnected" and raw in REGISTRATION_WORDS:
        words += " (on the last connection)"
    return words


def link_lines(status: dict[str, Any], now: float) -> list[str]:
    """`CSMS: connected (ocpp1.6) since …` and, when down, why, the next retry and a hint."""
    link = status.get("link")
    text = str(status.get("connection", "?"))
    if status.get("subprotocol"):
        text += f" ({status['subprotocol']})"
    if not isinstance(link, dict):  # an older daemon: the state only
        if status.get("registration"):
            text += f", registration {registration_words(status, now)}"
        return [f"CSMS: {text}"]
    if link.get("since"):
        text += f" since {when(link['since'], now)}"
    lines = [f"CSMS: {text}"]
    if link.get("state") != "connected":
        if link.get("reason"):
            lines.append(f"  reason: {link['reason']}")
        if link.get("next_retry"):
            lines.append(f"  next retry: {when(link['next_retry'], now, date=False)}")
        if link.get("hint"):
            lines.append(f"  hint: {link['hint']}")
    sent, received = link.get("last_sent"), link.get("last_received")
    lines.append(
        f"  last message sent: {when(sent, now) if sent else 'none yet'}; "
        f"received: {when(received, now) if received else 'none yet'}"
    )
    if status.get("application") != "bench":
        lines.append(f"registration: {registration_words(status, now)}")
    return lines


def header(status: dict[str, Any], now: float) -> str:
    """`chargepoint CP1: cpagent 0.1.0, up 2 h 5 min since 2026-12-02 01:30:00 UTC`."""
    facts = []
    if status.get("version"):
        facts.append(f"cpagent {status['version']}")
    if isinstance(status.get("uptime_s"), int | float):
        up = f"up {span(status['uptime_s'])}"
        if status.get("started_at"):
            up += f" since {when(status['started_at'], now, relative=False)}"
        facts.append(up)
    line = f"chargepoint {status.get('chargepoint', '?')}"
    return line + (": " + ", ".join(facts) if facts else "")


def connector_lines(conn: dict[str, Any], now: float) -> list[str]:
    """One line of facts per connector, then its meter's phases and the session."""
    relay = "closed (energised)" if conn.get("relay") else "open"
    plugged = conn.get("plugged")
    plug = "no plug input" if plugged is None else "plugged" if plugged else "unplugged"
    meter = conn.get("meter")
    reading = (
        f"{meter['energy_wh'] / 1000:.3f} kWh, {meter['power_w']:.0f} W"
        if isinstance(meter, dict)
        else "no meter reading yet"
    )
    line = f"connector {conn.get('id')}: {conn.get('status', '?')}, relay {relay}, {plug}, "
    line += reading
    if conn.get("pilot") is not None:  # an EVSE controller (IEC 61851-1 pilot state)
        line += f", pilot {conn['pilot']}, offering {conn.get('offered_current_a') or 0:g} A"
    limit = conn.get("limit_a")
    if isinstance(limit, int | float) and not isinstance(limit, bool):
        # why less is offered, or the relay opened: a smart-charging limit (below 6 A: 0 A)
        line += f" (limit {limit:g} A)" if conn.get("pilot") is not None else f", limit {limit:g} A"
    if conn.get("fault") or conn.get("error_code"):
        line += f", fault {fault_words(conn, detail=True)}"
    tx = conn.get("transaction")
    if isinstance(tx, dict):
        line += f", transaction {tx.get('id') or '(id pending)'} for {tx.get('id_tag')}"
    elif tx is not None:
        line += f", transaction {tx}"
    lines = [line]
    if isinstance(meter, dict):
        detail = _phases(meter)
        if meter.get("at"):
            detail += ("; " if detail else "") + f"read {when(meter['at'], now, date=False)}"
        if detail:
            lines.append(f"  meter: {detail}")
    if isinstance(tx, dict) and ("energy_wh" in tx or "started_at" in tx):
        energy = tx.get("energy_wh")
        session = "?" if not isinstance(energy, int | float) else f"{energy / 1000:.3f} kWh"
        lines.append(
            f"  session: {session} since meterStart {_fixed(tx.get('meter_start_wh'), 0)} Wh, "
            f"started {when(tx.get('started_at'), now)}"
        )
    return lines


def fault_words(conn: dict[str, Any], *, detail: bool) -> str:
    """`GroundFailure: controller reports ResidualCurrent (connector1:evse)`: the OCPP 1.6
    errorCode the connector reports (§7.6) and, with `detail`, its info, then the device(s)
    in fault; an older daemon's answer has only the devices."""
    code, device = conn.get("error_code"), conn.get("fault")
    if not code:
        return str(device)
    words = str(code)
    if detail and conn.get("error_info"):
        words += f": {conn['error_info']}"
    return words + (f" ({device})" if device else "")


def web_line(status: dict[str, Any]) -> str | None:
    """Whether the local web page is on and where, or why not; None for an older daemon."""
    if "web" not in status:
        return None
    web = status["web"]
    if not isinstance(web, dict):
        return "web page: off (no [web] section in the config)"
    if web.get("url"):
        url = str(web["url"])
        every = ("//0.0.0.0:", "//[::]:")  # a wildcard bind: reach it by the charger's address
        return f"web page: {url}" + (
            " (on every address of this machine)" if any(w in url for w in every) else ""
        )
    return f"web page: off: {web.get('error') or 'not started'} (restart cpagent to retry)"


def queue_line(status: dict[str, Any]) -> str:
    """The one queue people care about: transaction messages not yet taken by the CSMS."""
    if "queued_messages" not in status:  # the bench application has no outbox
        return f"queue depth: {status.get('queue_depth', '?')}"
    line = f"transaction messages waiting for the CSMS: {status['queued_messages']}"
    oldest = status.get("oldest_queued_s")
    if isinstance(oldest, int | float) and status["queued_messages"]:
        line += f" (oldest {span(oldest)} old)"
    return line


def render(status: dict[str, Any], now: float | None = None) -> str:
    """The status answer for people, one fact per line."""
    now = time.time() if now is None else now
    lines = [header(status, now), *link_lines(status, now)]
    for conn in status.get("connectors", []):
        lines += connector_lines(conn, now)
    lines.append(queue_line(status))
    web = web_line(status)
    if web is not None:
        lines.append(web)
    errors = status.get("errors_active")
    if isinstance(errors, list) and len(errors) > 1:
        lines += [f"error: {e.get('error')} (since {when(e.get('since'), now)})" for e in errors]
    elif status.get("last_error"):
        lines.append(f"last error: {status['last_error']}")
    else:
        lines.append("last error: none")
    return "\n".join(lines)


def _fixed(value: Any, digits: int) -> str:
    """`value` with `digits` decimals, `-` for no number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:.{digits}f}"


def _phases(meter: dict[str, Any]) -> str:
    """`L1 230.1 V 15.98 A, L2 ...`: the meter's volts and amps per phase ("" for none)."""
    return ", ".join(
        f"{p.get('phase')} {_fixed(p.get('voltage_v'), 1)} V {_fixed(p.get('current_a'), 2)} A"
        for p in meter.get("phases") or []
        if isinstance(p, dict)
    )


def render_watch(status: dict[str, Any], interval: float, now: float | None = None) -> str:
    """The live view: link, one table row per connector, queue and last error."""
    now = time.time() if now is None else now
    title = f"cpagent {status.get('chargepoint', '?')} ({status.get('application', '?')})"
    if isinstance(status.get("uptime_s"), int | float):
        title += f" {status.get('version', '')}, up {span(status['uptime_s'])}"
    link = link_lines(status, now)
    if status.get("application") != "bench" and isinstance(status.get("link"), dict):
        # one CSMS line (registration joins it), then why it is down and the last messages
        link = [f"{link[0]}, registration {registration_words(status, now)}"] + [
            line
            for line in link[1:]
            if line.startswith(("  reason", "  next", "  hint", "  last message"))
        ]
    lines = [
        f"{title}  {time.strftime('%H:%M:%S', time.gmtime(now))} UTC  every {interval:g} s, "
        "Ctrl-C to quit",
        *link,
        "",
        f"{'conn':<5}{'status':<15}{'relay':<7}{'plug':<6}{'pilot':<6}{'offer A':>8}"
        f"{'power W':>9}{'energy Wh':>11}{'limit A':>9}  transaction",
    ]
    for conn in status.get("connectors", []):
        meter = conn.get("meter") or {}
        plugged = {True: "in", False: "out"}.get(conn.get("plugged"), "-")
        limit = conn.get("limit_a")
        lines.append(
            f"{conn.get('id', '?')!s:<5}{conn.get('status', '?')!s:<15}"
            f"{'closed' if conn.get('relay') else 'open':<7}{plugged:<6}"
            f"{conn.get('pilot') or '-'!s:<6}{_fixed(conn.get('offered_current_a'), 1):>8}"
            f"{_fixed(meter.get('power_w'), 0):>9}{_fixed(meter.get('energy_wh'), 1):>11}"
            f"{_fixed(limit, 1):>9}  {_transaction(conn.get('transaction'))}"
            + (
                f"  FAULT {fault_words(conn, detail=False)}"
                if conn.get("fault") or conn.get("error_code")
                else ""
            )
        )
        detail = _watch_detail(conn)
        if detail:
            lines.append(f"{'':<5}{detail}")
    lines.append("")
    queue = queue_line(status)
    if status.get("last_card"):
        queue += f", last card {status['last_card']}"
    lines.append(queue)
    lines.append(f"last error: {status.get('last_error') or '-'}")
    return "\n".join(lines)


def _watch_detail(conn: dict[str, Any]) -> str:
    """The row's second line: volts and amps per phase, and the running session's energy."""
    raw = conn.get("meter")
    meter: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parts = [_phases(meter)]
    tx = conn.get("transaction")
    if isinstance(tx, dict) and isinstance(tx.get("energy_wh"), int | float):
        parts.append(f"session {tx['energy_wh'] / 1000:.3f} kWh")
    return "; ".join(part for part in parts if part)


def _transaction(tx: Any) -> str:
    if isinstance(tx, dict):
        return f"{tx.get('id') or '(id pending)'} for {tx.get('id_tag')}"
    return "-" if tx is None else str(tx)
