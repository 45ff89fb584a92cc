"""The owner thread's loop: one inbox queue, deadlines from registered sources, one application."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import InvalidStateError
from typing import Any, Protocol

from cpagent.daemon.events import (
    ControlRequest,
    ShutdownRequested,
    StopRequested,
    WebPageState,
    WorkerDied,
)
from cpagent.daemon.notify import Notifier
from cpagent.transports.events import TransportDown, TransportUp

log = logging.getLogger(__name__)

EX_OK = 0
EX_SOFTWARE = 70  # sysexits.h: internal software error (a worker or the application failed)


class CommandError(Exception):
    """A control command the application refuses; the message goes back to the client."""


class DeadlineSource(Protocol):
    """Something with timers, e.g. the core Session: the loop waits until its next deadline."""

    def next_deadline(self) -> float | None:
        """Monotonic seconds of the next deadline, or None when nothing is scheduled."""
        ...

    def on_deadline(self, now: float) -> None:
        """Called on the owner thread once `now` >= the deadline it last reported."""
        ...


class Application(DeadlineSource, Protocol):
    """What the owner loop drives; every method runs on the owner thread only.

    The bench application (`cpagent.daemon.bench_app`) implements it now; the OCPP 1.6
    chargepoint replaces it later, behind the same seam (docs/foundation.md).
    """

    def on_event(self, event: object, now: float) -> None:
        """An event posted by a transport, driver or timer (anything but the loop's own)."""
        ...

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """A control-socket command other than `status`; raise CommandError to refuse it."""
        ...

    def status(self) -> dict[str, Any]:
        """A JSON-ready snapshot for `cpagent status` (relay state under the key `relay`)."""
        ...

    def begin_stop(self, reason: str, now: float) -> bool:
        """A signal asks to stop: open the relays now; return True when the application needs
        a moment (e.g. to have its StopTransactions acknowledged) and will post
        ShutdownRequested itself, within a few seconds; False to stop at once."""
        ...

    def shutdown(self, reason: str) -> None:
        """Stop: de-energise relays first, then close drivers and transports (bounded)."""
        ...


class Inbox:
    """The owner thread's one queue; `post` is what every other thread gets to call.

    A SimpleQueue, not a Queue: the daemon's signal handler posts too, and a second signal
    can run it while the main thread is inside the first one's `post`. Queue.put holds a
    lock there and the handler would wait on it for good (every thread behind it);
    SimpleQueue.put is reentrant (Python's queue docs: safe from signal handlers)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()

    def post(self, event: object) -> None:
        """Queue `event` for the owner thread; safe from any thread and from signal handlers."""
        self._queue.put(event)

    def get(self, timeout: float | None) -> object | None:
        """The next event, or None once `timeout` seconds passed without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def depth(self) -> int:
        return self._queue.qsize()


class OwnerLoop:
    """Runs the application on one thread; everyone else only calls `post`.

    Theory of operation: `run()` blocks on the inbox until the earliest deadline of the
    registered sources (and the systemd watchdog); it dispatches each event, then fires every
    source whose deadline has passed. `ShutdownRequested` and `WorkerDied` end the loop.
    """

    def __init__(
        self,
        app: Application,
        *,
        inbox: Inbox | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._inbox = inbox or Inbox()
        self._notifier = notifier or Notifier({})
        self._clock = clock
        self._sources: list[DeadlineSource] = [app]
        self._exit_code: int | None = None
        self._reason = ""
        self._stopping = False  # a StopRequested arrived; the application is winding down
        self._owner: threading.Thread | None = None
        self._web: WebPageState | None = None  # None: no [web] (the page is off)

    def post(self, event: object) -> None:
        """Queue `event` for the owner thread; safe from any thread."""
        self._inbox.post(event)

    def queue_depth(self) -> int:
        return self._inbox.depth()

    def add_deadline_source(self, source: DeadlineSource) -> None:
        self._sources.append(source)

    @property
    def stop_reason(self) -> str:
        return self._reason

    def run(self) -> int:
        """Run until shutdown on the calling thread; return the process exit code."""
        self._owner = threading.current_thread()
        watchdog_s = self._notifier.watchdog_interval_s
        next_ping = self._clock() if watchdog_s else None
        while self._exit_code is None:
            deadlines = [d for d in (s.next_deadline() for s in self._sources) if d is not None]
            if next_ping is not None:
                deadlines.append(next_ping)
            timeout = max(0.0, min(deadlines) - self._clock()) if deadlines else None
            event = self._inbox.get(timeout)
            now = self._clock()
            if event is not None:
                self._dispatch(event, now)
            for source in list(self._sources):
                due = source.next_deadline()
                if due is not None and due <= now:
                    source.on_deadline(now)
            if next_ping is not None and watchdog_s is not None and next_ping <= now:
                # WATCHDOG=1 comes from this thread, so a hung loop gets restarted.
                self._notifier.watchdog()
                next_ping = now + watchdog_s
        return self._exit_code

    def _dispatch(self, event: object, now: float) -> None:
        if isinstance(event, ShutdownRequested):
            self._stop(event.reason, event.exit_code)
        elif isinstance(event, StopRequested):
            if self._stopping or not self._app.begin_stop(event.reason, now):
                self._stop(event.reason, EX_OK)  # a second signal does not wait
            self._stopping = True
        elif isinstance(event, WorkerDied):
            log.error("worker thread %s died: %s; exiting", event.thread, event.error)
            self._stop(f"worker {event.thread} died", EX_SOFTWARE)
        elif isinstance(event, ControlRequest):
            self._answer(event, now)
        elif isinstance(event, WebPageState):
            self._web = event
        else:
            if isinstance(event, TransportUp):
                self._notifier.status(f"connected to CSMS ({event.subprotocol})")
            elif isinstance(event, TransportDown):
                self._notifier.status(f"disconnected from CSMS: {event.reason}")
            try:
                self._app.on_event(event, now)
            finally:
                if isinstance(event, TransportDown):
                    event.taken.set()  # the transport may open the next link now

    def _stop(self, reason: str, exit_code: int) -> None:
        if self._exit_code is None:
            self._reason, self._exit_code = reason, exit_code

    def _answer(self, event: ControlRequest, now: float) -> None:
        if event.reply.done():
            return  # the client gave up waiting
        try:
            if event.request.get("cmd") == "status":
                answer = {
                    "ok": True,
                    **self._app.status(),
                    "queue_depth": self.queue_depth(),
                    "web": None if self._web is None else self._web.as_dict(),
                }
            else:
                answer = {"ok": True, **self._app.command(event.request)}
        except CommandError as exc:
            answer = {"ok": False, "error": str(exc)}
        except Exception as exc:
            _reply(event, {"ok": False, "error": f"internal error: {exc}"})
            raise
        _reply(event, answer)


def _reply(event: ControlRequest, answer: dict[str, Any]) -> None:
    """Complete the request's reply unless its client cancelled it meanwhile (it gave up
    waiting while the answer was made): an answer nobody waits for is dropped."""
    with contextlib.suppress(InvalidStateError):
        event.reply.set_result(answer)
