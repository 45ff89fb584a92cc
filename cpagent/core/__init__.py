"""Sans-I/O OCPP-J core: framing, typed errors, schema validation, Session and TaskManager."""

from typing import TYPE_CHECKING, Any

from cpagent.core.errors import (
    AlreadyAnswered,
    CallTimeout,
    ConnectionLost,
    DuplicateMessageId,
    FormationViolation,
    FormatViolation,
    GenericError,
    InternalError,
    InvalidPayload,
    InvalidResponse,
    LocalError,
    MessageTypeNotSupported,
    NotConnected,
    NotImplemented_,
    NotSupported,
    OccurenceConstraintViolation,
    OccurrenceConstraintViolation,
    OcppError,
    PropertyConstraintViolation,
    ProtocolError,
    RpcFrameworkError,
    SecurityError,
    SendFailed,
    TypeConstraintViolation,
    UnknownMessageId,
    UnsupportedVersion,
    error_class,
)
from cpagent.core.events import (
    BadFrame,
    CallAnswered,
    CallErrored,
    CallFailed,
    CallReceived,
    CallRejected,
    Event,
    Outgoing,
    ResultErrorReceived,
    SendReceived,
    UnexpectedResponse,
)
from cpagent.core.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Frame,
    FrameError,
    MessageType,
    Send,
    decode,
    encode,
)
from cpagent.core.session import Session
from cpagent.core.version import Version, parse_version

if TYPE_CHECKING:
    from cpagent.core.task_manager import Outcome, Responder, Stage, TaskManager

# The seed's TaskManager facade (and its timer thread) is imported on first use: the daemon
# drives Session directly, so it need not hold the facade's ~0.2 MiB of classes (PEP 562).
_TASK_MANAGER = frozenset({"Outcome", "Responder", "Stage", "TaskManager"})


def __getattr__(name: str) -> Any:
    if name in _TASK_MANAGER:
        from cpagent.core import task_manager

        return task_manager.__dict__[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlreadyAnswered",
    "BadFrame",
    "Call",
    "CallAnswered",
    "CallError",
    "CallErrored",
    "CallFailed",
    "CallReceived",
    "CallRejected",
    "CallResult",
    "CallResultError",
    "CallTimeout",
    "ConnectionLost",
    "DuplicateMessageId",
    "Event",
    "FormationViolation",
    "FormatViolation",
    "Frame",
    "FrameError",
    "GenericError",
    "InternalError",
    "InvalidPayload",
    "InvalidResponse",
    "LocalError",
    "MessageType",
    "MessageTypeNotSupported",
    "NotConnected",
    "NotImplemented_",
    "NotSupported",
    "OccurenceConstraintViolation",
    "OccurrenceConstraintViolation",
    "OcppError",
    "Outcome",
    "Outgoing",
    "PropertyConstraintViolation",
    "ProtocolError",
    "Responder",
    "ResultErrorReceived",
    "RpcFrameworkError",
    "SecurityError",
    "Send",
    "SendFailed",
    "SendReceived",
    "Session",
    "Stage",
    "TaskManager",
    "TypeConstraintViolation",
    "UnexpectedResponse",
    "UnknownMessageId",
    "UnsupportedVersion",
    "Version",
    "decode",
    "encode",
    "error_class",
    "parse_version",
]
