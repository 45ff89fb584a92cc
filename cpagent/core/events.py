"""What a Session hands out: frames to send, and typed events for the application."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cpagent.core.errors import LocalError, OcppError
from cpagent.core.fastnew import maker
from cpagent.core.frames import CallResultError, Frame


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame to put on the wire, in the order the Session produced it."""

    frame: Frame
    text: str


@dataclass(frozen=True, slots=True)
class CallReceived:
    """The peer sent a CALL; answer it exactly once with Session.answer or answer_error."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SendReceived:
    """The peer sent an OCPP 2.1 SEND; it is never answered."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """Our CALL got its CALLRESULT (payload already schema-checked when validation is on)."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallErrored:
    """Our CALL got a CALLERROR from the peer."""

    message_id: str
    action: str
    error: OcppError


@dataclass(frozen=True, slots=True)
class CallFailed:
    """Our CALL ended without a usable answer: timeout, lost link, send or schema failure."""

    message_id: str
    action: str
    error: LocalError


@dataclass(frozen=True, slots=True)
class CallRejected:
    """An incoming CALL that the core answered itself with ``error`` (bad id, schema failure)."""

    message_id: str
    action: str
    error: OcppError


@dataclass(frozen=True, slots=True)
class UnexpectedResponse:
    """A CALLRESULT or CALLERROR whose id matches no CALL in flight (late, duplicate, or bogus)."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class ResultErrorReceived:
    """OCPP 2.1: the peer could not process a CALLRESULT we sent."""

    frame: CallResultError


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Input that is not a valid frame; ``answered`` is True when a CALLERROR went back."""

    text: str
    reason: str
    answered: bool


new_outgoing = maker(Outgoing)
new_call_received = maker(CallReceived)
new_call_answered = maker(CallAnswered)

Event = (
    CallReceived
    | SendReceived
    | CallAnswered
    | CallErrored
    | CallFailed
    | CallRejected
    | UnexpectedResponse
    | ResultErrorReceived
    | BadFrame
)
