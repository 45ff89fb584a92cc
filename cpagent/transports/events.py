"""Events a transport posts to the owner thread: link up, link down, frame received."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class TransportUp:
    """The link is up; `subprotocol` is the negotiated name (`ocpp1.6`, `ocpp2.0.1`, `ocpp2.1`)."""

    subprotocol: str


class LinkCause(StrEnum):
    """Why a link ended or an attempt failed, as far as the transport can tell; the daemon
    turns it into a hint for people (`cpagent status`)."""

    AUTH = "auth"  # the server refused our credentials (HTTP 401/403, MQTT 0x86/0x87)
    TLS = "tls"  # TLS set-up or handshake failed (certificate not trusted, expired, ...)
    HTTP = "http"  # the server answered the upgrade with another HTTP status (404, 500, ...)
    SUBPROTOCOL = "subprotocol"  # no or another OCPP subprotocol selected (OCPP-J 1.6 §3.1.2)
    REFUSED = "refused"  # TCP connection refused: nothing listens there
    DNS = "dns"  # the host name does not resolve
    TIMEOUT = "timeout"  # no answer to the connection attempt in time
    NETWORK = "network"  # another socket error (unreachable, reset during the handshake)
    LOST = "lost"  # an established link broke (read error, no pong, peer not reading)
    CLOSED = "closed"  # the peer closed an established link
    PEER_DOWN = "peer-down"  # MQTT: the broker is there, the central system behind it is not
    STOPPED = "stopped"  # we closed it ourselves
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TransportDown:
    """The link went down (or a connection attempt failed); `reason` is for humans and logs.

    `cause` classifies it, `http_status` is the server's answer to a refused upgrade, and
    `retry_in_s` is how long the transport waits before its next attempt (None: it does not
    know, e.g. MQTT's paho schedules it).

    `taken` is set by the daemon's owner loop once it has handled the event: a transport
    asked to (`await_owner`) opens no new link before, so nothing the owner still does for
    the old link (frames already received from it, answers to them) reaches the new one
    ahead of its BootNotification (OCPP 1.6 §4.2)."""

    reason: str
    cause: LinkCause = LinkCause.OTHER
    http_status: int | None = None
    retry_in_s: float | None = None
    taken: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """One complete text frame arrived from the peer, uninterpreted."""

    text: str


TransportEvent = TransportUp | TransportDown | FrameReceived
