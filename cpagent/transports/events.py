"""Events a transport posts to the owner thread: link up, link down, frame received."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TransportUp:
    """The link is up; `subprotocol` is the negotiated name (`ocpp1.6`, `ocpp2.0.1`, `ocpp2.1`)."""

    subprotocol: str


@dataclass(frozen=True, slots=True)
class TransportDown:
    """The link went down (or a connection attempt failed); `reason` is for humans and logs.

    `taken` is set by the daemon's owner loop once it has handled the event: a transport
    asked to (`await_owner`) opens no new link before, so nothing the owner still does for
    the old link (frames already received from it, answers to them) reaches the new one
    ahead of its BootNotification (OCPP 1.6 §4.2)."""

    reason: str
    taken: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """One complete text frame arrived from the peer, uninterpreted."""

    text: str


TransportEvent = TransportUp | TransportDown | FrameReceived
