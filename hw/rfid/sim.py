"""Simulated card reader for the bench: `tap(id_tag)` presents a card (e.g. from `ctl tap`)."""

from __future__ import annotations

import threading

from hw.events import CardPresented, FaultCode
from hw.interfaces import Post
from hw.sim import PostedFault


class SimCardReader(PostedFault):
    """A CardReader twin. While a fault is injected, taps are ignored (as a dead reader would)."""

    DEFAULT_FAULT = FaultCode.READER_FAILURE.value

    def __init__(self, *, post: Post, source: str = "reader") -> None:
        self._post = post
        self._source = source
        self._lock = threading.Lock()
        self._fault: str | None = None
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self, timeout: float = 2.0) -> None:
        self.running = False

    def tap(self, id_tag: str) -> bool:
        """Present a card; returns False (nothing posted) if the reader is faulted or stopped."""
        with self._lock:
            if self._fault is not None or not self.running:
                return False
        self._post(CardPresented(self._source, id_tag.upper()))
        return True
