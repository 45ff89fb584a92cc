"""Events a transport posts to the owner thread: link up, link down, frame received."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TransportUp:
    """The link is up; `subprotocol` is the negotiated name (`ocpp1.6`, `ocpp2.0.1`, `ocpp2.1`)."""

    subprotocol: str


@dataclass(frozen=True, slots=True)
class TransportDown:
    """The link went down (or a connection attempt failed); `reason` is for humans and logs."""

    reason: str


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """One complete text frame arrived from the peer, uninterpreted."""

    text: str


TransportEvent = TransportUp | TransportDown | FrameReceived
