"""The OCPP-J session state machine: text and time in; frames, events and a deadline out."""

# Theory of operation
# -------------------
# A Session belongs to ONE owner thread and holds no locks and no clock: every input carries
# ``now`` (monotonic seconds) and outgoing message ids come from the caller.
#
# Outgoing CALLs: OCPP-J 1.6 §4.1.1 / 2.0.1 §4.1.1 allow one CALL in flight per direction, so
# ``call()`` only queues. ``_pump`` moves the queue head in flight whenever the session is
# connected and nothing is in flight; the in-flight call is registered *before* its frame is
# handed out, so an answer can never arrive "too early". The in-flight call ends by exactly one of
#   CALLRESULT -> CallAnswered | CALLERROR -> CallErrored |
#   timeout / disconnect / fail_call / invalid result -> CallFailed
# and the queue moves on. The connection state is a table, _TRANSITIONS below the imports.
#
# Incoming CALLs are remembered by id until answered; a reused id while in progress, a bad id
# or a payload failing its schema is answered by the session itself (CallRejected). Answers
# for calls received before a disconnect are dropped: they belong to a connection that is gone.

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from cpagent.core import schemas
from cpagent.core.errors import (
    CallTimeout,
    ConnectionLost,
    DuplicateMessageId,
    InvalidPayload,
    InvalidResponse,
    LocalError,
    NotConnected,
    OcppError,
    ProtocolError,
    UnknownMessageId,
    UnsupportedVersion,
    error_from_wire,
    format_error,
    rpc_error,
)
from cpagent.core.events import (
    BadFrame,
    CallErrored,
    CallFailed,
    CallRejected,
    Event,
    Outgoing,
    ResultErrorReceived,
    SendReceived,
    UnexpectedResponse,
    new_call_answered,
    new_call_received,
    new_outgoing,
)
from cpagent.core.frames import (
    MAX_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    CallResultError,
    FrameError,
    Send,
    decode,
    encode,
    new_call,
    new_result,
)
from cpagent.core.version import Version, parse_version

# (connection state, trigger) -> next state
_TRANSITIONS = {
    ("down", "connected"): "up",
    ("up", "disconnected"): "down",
    ("down", "disconnected"): "down",  # idempotent: transports may report a loss twice
}

_REQ = schemas.REQUEST
_RESP = schemas.RESPONSE
_check = schemas.check_payload


class Session:
    """One OCPP-J connection's protocol state, for a chargepoint or a central system alike."""

    def __init__(
        self,
        version: Version | str | None,
        *,
        call_timeout: float = 30.0,
        validate: bool = True,
        unvalidated_actions: Iterable[str] = (),
    ) -> None:
        if call_timeout <= 0:
            raise ValueError(f"call_timeout must be > 0, got {call_timeout!r}")
        self._version: Version | None = None if version is None else parse_version(version)
        self._state = "down"
        self._timeout = call_timeout
        self._validate = validate
        self._unvalidated = frozenset(unvalidated_actions)
        self._queue: deque[tuple[Call, str]] = deque()
        self._queued_ids: set[str] = set()
        self._inflight: Call | None = None
        self._deadline: float | None = None
        self._incoming: dict[str, str] = {}
        self._orphans: set[str] = set()
        self._out: list[Outgoing] = []
        self._events: list[Event] = []

    # -- state --------------------------------------------------------------------------
    @property
    def version(self) -> Version | None:
        """The version in use (None until the first ``connected`` when built without one)."""
        return self._version

    @property
    def is_connected(self) -> bool:
        """True between ``connected`` and ``disconnected``."""
        return self._state == "up"

    def next_deadline(self) -> float | None:
        """When ``tick`` must be called next (the in-flight CALL's timeout), or None."""
        return self._deadline

    def drain_frames(self) -> list[Outgoing]:
        """Take the frames to send, oldest first."""
        out, self._out = self._out, []
        return out

    def drain_events(self) -> list[Event]:
        """Take the events produced so far, oldest first."""
        events, self._events = self._events, []
        return events

    # -- connection ---------------------------------------------------------------------
    def connected(self, now: float, version: Version | str | None = None) -> None:
        """The link is up (with ``version`` as negotiated subprotocol); queued CALLs go out."""
        if version is not None:
            new = parse_version(version)
            if self._state == "up" and new != self._version:
                raise LocalError(f"cannot switch version to {new} while connected")
            self._version = new
        if self._version is None:
            raise UnsupportedVersion("no OCPP version: pass the negotiated subprotocol")
        self._move("connected")
        self._pump(now)

    def disconnected(self, now: float) -> None:
        """The link is down: the in-flight CALL fails (ConnectionLost); queued CALLs are held."""
        self._move("disconnected")
        self._out.clear()
        self._orphans.update(self._incoming)
        self._incoming.clear()
        if self._inflight is not None:
            self._finish(
                CallFailed(
                    self._inflight.message_id,
                    self._inflight.action,
                    ConnectionLost("connection lost with the CALL in flight"),
                )
            )

    def _move(self, trigger: str) -> None:
        nxt = _TRANSITIONS.get((self._state, trigger))
        if nxt is None:
            raise LocalError(f"illegal transition: {trigger!r} in state {self._state!r}")
        self._state = nxt

    # -- outgoing -----------------------------------------------------------------------
    def call(self, message_id: str, action: str, payload: dict[str, Any], now: float) -> None:
        """Queue a CALL; it goes out when connected and nothing else is in flight."""
        if type(message_id) is not str or not 0 < len(message_id) <= MAX_ID_LENGTH:
            raise ValueError(f"message id must be a 1..36 character string, got {message_id!r}")
        if type(action) is not str or not action:
            raise ValueError(f"action must be a non-empty string, got {action!r}")
        if type(payload) is not dict:
            raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
        inflight = self._inflight
        if message_id in self._queued_ids or (inflight and inflight.message_id == message_id):
            raise DuplicateMessageId(f"message id {message_id!r} is already pending")
        frame = new_call(message_id, action, payload)
        try:
            text = encode(frame)
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"{action} payload is not JSON: {exc}", None) from None
        self._queue.append((frame, text))
        self._queued_ids.add(message_id)
        self._expire(now)
        self._pump(now)

    def send(self, message_id: str, action: str, payload: dict[str, Any], now: float) -> None:
        """Send an OCPP 2.1 SEND (unconfirmed; OCPP-J 2.1 §4.2.5). Needs a live connection."""
        if self._version != Version.OCPP21:
            raise LocalError(f"SEND exists only in OCPP 2.1, not {self._version}")
        if self._state != "up":
            raise NotConnected("SEND needs a connection")
        self._expire(now)
        frame = Send(message_id, action, payload)
        self._emit(frame, self._checked(action, _REQ, payload))

    def answer(self, message_id: str, payload: dict[str, Any], now: float) -> None:
        """Answer an incoming CALL with a CALLRESULT."""
        action = self._awaiting(message_id)
        if action is None:
            return
        frame = new_result(message_id, payload)
        self._emit(frame, self._checked(action, _RESP, payload))
        del self._incoming[message_id]
        self._expire(now)

    def answer_error(self, message_id: str, error: OcppError, now: float) -> None:
        """Answer an incoming CALL with a CALLERROR; the code must exist in this version."""
        version = self._version
        if not isinstance(error, OcppError) or version not in type(error).versions:
            raise ValueError(f"{error!r} is not an OCPP error code of {version}")
        if self._awaiting(message_id) is None:
            return
        frame = CallError(message_id, error.code, error.description, error.details)
        self._emit(frame, None)
        del self._incoming[message_id]
        self._expire(now)

    def fail_call(self, message_id: str, error: LocalError, now: float) -> bool:
        """End the in-flight CALL locally (e.g. the sender failed); False if it is not in flight."""
        inflight = self._inflight
        if inflight is None or inflight.message_id != message_id:
            return False
        self._finish(CallFailed(message_id, inflight.action, error))
        self._pump(now)
        return True

    def tick(self, now: float) -> None:
        """Fire the call timeout if it is due."""
        self._expire(now)

    # -- incoming -----------------------------------------------------------------------
    def receive(self, text: str, now: float) -> None:
        """Process one received text frame; bad input becomes an answer or event, never a raise."""
        if self._state != "up":
            raise NotConnected("receive() while disconnected")
        self._expire(now)
        version: str = self._version  # type: ignore[assignment]  # always set when up
        try:
            frame = decode(text, version)
        except FrameError as exc:
            self._bad_frame(text, exc, now)
            return
        kind = type(frame)
        if kind is Call:
            self._on_call(frame, version)  # type: ignore[arg-type]
        elif kind is CallResult:
            self._on_result(frame, version, now)  # type: ignore[arg-type]
        elif kind is CallError:
            self._on_error(frame, version, now)  # type: ignore[arg-type]
        elif kind is Send:
            self._on_send(frame, version, text)  # type: ignore[arg-type]
        else:
            self._events.append(ResultErrorReceived(frame))  # type: ignore[arg-type]

    def _on_error(self, frame: CallError, version: str, now: float) -> None:
        inflight = self._inflight
        if inflight is None or inflight.message_id != frame.message_id:
            self._events.append(UnexpectedResponse(frame))
            return
        err = error_from_wire(frame.code, frame.description, frame.details, version)
        self._finish(CallErrored(frame.message_id, inflight.action, err))
        self._pump(now)

    def _on_send(self, frame: Send, version: str, text: str) -> None:
        err = self._incoming_error(frame.action, frame.payload, version)
        if err is None:
            self._events.append(SendReceived(frame.message_id, frame.action, frame.payload))
        else:  # a SEND is never answered, not even with an error (OCPP-J 2.1 §4.2.5)
            self._events.append(BadFrame(text, f"SEND {err.code}: {err.description}", False))

    def _on_call(self, frame: Call, version: str) -> None:
        mid = frame.message_id
        if mid in self._incoming:
            # OCPP-J 1.6 §4.1.4 / 2.0.1 §4.1.4: ids are unique while a CALL is in progress.
            err: OcppError | None = (
                ProtocolError("message id reused while in progress")
                if version == "ocpp1.6"
                else rpc_error(version, "message id reused while in progress")
            )
        else:
            err = self._incoming_error(frame.action, frame.payload, version)
        if err is None:
            self._incoming[mid] = frame.action
            self._events.append(new_call_received(mid, frame.action, frame.payload))
            return
        self._reply_error(mid, err)
        self._events.append(CallRejected(mid, frame.action, err))

    def _on_result(self, frame: CallResult, version: str, now: float) -> None:
        inflight = self._inflight
        if inflight is None or inflight.message_id != frame.message_id:
            self._events.append(UnexpectedResponse(frame))
            return
        err = self._incoming_error(inflight.action, frame.payload, version, _RESP)
        if err is None:
            self._finish(new_call_answered(frame.message_id, inflight.action, frame.payload))
        else:
            self._reject_result(inflight, err, version)
        self._pump(now)

    def _reject_result(
        self, inflight: Call, err: OcppError, version: str, tell: bool = True
    ) -> None:
        if tell and version == Version.OCPP21:  # OCPP-J 2.1 §4.2.4: tell the peer
            rerr = CallResultError(inflight.message_id, err.code, err.description, err.details)
            self._out.append(Outgoing(rerr, encode(rerr)))
        self._finish(
            CallFailed(
                inflight.message_id,
                inflight.action,
                InvalidResponse(f"{inflight.action} result rejected: {err}", err),
            )
        )

    def _bad_frame(self, text: str, exc: FrameError, now: float) -> None:
        mid, mtype, err = exc.message_id, exc.message_type, exc.error
        inflight = self._inflight
        if mtype in (3, 4) and inflight is not None and inflight.message_id == mid:
            # A malformed answer to our CALL ends it now rather than at the timeout.
            version = self._version or ""
            self._reject_result(inflight, format_error(version, exc.reason), version, mtype == 3)
            self._pump(now)
        answered = err is not None and mid is not None and mtype not in (3, 4, 5, 6)
        if answered:
            self._reply_error(mid, err)  # type: ignore[arg-type]
        self._events.append(BadFrame(text, exc.reason, answered))

    # -- helpers ------------------------------------------------------------------------
    def _incoming_error(
        self,
        action: str,
        payload: dict[str, Any],
        version: str,
        direction: str = _REQ,
        incoming: bool = True,
    ) -> OcppError | None:
        """The schema error of a payload; ``incoming``: the peer's (lenient date-times)."""
        if not self._validate or action in self._unvalidated:
            return None
        return _check(version, action, direction, payload, incoming)

    def _checked(self, action: str, direction: str, payload: dict[str, Any]) -> OcppError | None:
        if type(payload) is not dict:
            raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
        return self._incoming_error(action, payload, self._version or "", direction, False)

    def _emit(self, frame: Send | CallResult | CallError, err: OcppError | None) -> None:
        if err is not None:
            raise InvalidPayload(f"payload fails its schema: {err.code} {err.description}", err)
        try:
            text = encode(frame)
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"payload is not JSON: {exc}", None) from None
        self._out.append(new_outgoing(frame, text))

    def _reply_error(self, message_id: str, err: OcppError) -> None:
        frame = CallError(message_id, err.code, err.description, {})
        self._out.append(Outgoing(frame, encode(frame)))

    def _awaiting(self, message_id: str) -> str | None:
        action = self._incoming.get(message_id)
        if action is not None:
            return action
        if message_id in self._orphans:  # answer for a connection that is gone: drop it
            self._orphans.discard(message_id)
            return None
        raise UnknownMessageId(
            f"no incoming CALL {message_id!r} awaits an answer (already answered or never received)"
        )

    def _finish(self, event: Event) -> None:
        self._inflight = None
        self._deadline = None
        self._events.append(event)

    def _expire(self, now: float) -> None:
        deadline = self._deadline
        if deadline is not None and now >= deadline:
            call = self._inflight
            assert call is not None
            timeout = CallTimeout(f"{call.action} not answered in {self._timeout} s")
            self._finish(CallFailed(call.message_id, call.action, timeout))
            self._pump(now)

    def _pump(self, now: float) -> None:
        queue = self._queue
        while self._state == "up" and self._inflight is None and queue:
            call, text = queue.popleft()
            self._queued_ids.discard(call.message_id)
            err = self._incoming_error(call.action, call.payload, self._version or "", _REQ, False)
            if err is not None:
                self._events.append(
                    CallFailed(
                        call.message_id,
                        call.action,
                        InvalidPayload(
                            f"{call.action} payload fails its schema: {err.code} {err.description}",
                            err,
                        ),
                    )
                )
                continue
            self._inflight = call
            self._deadline = now + self._timeout
            self._out.append(new_outgoing(call, text))
