"""Version: only the three negotiated subprotocol names are accepted."""

from __future__ import annotations

import pytest

from cpagent.core import UnsupportedVersion, Version, parse_version


@pytest.mark.parametrize("text", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_subprotocol_names_parse_to_versions(text: str) -> None:
    assert parse_version(text) == text
    assert parse_version(text).value == text


@pytest.mark.parametrize("text", ["ocpp1.6j", "OCPP1.6", "ocpp2.0", "ocpp1.5", "", "1.6"])
def test_other_names_are_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(UnsupportedVersion, match="expected one of: ocpp1.6, ocpp2.0.1, ocpp2.1"):
        parse_version(text)


def test_unsupported_version_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_version("ocpp1.6j")
    assert Version.OCPP21 == "ocpp2.1"
