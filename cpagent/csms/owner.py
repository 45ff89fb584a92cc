"""The bench CSMS's owner thread: every core Session, the state and all answers live here.

Theory of operation: connection threads and API callers only put frozen events on the
inbox; this one thread takes them off, feeds each link's core `Session` (one per WebSocket
connection) with text and the monotonic time, sends what the session hands out, answers
incoming CALLs from `CentralHandlers`, and resolves callers' futures when their CALL is
answered. It waits on the inbox until the earliest session deadline, so call timeouts fire
without a timer thread. Nothing it owns is touched by another thread, so there are no locks
around protocol state (DESIGN.md, "One owner thread").
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from cpagent.core.errors import (
    CallTimeout,
    InternalError,
    InvalidPayload,
    LocalError,
    NotImplemented_,
)
from cpagent.core.events import CallAnswered, CallErrored, CallFailed, CallReceived
from cpagent.core.session import Session
from cpagent.core.version import Version
from cpagent.csms.errors import BadCall, CallErrorReceived, CallTimedOut, NotConnected
from cpagent.csms.handlers import CentralHandlers, Handler
from cpagent.csms.state import CsmsState, Direction, FrameRecord, JsonObject

FrameObserver = Callable[[FrameRecord], None]

log = logging.getLogger(__name__)


class Sender(Protocol):
    """The one thing the owner needs from a WebSocket connection."""

    def send(self, message: str, /) -> None: ...

    def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class LinkOpened:
    """A chargepoint completed the WebSocket handshake."""

    link_id: int
    cp_id: str
    subprotocol: str
    remote_address: str | None
    connection: Sender


@dataclass(frozen=True, slots=True)
class FrameIn:
    """A text frame arrived on link `link_id`."""

    link_id: int
    text: str


@dataclass(frozen=True, slots=True)
class LinkClosed:
    """Link `link_id` ended (either side closed, or the network failed)."""

    link_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class SendCall:
    """An API caller wants `action` sent to `cp_id`; the answer goes to `future`."""

    cp_id: str
    action: str
    payload: JsonObject
    future: Future[JsonObject]


@dataclass(frozen=True, slots=True)
class Query:
    """An API caller wants a JSON view of the state."""

    cp_id: str | None
    frame_limit: int
    future: Future[JsonObject]


@dataclass(frozen=True, slots=True)
class Stop:
    """End the owner loop; pending callers get CallTimedOut."""


@dataclass(slots=True)
class _Link:
    id: int
    cp_id: str
    connection: Sender
    session: Session
    pending: dict[str, Future[JsonObject]] = field(default_factory=dict)


_link_ids = itertools.count(1)


def next_link_id() -> int:
    """A process-unique id for a new connection (itertools.count is atomic under the GIL)."""
    return next(_link_ids)


class CentralOwner:
    """The owner loop and its inbox; see the module docstring."""

    def __init__(
        self,
        handlers: CentralHandlers,
        state: CsmsState,
        *,
        clock: Callable[[], float],
        wall: Callable[[], float],
        call_timeout: float,
        observer: FrameObserver | None = None,
    ) -> None:
        self.inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.changed = threading.Condition()
        self.generation = 0  # bumped under `changed` after every event that may change state
        self._table: dict[str, Handler] = handlers.table()
        self._state = state
        self._clock = clock
        self._wall = wall
        self._call_timeout = call_timeout
        self._observer = observer
        self._links: dict[int, _Link] = {}
        self._current: dict[str, int] = {}  # chargepoint id -> its newest link

    def run(self) -> None:
        """Serve the inbox until a `Stop` event."""
        while True:
            try:
                event = self.inbox.get(timeout=self._wait_s())
            except queue.Empty:
                event = None
            now = self._clock()
            if isinstance(event, Stop):
                break
            try:
                if event is not None:
                    self._dispatch(event, now)
                for link in list(self._links.values()):
                    link.session.tick(now)
                    self._flush(link, now)
            except Exception:  # a bug must not silently kill the one thread everything needs
                log.exception("csms: owner thread failed on %r", event)
            if not isinstance(event, Query):
                with self.changed:
                    self.generation += 1
                    self.changed.notify_all()
        self._shut(self._clock())

    def _wait_s(self) -> float | None:
        deadlines = [d for link in self._links.values() if (d := link.session.next_deadline())]
        return None if not deadlines else max(0.0, min(deadlines) - self._clock())

    def _dispatch(self, event: object, now: float) -> None:
        if isinstance(event, FrameIn):
            self._frame_in(event, now)
        elif isinstance(event, LinkOpened):
            self._opened(event, now)
        elif isinstance(event, LinkClosed):
            self._closed(event.link_id, now)
        elif isinstance(event, SendCall):
            self._send_call(event, now)
        elif isinstance(event, Query):
            event.future.set_result(self._state.to_json(event.cp_id, event.frame_limit))

    def _opened(self, event: LinkOpened, now: float) -> None:
        session = Session(Version.OCPP16, call_timeout=self._call_timeout)
        session.connected(now, event.subprotocol)
        link = _Link(event.link_id, event.cp_id, event.connection, session)
        older = self._current.get(event.cp_id)
        self._links[link.id] = link
        self._current[event.cp_id] = link.id
        self._state.connected(event.cp_id, event.subprotocol, event.remote_address, self._wall())
        if older is not None:
            # A chargepoint that reconnects before its old socket died: the newest link wins.
            self._drop(older, now, "replaced by a newer connection", close_socket=True)

    def _closed(self, link_id: int, now: float) -> None:
        link = self._links.get(link_id)
        if link is None:
            return
        self._drop(link_id, now, "connection closed")
        if self._current.get(link.cp_id) is None:
            self._state.disconnected(link.cp_id, self._wall())

    def _drop(self, link_id: int, now: float, why: str, close_socket: bool = False) -> None:
        link = self._links.pop(link_id)
        if self._current.get(link.cp_id) == link_id:
            del self._current[link.cp_id]
        link.session.disconnected(now)
        self._flush(link, now)
        for future in link.pending.values():
            future.set_exception(CallTimedOut(f"{link.cp_id}: {why} before an answer"))
        link.pending.clear()
        if close_socket:  # close() waits for the peer's close frame: not on the owner thread
            threading.Thread(target=link.connection.close, args=(1000, why), daemon=True).start()

    def _frame_in(self, event: FrameIn, now: float) -> None:
        link = self._links.get(event.link_id)
        if link is None:
            return
        self._log(link.cp_id, Direction.RECEIVED, event.text)
        link.session.receive(event.text, now)
        self._flush(link, now)

    def _send_call(self, event: SendCall, now: float) -> None:
        link_id = self._current.get(event.cp_id)
        if link_id is None:
            event.future.set_exception(NotConnected(event.cp_id))
            return
        link = self._links[link_id]
        message_id = str(uuid.uuid4())
        try:
            link.session.call(message_id, event.action, event.payload, now)
        except (LocalError, ValueError, TypeError) as exc:
            event.future.set_exception(BadCall(f"{event.action}: {exc}"))
            return
        link.pending[message_id] = event.future
        self._flush(link, now)

    def _flush(self, link: _Link, now: float) -> None:
        """Send what the session handed out and act on its events, until it has nothing left."""
        while True:
            frames, events = link.session.drain_frames(), link.session.drain_events()
            if not frames and not events:
                return
            for outgoing in frames:
                self._send_text(link, outgoing.text)
            for event in events:
                self._on_session_event(link, event, now)

    def _send_text(self, link: _Link, text: str) -> None:
        self._log(link.cp_id, Direction.SENT, text)
        # A dead socket raises here; its connection thread reports LinkClosed.
        with contextlib.suppress(Exception):
            link.connection.send(text)

    def _on_session_event(self, link: _Link, event: object, now: float) -> None:
        if isinstance(event, CallReceived):
            self._answer(link, event, now)
            return
        if not isinstance(event, CallAnswered | CallErrored | CallFailed):
            return  # BadFrame, CallRejected, UnexpectedResponse: the frame log shows them
        future = link.pending.pop(event.message_id, None)
        if future is None:
            return
        if isinstance(event, CallAnswered):
            future.set_result(event.payload)
        elif isinstance(event, CallErrored):
            error = event.error
            future.set_exception(CallErrorReceived(error.code, error.description, error.details))
        elif isinstance(event.error, CallTimeout):
            future.set_exception(CallTimedOut(f"{link.cp_id}: no answer to {event.action}"))
        elif isinstance(event.error, InvalidPayload):
            future.set_exception(BadCall(f"{event.action}: {event.error}"))
        else:
            future.set_exception(CallTimedOut(f"{link.cp_id}: {event.action}: {event.error}"))

    def _answer(self, link: _Link, event: CallReceived, now: float) -> None:
        handler = self._table.get(event.action)
        if handler is None:
            link.session.answer_error(event.message_id, NotImplemented_(event.action), now)
            return
        try:
            link.session.answer(
                event.message_id, handler(link.cp_id, event.payload, self._wall()), now
            )
        except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the CSMS
            link.session.answer_error(event.message_id, InternalError(type(exc).__name__), now)

    def _log(self, cp_id: str, direction: Direction, text: str) -> None:
        at = self._wall()
        self._state.log_frame(cp_id, direction, text, at)
        if self._observer is not None:
            self._observer(FrameRecord(at, cp_id, direction, text))

    def _shut(self, now: float) -> None:
        for link_id in list(self._links):
            self._drop(link_id, now, "central system stopped")
        while True:
            try:
                event = self.inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, SendCall | Query):
                event.future.set_exception(CallTimedOut("central system stopped"))


def resolve(future: Future[Any], timeout: float) -> Any:
    """Wait for an owner answer; a wait past `timeout` is a CallTimedOut."""
    try:
        return future.result(timeout)
    except TimeoutError:
        raise CallTimedOut("no answer from the central system in time") from None
