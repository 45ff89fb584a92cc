"""An in-process transport pair for tests and the demo: two ends joined by queues."""

from __future__ import annotations

import queue
import threading

from cpagent.transports.base import Post
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp


class LoopbackLink:
    """A link with two ends; each end is a Transport.

    Theory of operation: the link is up while both ends are started and not stopped and the
    link is not `cut()`. Each end delivers its events (Up, Down, frames) from its own thread,
    in order, like a real transport, so a `post` that answers at once by calling `send()`
    cannot recurse into the peer.
    """

    def __init__(self, subprotocol: str = "ocpp1.6") -> None:
        self.subprotocol = subprotocol
        self._lock = threading.Lock()
        self._ends: list[LoopbackTransport] = []
        self._cut = False
        self._up = False

    def end(self, post: Post) -> LoopbackTransport:
        """Create the next end (at most two)."""
        with self._lock:
            if len(self._ends) == 2:
                raise RuntimeError("a LoopbackLink has exactly two ends")
            transport = LoopbackTransport(self, post)
            self._ends.append(transport)
            return transport

    def cut(self, reason: str = "link cut") -> None:
        """Break the link, as a lost network would; both started ends see TransportDown."""
        with self._lock:
            self._cut = True
            self._update(reason)

    def restore(self) -> None:
        """Mend a cut link; both ends see TransportUp again."""
        with self._lock:
            self._cut = False
            self._update("")

    # -- used by the ends, under self._lock ------------------------------------------------

    def _update(self, reason: str) -> None:
        up = len(self._ends) == 2 and not self._cut and all(end._running for end in self._ends)
        if up == self._up:
            return
        self._up = up
        for end in self._ends:
            if end._running:
                end._inbox.put(TransportUp(self.subprotocol) if up else TransportDown(reason))

    def _deliver(self, sender: LoopbackTransport, text: str) -> bool:
        with self._lock:
            if not self._up:
                return False
            peer = self._ends[1] if self._ends[0] is sender else self._ends[0]
            peer._inbox.put(FrameReceived(text))
            return True


_STOP = object()


class LoopbackTransport:
    """One end of a `LoopbackLink`; implements the Transport protocol."""

    def __init__(self, link: LoopbackLink, post: Post) -> None:
        self._link = link
        self._post = post
        self._inbox: queue.Queue[object] = queue.Queue()
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("LoopbackTransport already started")
        self._thread = threading.Thread(target=self._pump, name="loopback", daemon=True)
        self._thread.start()
        with self._link._lock:
            self._running = True
            self._link._update("")

    def send(self, text: str) -> bool:
        return self._link._deliver(self, text)

    def stop(self, timeout: float = 5.0) -> None:
        with self._link._lock:
            if not self._running:
                return
            self._running = False
            was_up = self._link._up
            self._link._update("peer stopped")
        if was_up:
            self._inbox.put(TransportDown("stopped"))
        self._inbox.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)

    def _pump(self) -> None:
        while (event := self._inbox.get()) is not _STOP:
            self._post(event)
