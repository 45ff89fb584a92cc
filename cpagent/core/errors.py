"""Typed errors: one exception class per OCPP-J error code, plus local (never sent) errors."""

from __future__ import annotations

from typing import Any, ClassVar

_V16 = "ocpp1.6"
_V2 = frozenset({"ocpp2.0.1", "ocpp2.1"})
_ALL = frozenset({_V16}) | _V2


class OcppError(Exception):
    """An error an OCPP peer can send or receive in a CALLERROR (or 2.1 CALLRESULTERROR).

    ``code`` is the exact wire string; ``versions`` are the subprotocols whose error-code
    table contains it (OCPP-J 1.6 §4.2.3, OCPP-J 2.0.1 §4.3, OCPP-J 2.1 §4.3).
    """

    code: ClassVar[str] = "GenericError"
    versions: ClassVar[frozenset[str]] = _ALL

    def __init__(self, description: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(description or self.code)
        self.description = description
        self.details: dict[str, Any] = {} if details is None else details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r}, {self.details!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, OcppError)
            and (other.description, other.details) == (self.description, self.details)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.description))


class NotImplemented_(OcppError):  # noqa: N801 - ``NotImplemented`` is a Python builtin
    """Requested Action is not known by the receiver."""

    code = "NotImplemented"


class NotSupported(OcppError):
    """Requested Action is recognised but not supported by the receiver."""

    code = "NotSupported"


class InternalError(OcppError):
    """The receiver failed to process the Action (details are never leaked)."""

    code = "InternalError"


class ProtocolError(OcppError):
    """Payload for Action is incomplete (1.6) / not conform the PDU structure (2.0.1+)."""

    code = "ProtocolError"


class SecurityError(OcppError):
    """A security issue prevented the receiver from completing the Action."""

    code = "SecurityError"


class FormationViolation(OcppError):
    """OCPP 1.6 only: payload syntactically incorrect or not conform the PDU structure."""

    code = "FormationViolation"
    versions = frozenset({_V16})


class FormatViolation(OcppError):
    """OCPP 2.0.1+: payload for Action is syntactically incorrect."""

    code = "FormatViolation"
    versions = _V2


class PropertyConstraintViolation(OcppError):
    """A field contains an invalid value."""

    code = "PropertyConstraintViolation"


class OccurenceConstraintViolation(OcppError):
    """OCPP 1.6 spelling (sic): a field violates occurrence constraints."""

    code = "OccurenceConstraintViolation"
    versions = frozenset({_V16})


class OccurrenceConstraintViolation(OcppError):
    """OCPP 2.0.1+ spelling: a field violates occurrence constraints."""

    code = "OccurrenceConstraintViolation"
    versions = _V2


class TypeConstraintViolation(OcppError):
    """A field violates data type constraints (e.g. ``"somestring": 12``)."""

    code = "TypeConstraintViolation"


class GenericError(OcppError):
    """Any other error."""

    code = "GenericError"


class MessageTypeNotSupported(OcppError):
    """OCPP 2.0.1+: the Message Type Number is not supported by this implementation."""

    code = "MessageTypeNotSupported"
    versions = _V2


class RpcFrameworkError(OcppError):
    """OCPP 2.0.1+: not a valid RPC request, e.g. the message id could not be read."""

    code = "RpcFrameworkError"
    versions = _V2


ALL_ERRORS: tuple[type[OcppError], ...] = (
    NotImplemented_,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormationViolation,
    FormatViolation,
    PropertyConstraintViolation,
    OccurenceConstraintViolation,
    OccurrenceConstraintViolation,
    TypeConstraintViolation,
    GenericError,
    MessageTypeNotSupported,
    RpcFrameworkError,
)
_BY_CODE: dict[str, type[OcppError]] = {cls.code: cls for cls in ALL_ERRORS}


def codes_for(version: str) -> frozenset[str]:
    """All error codes valid in ``version``."""
    return frozenset(cls.code for cls in ALL_ERRORS if version in cls.versions)


def error_class(code: str, version: str) -> type[OcppError]:
    """The class for a wire error code valid in ``version``; ValueError for any other code."""
    cls = _BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None or version not in cls.versions:
        raise ValueError(f"{code!r} is not an OCPP error code of {version}")
    return cls


def error_from_wire(
    code: str, description: str, details: dict[str, Any], version: str
) -> OcppError:
    """Build the typed error for a received CALLERROR; unknown codes become GenericError."""
    cls = _BY_CODE.get(code)
    if cls is None or version not in cls.versions:
        return GenericError(f"{code}: {description}", details)
    return cls(description, details)


def format_error(version: str, description: str) -> OcppError:
    """Payload or frame syntactically wrong: FormationViolation (1.6) / FormatViolation (2.0.1+)."""
    if version == _V16:
        return FormationViolation(description)
    return FormatViolation(description)


def rpc_error(version: str, description: str) -> OcppError:
    """Frame is not a valid RPC message: FormationViolation (1.6) / RpcFrameworkError (2.0.1+)."""
    if version == _V16:
        return FormationViolation(description)
    return RpcFrameworkError(description)


def occurrence_error(version: str, description: str) -> OcppError:
    """Cardinality violated, with each version's spelling (1.6 says "Occurence")."""
    if version == _V16:
        return OccurenceConstraintViolation(description)
    return OccurrenceConstraintViolation(description)


class LocalError(Exception):
    """Bad local use or a local outcome of a call; never sent to the peer."""


class UnsupportedVersion(LocalError, ValueError):
    """The version is not one of ``ocpp1.6``, ``ocpp2.0.1``, ``ocpp2.1``."""


class NotConnected(LocalError):
    """The operation needs a connection (e.g. receive or a 2.1 SEND while disconnected)."""


class AlreadyAnswered(LocalError):
    """A handler tried to answer one incoming CALL a second time."""


class UnknownMessageId(LocalError):
    """No incoming CALL with this id awaits an answer (already answered, or never received)."""


class DuplicateMessageId(LocalError):
    """An outgoing message id is already pending or queued in this session."""


class CallTimeout(LocalError):
    """No CALLRESULT/CALLERROR arrived within the call timeout."""


class ConnectionLost(LocalError):
    """The link went down with the CALL in flight; the peer may or may not have run it."""


class SendFailed(LocalError):
    """The sender raised or returned False for this CALL's frame."""


class InvalidPayload(LocalError):
    """An outgoing payload is not JSON or fails its schema; ``error`` is the OCPP error."""

    def __init__(self, message: str, error: OcppError | None = None) -> None:
        super().__init__(message)
        self.error = error


class InvalidResponse(LocalError):
    """The peer's CALLRESULT is malformed or fails the schema; ``error`` says how."""

    def __init__(self, message: str, error: OcppError) -> None:
        super().__init__(message)
        self.error = error
