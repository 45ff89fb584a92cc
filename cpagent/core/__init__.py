"""Sans-I/O OCPP-J core: framing, typed errors, schema validation, Session and TaskManager."""

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
from cpagent.core.task_manager import Outcome, Responder, Stage, TaskManager
from cpagent.core.version import Version, parse_version

__all__ = [
    "AlreadyAnswered", "BadFrame", "Call", "CallAnswered", "CallError", "CallErrored",
    "CallFailed", "CallReceived", "CallRejected", "CallResult", "CallResultError",
    "CallTimeout", "ConnectionLost", "DuplicateMessageId", "Event", "FormationViolation",
    "FormatViolation", "Frame", "FrameError", "GenericError", "InternalError", "InvalidPayload",
    "InvalidResponse", "LocalError", "MessageType", "MessageTypeNotSupported", "NotConnected",
    "NotImplemented_", "NotSupported", "OccurenceConstraintViolation",
    "OccurrenceConstraintViolation", "OcppError", "Outcome", "Outgoing",
    "PropertyConstraintViolation", "ProtocolError", "Responder", "ResultErrorReceived",
    "RpcFrameworkError", "SecurityError", "Send", "SendFailed", "SendReceived", "Session",
    "Stage", "TaskManager", "TypeConstraintViolation", "UnexpectedResponse", "UnknownMessageId",
    "UnsupportedVersion", "Version", "decode", "encode", "error_class", "parse_version",
]
