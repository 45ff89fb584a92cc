"""The Transport protocol every transport implements (docs/CONTRACTS.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Post = Callable[[object], None]
"""Callback a transport calls, from any thread, with a frozen event from `events.py`."""


class Transport(Protocol):
    """A text-frame link that reconnects by itself and reports up/down through `post`.

    Theory of operation: `start()` spawns the transport's own threads and returns at once;
    they connect and reconnect forever, posting `TransportUp` on every new link,
    `TransportDown` when a link ends or an attempt fails, and `FrameReceived` per frame.
    `send()` never blocks for long and never queues: it returns False when there is no link.
    """

    def start(self) -> None:
        """Spawn the transport's threads; connect and keep reconnecting until `stop()`."""
        ...

    def send(self, text: str) -> bool:
        """Send one text frame; thread-safe. False when not connected (frame not sent)."""
        ...

    def stop(self, timeout: float = 5.0) -> None:
        """Close the link and join the threads within `timeout` seconds; idempotent."""
        ...
