"""The two HTML pages: the live connector view (`/`) and the session history (`/sessions`).

Plain HTML and CSS, no script and nothing fetched from elsewhere, so the page works offline
on the charger's LAN; `/` reloads itself with a meta refresh. Every value that comes from
the daemon is HTML-escaped here, card ids arrive masked (`cpagent.redact.mask_tag_fields`),
and an absent value shows as "-".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from cpagent.web.data import connector_view, number, queue_depth, registration_words
from cpagent.web.markup import escape
from cpagent.web.plot import session_plot
from cpagent.web.timefmt import shown

DASH = "-"
STYLE = """
body{font-family:sans-serif;margin:1.2em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .4em} nav a{margin-right:1em}
table{border-collapse:collapse;margin:.6em 0} th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top} th{background:#eee} td.num{text-align:right}
.down{color:#b03a2e;font-weight:bold} .up{color:#1e8449;font-weight:bold}
.session{background:#fff;border:1px solid #ddd;margin:.8em 0;padding:.5em}
.session table{font-size:.9em;margin-top:0} .session td{white-space:nowrap}
.pages a,.pages span{margin-right:.8em} .muted{color:#777}
"""


def _text(value: Any) -> str:
    return DASH if value is None or value == "" else escape(str(value))


def _fixed(value: Any, scale: float, digits: int) -> str:
    n = number(value)
    return DASH if n is None else f"{n / scale:.{digits}f}"


def _per_phase(values: list[float | None], digits: int) -> str:
    """L1 / L2 / L3 as the meter gives them; "-" when it gives none."""
    return " / ".join(_fixed(v, 1, digits) for v in values) or DASH


def _page(title: str, body: str, refresh_s: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{refresh}'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<nav><a href="/">live</a><a href="/sessions">sessions</a>'
        f'<a href="/api/status">status JSON</a><a href="/metrics">metrics</a></nav>'
        f"{body}</body></html>"
    )


def _facts(status: dict[str, Any]) -> list[tuple[str, str]]:
    """The chargepoint-wide rows of `/`; fields an older daemon does not give show "-"."""
    raw_link = status.get("link")
    link: dict[str, Any] = raw_link if isinstance(raw_link, dict) else {}
    connected = status.get("connection") == "connected"
    state = escape(str(status.get("connection") or "unknown"))
    if status.get("subprotocol"):
        state += f" ({escape(str(status['subprotocol']))})"
    if link.get("since"):
        state += f" since {escape(shown(link['since']))}"
    if not connected and link.get("reason"):
        state += f": {escape(str(link['reason']))}"
    uptime = number(status.get("uptime_s"))
    running = _text(status.get("version"))
    if uptime is not None:
        running += f", up {_duration(uptime)}"
    facts = [
        ("cpagent", running),
        ("central system", f'<span class="{"up" if connected else "down"}">{state}</span>'),
    ]
    if not connected and (link.get("hint") or link.get("next_retry")):
        facts.append(("what to check", _text(link.get("hint"))))
        facts.append(("next attempt", escape(shown(link.get("next_retry")))))
    facts.append(
        (
            "last message",
            f"sent {escape(shown(link.get('last_sent')))}, "
            f"received {escape(shown(link.get('last_received')))}",
        )
    )
    if status.get("application") != "bench":
        words = escape(registration_words(status.get("registration")))
        if status.get("registration_retry_at"):
            words += f", next BootNotification {escape(shown(status['registration_retry_at']))}"
        facts.append(("registration", words))
    queued = _fixed(queue_depth(status), 1, 0)
    oldest = number(status.get("oldest_queued_s"))
    if oldest is not None:
        queued += f" (oldest {_duration(oldest)} old)"
    facts.append(("queued transaction messages", queued))
    store = status.get("store")
    if isinstance(store, dict):
        facts.append(
            (
                "state database",
                "ok"
                if store.get("ok")
                else f'<span class="down">{_text(store.get("error"))}</span>',
            )
        )
    facts.append(("last error", _text(status.get("last_error"))))
    facts.append(("last card", _text(status.get("last_card"))))
    return facts


def _duration(seconds: float) -> str:
    """`42 s`, `5 min 3 s`, `2 h 5 min`, `3 d 4 h`: the two largest units."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def live_page(status: dict[str, Any], refresh_s: int) -> str:
    """`/`: connection, registration and one row per connector."""
    point = status.get("chargepoint")
    facts = _facts(status)
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in facts)
    head = (
        "<tr><th>connector</th><th>status</th><th>power (W)</th><th>energy (kWh)</th>"
        "<th>voltage (V)</th><th>current (A)</th><th>offered (A)</th><th>limit (A)</th>"
        "<th>pilot</th><th>relay</th><th>plug</th>"
        "<th>transaction</th><th>session (kWh)</th><th>card</th><th>fault</th></tr>"
    )
    lines = []
    for conn in status.get("connectors", []):
        if not isinstance(conn, dict):
            continue
        v = connector_view(conn)
        relay = {True: "closed", False: "open", None: DASH}[v["relay"]]
        plug = {True: "plugged", False: "unplugged", None: DASH}[v["plugged"]]
        lines.append(
            f'<tr class="connector" data-connector="{_text(v["id"])}">'
            f'<td>{_text(v["id"])}</td><td class="status">{_text(v["status"])}</td>'
            f'<td class="num power">{_fixed(v["power_w"], 1, 0)}</td>'
            f'<td class="num energy">{_fixed(v["energy_wh"], 1000, 3)}</td>'
            f'<td class="num">{_per_phase(v["voltage_v"], 0)}</td>'
            f'<td class="num">{_per_phase(v["current_a"], 1)}</td>'
            f'<td class="num">{_fixed(v["offered_current_a"], 1, 1)}</td>'
            f'<td class="num">{_fixed(v["limit_a"], 1, 1)}</td>'
            f"<td>{_text(v['pilot'])}</td><td>{relay}</td><td>{plug}</td>"
            f"<td>{_text(v['transaction_id'])}</td>"
            f'<td class="num">{_fixed(v["session_wh"], 1000, 3)}</td>'
            f"<td>{_text(v['id_tag'])}</td>"
            f"<td>{_text(v['fault'])}</td></tr>"
        )
    body = (
        f"<h1>Chargepoint {_text(point)}</h1><table>{rows}</table>"
        f'<table class="connectors">{head}{"".join(lines)}</table>'
        f'<p class="muted">Refreshes every {refresh_s} s. Energy is the meter register.</p>'
    )
    return _page(f"cpagent {point or ''}", body, refresh_s)


def sessions_page(
    total: int, page: int, per_page: int, sessions: list[dict[str, Any]], since: str | None
) -> str:
    """`/sessions?page=N`: one page of finished sessions, each with its plot."""
    pages = max(1, -(-total // per_page))
    nav = _pager(page, pages, since)
    first = (page - 1) * per_page + 1
    noun = "session" if total == 1 else "sessions"
    summary = (
        f"{total} {noun}, showing {first}-{first + len(sessions) - 1}"
        if sessions
        else f"{total} {noun}; none on page {page}"
    )
    blocks = [_session(s) for s in sessions]
    since_note = f" since {escape(since)}" if since else ""
    body = f"<h1>Sessions{since_note}</h1><p>{summary}</p>{nav}{''.join(blocks)}{nav}"
    return _page("cpagent sessions", body)


def _pager(page: int, pages: int, since: str | None) -> str:
    def link(n: int, label: str) -> str:
        query = {"page": n, **({"since": since} if since else {})}
        return f'<a href="/sessions?{escape(urlencode(query))}">{label}</a>'

    parts = [f"<span>page {page} of {pages}</span>"]
    if page > 1:
        parts.insert(0, link(1, "first") + link(page - 1, "previous"))
    if page < pages:
        parts.append(link(page + 1, "next") + link(pages, "last"))
    return f'<p class="pages">{"".join(parts)}</p>'


def _session(s: dict[str, Any]) -> str:
    acked = s.get("acknowledged")
    ack = "yes" if acked is True else "not yet" if acked is False else DASH
    facts = (
        f"<tr><th>session</th><th>connector</th><th>card</th><th>start</th><th>stop</th>"
        f"<th>meter start (Wh)</th><th>meter stop (Wh)</th><th>energy (kWh)</th>"
        f"<th>stop reason</th><th>acknowledged</th><th>local id</th></tr>"
        f'<tr class="session-row" data-session="{_text(s.get("id"))}">'
        f"<td>{_text(s.get('id'))}</td><td>{_text(s.get('connector'))}</td>"
        f"<td>{_text(s.get('id_tag'))}</td><td>{escape(shown(s.get('start')))}</td>"
        f"<td>{escape(shown(s.get('stop')))}</td>"
        f'<td class="num">{_fixed(s.get("meter_start_wh"), 1, 0)}</td>'
        f'<td class="num">{_fixed(s.get("meter_stop_wh"), 1, 0)}</td>'
        f'<td class="num">{_fixed(s.get("energy_wh"), 1000, 3)}</td>'
        f"<td>{_text(s.get('stop_reason'))}</td><td>{ack}</td>"
        # the charger's own number: a transactionId repeats when the central system changes
        f"<td>{_text(s.get('local_id'))}</td></tr>"
    )
    raw = s.get("samples")
    samples: list[Any] = list(raw) if isinstance(raw, list | tuple) else []
    plot = session_plot(
        samples, number(s.get("meter_start_wh")), title=f"session {s.get('id')}: power and energy"
    )
    return f'<div class="session"><table>{facts}</table>{plot}</div>'
