"""TaskManager: the thread-safe, seed-compatible facade that drives one Session."""

# Why a lock here when the Session has none: handlers may answer "later from another thread"
# (the seed's contract), so two threads can touch the Session. The lock guards only Session
# calls; it is never held while calling the sender, a handler, a hook, on_event/on_error or a
# future's callbacks, so an in-process pair (A's sender calling B.received, and back) cannot
# deadlock. One thread at a time "drains": it hands events to handlers/futures and frames to
# the sender, in exactly the order the Session produced them.
#
# Why this module may read the clock and start a thread (the only one in the core): built with
# no clock, as the seed's OCPPTaskManager({sender, callHandlers}) is, the facade must time out
# calls by itself. It then uses time.monotonic and one daemon thread (call_timer.CallTimer)
# that calls tick() at the Session's next deadline; the Session itself stays clock-free. With
# an injected clock the caller drives tick() (tests, or an owner loop that waits on deadlines).

from __future__ import annotations

import contextlib
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cpagent.core import schemas
from cpagent.core.call_timer import CallTimer
from cpagent.core.errors import (
    AlreadyAnswered,
    InternalError,
    NotImplemented_,
    NotSupported,
    OcppError,
    SendFailed,
    error_class,
)
from cpagent.core.events import (
    CallAnswered,
    CallErrored,
    CallFailed,
    CallReceived,
    Event,
    Outgoing,
    SendReceived,
)
from cpagent.core.frames import Call, CallResult, Send
from cpagent.core.session import Session
from cpagent.core.version import Version


class Stage(StrEnum):
    """Points where before/after hooks run (the seed's stages)."""

    MESSAGE_RECEIVED = "message_received"  # subject: the received text
    CALL_SENT = "call_sent"  # subject: Outgoing (a CALL, or a 2.1 SEND)
    RESULT_SENT = "result_sent"  # subject: Outgoing (a CALLRESULT)
    ERROR_SENT = "error_sent"  # subject: Outgoing (a CALLERROR or 2.1 CALLRESULTERROR)
    HANDLER_RUN = "handler_run"  # subject: the CallReceived event


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of ``send_call``: ok with the CALLRESULT payload, or the peer's CALLERROR.

    For a CALLERROR, ``payload`` is ``{"code", "description", "details"}`` (the seed's
    ``errorCode``, ``errorDescription``, ``errorDetails``) and ``error`` the typed exception.
    Local failures (timeout, lost link, sender failure) raise from the future.
    """

    ok: bool
    payload: dict[str, Any]
    error: OcppError | None = None


DEFAULT_CALL_TIMEOUT_S = 30.0
"""A CALL not answered in this time fails with CallTimeout (OCPP-J 1.6 §4.1.1 leaves it open)."""
CATCH_ALL = "*"
"""The seed's catch-all handler key: serves every action without its own handler."""

Hook = Callable[[Stage, object], None]
CallHandler = Callable[[dict[str, Any], "Responder"], object]
SendHandler = Callable[[dict[str, Any]], object]


class Responder:
    """Answers one incoming CALL exactly once, from any thread."""

    __slots__ = ("_manager", "message_id", "action", "answered")

    def __init__(self, manager: TaskManager, message_id: str, action: str) -> None:
        self._manager = manager
        self.message_id = message_id
        self.action = action
        self.answered = False

    def call_result(self, payload: dict[str, Any]) -> None:
        """Send the CALLRESULT. Raises AlreadyAnswered, or InvalidPayload (nothing sent)."""
        self._manager._answer(self, payload, None)

    def call_error(
        self,
        code: str | type[OcppError] | OcppError,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Send a CALLERROR; ``code`` must exist in the connection's version (else ValueError)."""
        self._manager._answer(self, None, (code, description, details))


class TaskManager:
    """OCPP-J task manager for a chargepoint or a central system (ocpp-task-manager, done right)."""

    def __init__(
        self,
        sender: Callable[[str, Version], object],
        call_handlers: Mapping[str, CallHandler] | None = None,
        *,
        clock: Callable[[], float] | None = None,
        new_id: Callable[[], str] | None = None,
        send_handlers: Mapping[str, SendHandler] | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
        validate: bool = True,
        unvalidated_actions: Iterable[str] = (),
        on_event: Callable[[Event], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        timer: bool | None = None,
    ) -> None:
        """Defaults make the seed's ``OCPPTaskManager({sender, callHandlers})``: clock
        ``time.monotonic``, ids ``str(uuid.uuid4())``, and (``timer=None`` without a clock)
        a timer thread that fires call timeouts by itself. Pass ``clock`` to drive ``tick()``
        yourself; ``timer=True`` keeps the thread even then."""
        self._sender = sender
        self._handlers = dict(call_handlers or {})
        self._send_handlers = dict(send_handlers or {})
        self._clock = clock if clock is not None else time.monotonic
        self._new_id = new_id if new_id is not None else _uuid4
        self._on_event = on_event
        self._on_error = on_error
        self._session = Session(
            None,
            call_timeout=call_timeout,
            validate=validate,
            unvalidated_actions=unvalidated_actions,
        )
        self._lock = threading.Lock()
        self._draining = False
        self._futures: dict[str, Future[Outcome]] = {}
        self._before: dict[Stage, list[Hook]] = {stage: [] for stage in Stage}
        self._after: dict[Stage, list[Hook]] = {stage: [] for stage in Stage}
        self.hooks = _Hooks(self)
        """The seed's ``device.hooks.before/after(stage, fn)``; same as ``before``/``after``."""
        self._timer: CallTimer | None = None
        if timer or (timer is None and clock is None):
            self._timer = CallTimer(weakref.ref(self), self._clock)
            weakref.finalize(self, self._timer.stop)  # the thread ends with the manager

    # -- the seed's API -----------------------------------------------------------------
    def connected(self, version: str) -> None:
        """The transport is up with ``version`` (the negotiated subprotocol); queued calls go."""
        with self._lock:
            self._session.connected(self._clock(), version)
        self._drain()

    def disconnected(self) -> None:
        """The transport is down: the in-flight call fails with ConnectionLost."""
        with self._lock:
            self._session.disconnected(self._clock())
        self._drain()

    def received(self, text: str) -> None:
        """Feed one received text frame; bad input is answered, never raised."""
        self._hooks(self._before, Stage.MESSAGE_RECEIVED, text)
        with self._lock:
            self._session.receive(text, self._clock())
        self._hooks(self._after, Stage.MESSAGE_RECEIVED, text)
        self._drain()

    def send_call(self, action: str, payload: dict[str, Any] | None = None) -> Future[Outcome]:
        """Queue a CALL (payload None: ``{}``); the future resolves to an Outcome or raises a
        LocalError (CallTimeout, ConnectionLost, SendFailed, InvalidPayload, InvalidResponse)."""
        future: Future[Outcome] = Future()
        message_id = self._new_id()
        with self._lock:
            self._futures[message_id] = future
            try:
                self._session.call(
                    message_id, action, {} if payload is None else payload, self._clock()
                )
            except BaseException:
                del self._futures[message_id]
                raise
        self._drain()
        return future

    def send_message(self, action: str, payload: dict[str, Any]) -> None:
        """Send an OCPP 2.1 SEND (never answered); raises NotConnected when offline."""
        with self._lock:
            self._session.send(self._new_id(), action, payload, self._clock())
        self._drain()

    def close(self) -> None:
        """Stop the timer thread (if any); the manager stays usable with ``tick()`` by hand."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.stop()

    def tick(self) -> None:
        """Fire a due call timeout; the timer thread or a driver calls it at ``next_deadline()``."""
        with self._lock:
            self._session.tick(self._clock())
        self._drain()

    def next_deadline(self) -> float | None:
        """Clock time at which ``tick`` must run next, or None."""
        with self._lock:
            return self._session.next_deadline()

    def before(self, stage: Stage, fn: Hook) -> None:
        """Run ``fn(stage, subject)`` before every ``stage``."""
        self._before[Stage(stage)].append(fn)

    def after(self, stage: Stage, fn: Hook) -> None:
        """Run ``fn(stage, subject)`` after every ``stage``."""
        self._after[Stage(stage)].append(fn)

    # -- internals ----------------------------------------------------------------------
    def _answer(
        self,
        responder: Responder,
        payload: dict[str, Any] | None,
        error: tuple[str | type[OcppError] | OcppError, str, dict[str, Any] | None] | None,
    ) -> None:
        with self._lock:
            if responder.answered:
                raise AlreadyAnswered(
                    f"{responder.action} CALL {responder.message_id!r} was already answered"
                )
            now = self._clock()
            if error is None:
                self._session.answer(responder.message_id, payload, now)  # type: ignore[arg-type]
            else:
                err = _to_error(error, self._session.version)
                self._session.answer_error(responder.message_id, err, now)
            responder.answered = True
        self._drain()

    def _drain(self) -> None:
        with self._lock:
            if self._draining:
                return  # the thread already draining will pick our frames and events up
            self._draining = True
        try:
            while True:
                with self._lock:
                    events = self._session.drain_events()
                    frames = self._session.drain_frames()
                    if not events and not frames:
                        self._draining = False
                        if self._timer is not None:
                            # under the lock, so timers learn deadlines in the order they
                            # were set (a stale one from a slower thread can't overwrite)
                            self._timer.schedule(self._session.next_deadline())
                        return
                for event in events:
                    self._dispatch(event)
                for out in frames:
                    self._send(out)
        except BaseException:
            with self._lock:
                self._draining = False
            raise

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, CallReceived):
            self._run_handler(event)
        elif isinstance(event, CallAnswered):
            self._resolve(event.message_id, Outcome(True, event.payload))
        elif isinstance(event, CallErrored):
            err = event.error
            body = {"code": err.code, "description": err.description, "details": err.details}
            self._resolve(event.message_id, Outcome(False, body, err))
        elif isinstance(event, CallFailed):
            self._resolve(event.message_id, event.error)
        elif isinstance(event, SendReceived):
            handler = self._send_handlers.get(event.action)
            if handler is not None:
                self._guard(handler, event.payload)
        if self._on_event is not None:
            self._guard(self._on_event, event)

    def _run_handler(self, event: CallReceived) -> None:
        handler = self._handlers.get(event.action) or self._handlers.get(CATCH_ALL)
        responder = Responder(self, event.message_id, event.action)
        if handler is None:
            version = self._session.version or Version.OCPP16
            # OCPP-J 1.6 §4.2.3: NotImplemented = action unknown, NotSupported = known, not served
            known = event.action in schemas.actions(version)
            err = NotSupported if known else NotImplemented_
            self._guard(responder.call_error, err(f"{event.action} is not handled"))
            return
        self._hooks(self._before, Stage.HANDLER_RUN, event)
        try:
            handler(event.payload, responder)
        except Exception as exc:  # a peer must never crash us through a handler
            self._report(exc)
            if not responder.answered:
                # no exception text on the wire: it may hold local secrets or paths
                self._guard(responder.call_error, InternalError("handler failed"))
        self._hooks(self._after, Stage.HANDLER_RUN, event)

    def _resolve(self, message_id: str, result: Outcome | BaseException) -> None:
        future = self._futures.pop(message_id, None)
        if future is None:
            return
        try:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        except InvalidStateError:  # the caller cancelled it; the call itself still ran
            pass

    def _send(self, out: Outgoing) -> None:
        frame = out.frame
        kind = type(frame)
        if kind is Call or kind is Send:
            stage = Stage.CALL_SENT
        elif kind is CallResult:
            stage = Stage.RESULT_SENT
        else:
            stage = Stage.ERROR_SENT
        self._hooks(self._before, stage, out)
        failure: SendFailed | None = None
        try:
            if self._sender(out.text, self._session.version) is False:  # type: ignore[arg-type]
                failure = SendFailed("sender returned False (not connected)")
        except Exception as exc:
            failure = SendFailed(f"sender raised {type(exc).__name__}")
            failure.__cause__ = exc
        if failure is not None:
            if kind is Call:  # no retry: the call fails and the queue moves on
                with self._lock:
                    self._session.fail_call(frame.message_id, failure, self._clock())
            else:
                self._report(failure)
        self._hooks(self._after, stage, out)

    def _hooks(self, table: dict[Stage, list[Hook]], stage: Stage, subject: object) -> None:
        for fn in table[stage]:
            self._guard(fn, stage, subject)

    def _guard(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self._report(exc)

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            # an error reporter that fails has nowhere left to report
            with contextlib.suppress(Exception):
                self._on_error(exc)


def _to_error(
    error: tuple[str | type[OcppError] | OcppError, str, dict[str, Any] | None],
    version: Version | None,
) -> OcppError:
    code, description, details = error
    if isinstance(code, OcppError):
        return code
    if isinstance(code, type) and issubclass(code, OcppError):
        return code(description, details)
    return error_class(code, version or "")(description, details)


def _uuid4() -> str:
    return str(uuid.uuid4())  # 36 characters: the OCPP-J maximum for a message id


class _Hooks:
    """``tm.hooks.before(stage, fn)`` / ``tm.hooks.after(stage, fn)``, as in the seed."""

    __slots__ = ("before", "after")

    def __init__(self, manager: TaskManager) -> None:
        self.before = manager.before
        self.after = manager.after
