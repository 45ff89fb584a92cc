"""FrameWriter: one link's outgoing frames, written on their own thread from a bounded queue."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

import websocket as wsc

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 1024
"""Frames waiting for the socket before the link counts as not draining (a burst after a
reconnect is a BootNotification, a StatusNotification per connector and one transaction
message at a time: a few dozen)."""
MAX_QUEUED_BYTES = 16 * 1024 * 1024
"""Bytes waiting for the socket, likewise; a single frame of any size is always accepted
into an empty queue."""


class FrameWriter:
    """Writes one WebSocket link's frames in order on its own thread, so that no caller ever
    waits on the socket.

    Theory of operation: `put` only appends to a bounded queue and returns at once (False when
    the queue is full or closed: the caller treats the link as dead). The thread takes frames
    one by one and writes each whole; `busy_for` says how long the frame being written has
    been blocked, which the link's watcher compares with the pong timeout to find a central
    system that stopped reading. `close` queues a Close frame as the last one; after it, or
    after a failed write, the thread ends and later frames are refused. A failed write is
    reported once through `on_failure`.
    """

    def __init__(
        self,
        ws: wsc.WebSocket,
        name: str,
        on_failure: Callable[[str], None],
        *,
        max_frames: int = MAX_QUEUED_FRAMES,
        max_bytes: int = MAX_QUEUED_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ws = ws
        self._on_failure = on_failure
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._clock = clock
        self._queue: collections.deque[tuple[int, bytes]] = collections.deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._closed = False  # no more frames accepted
        self._busy_since: float | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, opcode: int, data: bytes) -> bool:
        """Queue one frame; False (nothing queued) when the queue is full or closed."""
        with self._cond:
            if self._closed:
                return False
            if self._queue and (
                len(self._queue) >= self._max_frames
                or self._queued_bytes + len(data) > self._max_bytes
            ):
                return False
            self._queue.append((opcode, data))
            self._queued_bytes += len(data)
            self._cond.notify()
        return True

    def close(self, status: int, reason: bytes = b"") -> None:
        """Queue a Close frame (RFC 6455 §5.5.1) after what is queued; accept nothing more."""
        with self._cond:
            if self._closed:
                return
            self._queue.append((wsc.ABNF.OPCODE_CLOSE, status.to_bytes(2, "big") + reason))
            self._closed = True
            self._cond.notify()

    def discard(self) -> None:
        """Drop what is queued and accept nothing more (the link is being torn down)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._queued_bytes = 0
            self._cond.notify()

    def busy_for(self, now: float) -> float:
        """Seconds the frame being written has been blocked in the socket (0 when idle)."""
        since = self._busy_since
        return 0.0 if since is None else max(0.0, now - since)

    @property
    def closed(self) -> bool:
        """True once `close` or `discard` ran or a write failed: `put` refuses everything."""
        with self._cond:
            return self._closed

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread.ident is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                opcode, data = self._queue.popleft()
                self._queued_bytes -= len(data)
                self._busy_since = self._clock()
            try:
                self._ws.send(data, opcode)
            except (wsc.WebSocketException, OSError, ValueError) as exc:
                self.discard()
                log.debug("write failed: %s", exc)
                self._on_failure(f"send failed: {exc or type(exc).__name__}")
                return
            finally:
                self._busy_since = None
            if opcode == wsc.ABNF.OPCODE_CLOSE:
                self.discard()
                return
