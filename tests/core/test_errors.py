"""Errors: one class per wire code, valid only in the versions whose tables list it."""

from __future__ import annotations

import pytest

from cpagent.core import errors
from cpagent.core.errors import error_class, error_from_wire

CODES = {
    # OCPP-J 1.6 §4.2.3
    "ocpp1.6": {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    },
    # OCPP-J 2.0.1 §4.3 (2.1 keeps the same table)
    "ocpp2.0.1": {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    },
}
CODES["ocpp2.1"] = CODES["ocpp2.0.1"]


@pytest.mark.parametrize("version", sorted(CODES))
def test_each_version_has_exactly_its_spec_codes(version: str) -> None:
    assert errors.codes_for(version) == CODES[version]


@pytest.mark.parametrize(("version", "code"), [(v, c) for v in CODES for c in sorted(CODES[v])])
def test_every_code_has_its_own_class(version: str, code: str) -> None:
    cls = error_class(code, version)
    assert cls.code == code
    assert issubclass(cls, errors.OcppError)
    err = cls("why", {"k": 1})
    assert (err.code, err.description, err.details) == (code, "why", {"k": 1})
    assert str(err) == "why"


@pytest.mark.parametrize(
    ("code", "version"),
    [
        ("FormatViolation", "ocpp1.6"),
        ("FormationViolation", "ocpp2.0.1"),
        ("OccurenceConstraintViolation", "ocpp2.1"),
        ("OccurrenceConstraintViolation", "ocpp1.6"),
        ("RpcFrameworkError", "ocpp1.6"),
        ("MessageTypeNotSupported", "ocpp1.6"),
        ("Nope", "ocpp2.0.1"),
    ],
)
def test_codes_outside_a_version_are_refused(code: str, version: str) -> None:
    with pytest.raises(ValueError, match=f"not an OCPP error code of {version}"):
        error_class(code, version)


def test_received_error_with_foreign_code_becomes_generic_error() -> None:
    err = error_from_wire("MadeUp", "text", {"a": 1}, "ocpp1.6")
    assert type(err) is errors.GenericError
    assert err.description == "MadeUp: text"
    known = error_from_wire("SecurityError", "text", {}, "ocpp1.6")
    assert known == errors.SecurityError("text")


def test_errors_compare_by_class_and_content() -> None:
    assert errors.InternalError("x") == errors.InternalError("x", {})
    assert errors.InternalError("x") != errors.GenericError("x")
    assert errors.InternalError("x") != errors.InternalError("y")
    assert hash(errors.InternalError("x")) == hash(errors.InternalError("x"))
    assert repr(errors.NotImplemented_("a")) == "NotImplemented_('a', {})"
    assert str(errors.NotSupported()) == "NotSupported"
