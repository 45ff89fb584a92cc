"""What `cpagent status` says about the daemon, its CSMS link and the errors still there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cpagent
from cpagent.redact import redact_text
from cpagent.transports.events import LinkCause, TransportDown, TransportUp

CSMS_ERROR = "csms"  # the error key of the link to the central system


def rfc3339(wall_s: float | None) -> str | None:
    """RFC 3339 UTC with a `Z` and whole seconds (2026-12-02T01:30:00Z); None stays None."""
    if wall_s is None:
        return None
    return datetime.fromtimestamp(round(wall_s), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Started:
    """When the daemon started, on both clocks."""

    wall: float
    mono: float

    def facts(self, now: float) -> dict[str, Any]:
        return {
            "version": cpagent.__version__,
            "started_at": rfc3339(self.wall),
            "uptime_s": round(max(0.0, now - self.mono), 1),
        }


def hint(down: TransportDown, transport: str = "websocket", subprotocol: str = "ocpp1.6") -> str:
    """What a person can do about a failed link, naming the config keys to look at; "" when
    there is nothing to do but wait (the link broke and is being replaced)."""
    detail = down.reason.lower()
    if transport == "mqtt":
        return _mqtt_hint(down.cause)
    match down.cause:
        case LinkCause.AUTH:
            return "check [chargepoint] id and [csms] password: the central system refused them"
        case LinkCause.TLS:
            return _tls_hint(detail)
        case LinkCause.HTTP if down.http_status == 404:
            return (
                "check the path in [csms] url: the server has no OCPP endpoint there "
                "(the chargepoint id is appended to the url)"
            )
        case LinkCause.HTTP:
            return (
                f"the server at [csms] url answered HTTP {down.http_status} instead of "
                "accepting a WebSocket: check the url, or the central system's logs"
            )
        case LinkCause.SUBPROTOCOL:
            # OCPP-J 1.6 §3.1.2 / RFC 6455 §4.1: the server must echo the subprotocol we offer.
            return (
                f"the central system doesn't speak {subprotocol} at that URL "
                "(it selected no or another subprotocol): check [csms] url and the OCPP "
                "version it serves"
            )
        case LinkCause.REFUSED:
            return (
                "nothing listens at [csms] url's host and port: check the port, and that the "
                "central system is running"
            )
        case LinkCause.DNS:
            return "the host name in [csms] url does not resolve: check it and the board's DNS"
        case LinkCause.TIMEOUT | LinkCause.NETWORK:
            return "the central system's host cannot be reached: check the network and firewall"
        case _:
            return ""


def _tls_hint(detail: str) -> str:
    """OpenSSL's verify messages (X509_V_ERR_* texts) and alerts, in words."""
    if "set-up failed" in detail:
        return "check the files named in [csms] ca_file, cert_file and key_file"
    if "hostname mismatch" in detail or "ip address mismatch" in detail:
        return "the certificate names another host: use that host name in [csms] url"
    if "expired" in detail or "not yet valid" in detail:
        return "the certificate is out of date, or this board's clock is wrong: check the time"
    if "alert" in detail or "client certificate" in detail:  # the server refused ours
        return "the central system refused our client certificate: check [csms] cert_file"
    return (
        "the central system's certificate is not signed by a CA we trust: set [csms] ca_file "
        "to its CA certificate"
    )


def _mqtt_hint(cause: LinkCause) -> str:
    match cause:
        case LinkCause.AUTH:
            return "check [mqtt] username and password: the broker refused them"
        case LinkCause.NETWORK:
            return "the broker cannot be reached: check [mqtt] host and port, and the network"
        case LinkCause.PEER_DOWN:
            return "the broker is up; the bridge to the central system is not (cpagent bridge)"
        case _:
            return ""


@dataclass(slots=True)
class LinkStatus:
    """The link's state for people: since when, why not, when the next try is, and the
    times of the last frame each way. Wall times (POSIX seconds, the board's clock)."""

    transport: str = "websocket"
    offered: str = "ocpp1.6"
    connected: bool = False
    since: float | None = None
    subprotocol: str | None = None
    down: TransportDown | None = None
    next_retry: float | None = None
    last_sent: float | None = None
    last_received: float | None = None
    links: int = 0

    def up(self, subprotocol: str, wall: float) -> None:
        self.connected, self.since, self.subprotocol = True, wall, subprotocol
        self.down, self.next_retry = None, None
        self.links += 1

    def went_down(self, event: TransportDown, wall: float) -> None:
        if self.connected or self.since is None:
            self.since = wall  # a failed retry does not restart "down since"
        self.connected, self.subprotocol, self.down = False, None, event
        self.next_retry = None if event.retry_in_s is None else wall + event.retry_in_s

    @property
    def reconnects(self) -> int:
        """Links established after the first one."""
        return max(0, self.links - 1)

    def facts(self) -> dict[str, Any]:
        """The link's keys of a status answer (docs/operations.md)."""
        return {
            "connection": "connected" if self.connected else "disconnected",
            "subprotocol": self.subprotocol,
            "link": self.as_dict(),
            "reconnects": self.reconnects,
        }

    def as_dict(self) -> dict[str, Any]:
        down = self.down
        return {
            "state": "connected" if self.connected else "disconnected",
            "since": rfc3339(self.since),
            "subprotocol": self.subprotocol,
            # a reason may quote csms.url; a `user:password@` in it stays out of status output
            "reason": None if down is None else redact_text(down.reason),
            "cause": None if down is None else down.cause.value,
            "http_status": None if down is None else down.http_status,
            "hint": (hint(down, self.transport, self.offered) or None) if down else None,
            "next_retry": rfc3339(self.next_retry),
            "last_sent": rfc3339(self.last_sent),
            "last_received": rfc3339(self.last_received),
        }


@dataclass(slots=True)
class Problems:
    """Error conditions that hold until their cause is gone (link back, device recovered,
    store writing again); `last` is the one that began most recently, `count` every one ever
    raised. A condition raised again while it holds (the link's every retry) takes the new
    words but keeps its place, so `last_error` does not flip between two conditions."""

    active: dict[str, tuple[str, float]] = field(default_factory=dict)
    count: int = 0

    def raise_(self, key: str, message: str, wall: float) -> None:
        message = redact_text(message)  # e.g. a link error quoting a URL with a password
        self.count += 1
        since = self.active[key][1] if key in self.active else wall
        self.active[key] = (message, since)  # a new key goes last; a held one keeps its place

    def clear(self, key: str) -> None:
        self.active.pop(key, None)

    @property
    def last(self) -> str | None:
        return next(reversed(self.active.values()))[0] if self.active else None

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {"source": key, "error": message, "since": rfc3339(since)}
            for key, (message, since) in self.active.items()
        ]

    def facts(self) -> dict[str, Any]:
        """The errors' keys of a status answer (docs/operations.md)."""
        return {"last_error": self.last, "errors_active": self.as_list(), "errors": self.count}


def note_link(
    link: LinkStatus, problems: Problems, event: TransportUp | TransportDown, wall: float
) -> None:
    """A link change, in the status: the link's state, and the CSMS error, raised while the
    link is down (not when we closed it ourselves) and cleared once it is up again."""
    if isinstance(event, TransportUp):
        link.up(event.subprotocol, wall)
        problems.clear(CSMS_ERROR)
        return
    link.went_down(event, wall)
    if event.cause is not LinkCause.STOPPED:
        problems.raise_(CSMS_ERROR, f"CSMS link: {event.reason}", wall)
