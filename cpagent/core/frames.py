"""OCPP-J framing: the five message types as frozen dataclasses, compact encode, strict decode."""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn

from cpagent.core.errors import (
    MessageTypeNotSupported,
    OcppError,
    PropertyConstraintViolation,
    format_error,
    rpc_error,
)
from cpagent.core.fastnew import maker

MAX_ID_LENGTH = 36  # OCPP-J 1.6 §4.1.4, OCPP-J 2.0.1 §4.1.4: message id is at most 36 characters
_V21 = "ocpp2.1"


class MessageType(IntEnum):
    """Message Type Numbers (OCPP-J 1.6 §4.1.3, OCPP-J 2.1 §4.1.3)."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # OCPP 2.1 only
    SEND = 6  # OCPP 2.1 only


@dataclass(frozen=True, slots=True)
class Call:
    """``[2, messageId, action, payload]``: a request that gets exactly one answer."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    """``[3, messageId, payload]``: the successful answer to a CALL."""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    """``[4, messageId, errorCode, errorDescription, errorDetails]``: the failed answer."""

    message_id: str
    code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResultError:
    """OCPP 2.1 ``[5, ...]``: a CALLRESULT could not be processed (OCPP-J 2.1 §4.2.4)."""

    message_id: str
    code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Send:
    """OCPP 2.1 ``[6, messageId, action, payload]``: never answered (OCPP-J 2.1 §4.2.5)."""

    message_id: str
    action: str
    payload: dict[str, Any]


Frame = Call | CallResult | CallError | CallResultError | Send


new_call = maker(Call)
new_result = maker(CallResult)


class FrameError(Exception):
    """Input that is not a valid frame of the version.

    ``message_id`` and ``message_type`` are set when they could be read; ``error`` is the
    OCPP error that answers it (None where the spec says to ignore the message).
    """

    def __init__(
        self,
        reason: str,
        message_id: str | None = None,
        message_type: int | None = None,
        error: OcppError | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id
        self.message_type = message_type
        self.error = error


def _no_default(obj: object) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# Hot path: compact separators, UTF-8 kept (ensure_ascii=False), NaN/Infinity refused. The C
# encoder and scanner are built once here; json.dumps/json.loads rebuild them on every call.
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_ascii_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
_make = json.encoder.c_make_encoder  # type: ignore[attr-defined]  # None without the C module
_c_encode = (
    None
    if _make is None
    else _make(
        None, _no_default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
)


def _dumps(obj: list[Any]) -> str:
    try:
        if _c_encode is None:  # pragma: no cover - pure-Python json fallback
            text: str = _encoder.encode(obj)
        else:
            text = "".join(_c_encode(obj, 0))
    except RecursionError:
        raise ValueError("payload is nested too deeply or circular") from None
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (e.g. an id the peer sent as "\ud800") has no UTF-8 form: escape
        # everything as ASCII so the frame can still go out on a UTF-8 text channel.
        return _ascii_encoder.encode(obj)
    return text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _OutOfRange(ValueError):
    """A number literal beyond float range (e.g. 1e999), which would parse as infinity."""


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (_INF, -_INF):
        raise _OutOfRange(literal)
    return value


_INF = float("inf")
_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_loads = _decoder.decode
_lenient_loads = json.JSONDecoder(parse_constant=_reject_constant).decode
_scan = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]  # stub is wrong


def _parse(text: str) -> Any:
    try:
        msg, end = _scan(text, 0)
    except StopIteration:  # leading whitespace or not JSON: let the full decoder judge
        return _loads(text)
    if end != len(text):  # trailing whitespace or garbage
        return _loads(text)
    return msg


def encode(frame: Frame) -> str:
    """Compact JSON text of ``frame``; raises TypeError/ValueError if the payload is not JSON."""
    if type(frame) is Call:
        return _dumps([2, frame.message_id, frame.action, frame.payload])
    if type(frame) is CallResult:
        return _dumps([3, frame.message_id, frame.payload])
    if type(frame) is CallError:
        return _dumps([4, frame.message_id, frame.code, frame.description, frame.details])
    if type(frame) is CallResultError:
        return _dumps([5, frame.message_id, frame.code, frame.description, frame.details])
    if type(frame) is Send:
        return _dumps([6, frame.message_id, frame.action, frame.payload])
    raise TypeError(f"not an OCPP-J frame: {frame!r}")


def decode(text: str | bytes, version: str) -> Frame:
    """Parse one frame strictly for ``version``; raise FrameError with the answer to send."""
    try:
        msg = _parse(text if isinstance(text, str) else text.decode("utf-8"))
    except _OutOfRange:
        _out_of_range(text, version)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"not JSON: {type(exc).__name__}") from None
    if type(msg) is not list:
        raise FrameError("not a JSON array")
    n = len(msg)
    mid = msg[1] if n > 1 and type(msg[1]) is str else None
    mtype = msg[0] if n and type(msg[0]) is int else None
    if mtype is None:
        raise FrameError(
            "message type is not an integer", mid, None, rpc_error(version, "bad type")
        )
    if mid is None:
        raise FrameError("message id is not a string", None, mtype)
    if mtype == 2 or (mtype == 6 and version == _V21):
        return _decode_request(msg, n, mid, mtype, version)
    if mtype == 3:
        if n != 3 or type(msg[2]) is not dict:
            raise FrameError("CALLRESULT must be [3, id, {payload}]", mid, 3)
        return new_result(mid, msg[2])
    if mtype == 4 or (mtype == 5 and version == _V21):
        if n != 5 or type(msg[2]) is not str or type(msg[3]) is not str or type(msg[4]) is not dict:
            reason = f"type {mtype} must be [{mtype}, id, code, description, {{}}]"
            raise FrameError(reason, mid, mtype)
        if mtype == 4:
            return CallError(mid, msg[2], msg[3], msg[4])
        return CallResultError(mid, msg[2], msg[3], msg[4])
    if version == "ocpp1.6":
        # OCPP-J 1.6 §4.1.3: an unknown Message Type Number is ignored, not answered.
        raise FrameError(f"unknown message type {mtype}", mid, mtype)
    raise FrameError(
        f"unknown message type {mtype}",
        mid,
        mtype,
        MessageTypeNotSupported(f"message type {mtype} is not supported in {version}"),
    )


def _out_of_range(text: str | bytes, version: str) -> NoReturn:
    """No infinity reaches the application: a CALL holding one gets PropertyConstraintViolation."""
    try:
        msg = _lenient_loads(text if isinstance(text, str) else text.decode("utf-8"))
    except (ValueError, RecursionError):
        raise FrameError("not JSON: number out of range") from None
    head = msg[:2] if type(msg) is list else []
    mtype = head[0] if head and type(head[0]) is int else None
    mid = head[1] if len(head) > 1 and type(head[1]) is str else None
    error = PropertyConstraintViolation("a number is out of range") if mtype == 2 else None
    raise FrameError("number out of range", mid, mtype, error)


def _decode_request(msg: list[Any], n: int, mid: str, mtype: int, version: str) -> Frame:
    if not mid or len(mid) > MAX_ID_LENGTH:
        raise FrameError(
            "message id must be 1..36 characters",
            mid,
            mtype,
            rpc_error(version, "message id must be 1 to 36 characters"),
        )
    if n != 4 or type(msg[2]) is not str:
        raise FrameError(
            f"type {mtype} must be [{mtype}, id, action, {{payload}}]",
            mid,
            mtype,
            rpc_error(version, "frame must be [type, id, action, payload]"),
        )
    if type(msg[3]) is not dict:
        raise FrameError(
            "payload is not a JSON object",
            mid,
            mtype,
            format_error(version, "payload must be a JSON object"),
        )
    if mtype == 2:
        return new_call(mid, msg[2], msg[3])
    return Send(mid, msg[2], msg[3])
