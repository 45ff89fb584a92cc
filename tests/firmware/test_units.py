"""Redaction of the config copy and the install command's argv, case by case."""

from __future__ import annotations

import pytest

from cpagent.firmware.bundle import redact
from cpagent.firmware.install import install_argv
from cpagent.firmware.transfer import redact_url


@pytest.mark.parametrize(("line", "expected"), [
    ('password = "hunter2"', 'password = "<redacted>"'),
    ("  api_token='abc'", '  api_token="<redacted>"'),
    ('key_file = "/etc/cpagent/client.key"', 'key_file = "<redacted>"'),
    ('basic_auth_password = "x"', 'basic_auth_password = "<redacted>"'),
    ('url = "wss://cp1:hunter2@csms.example/ocpp"',
     'url = "wss://cp1:<redacted>@csms.example/ocpp"'),
    ('url = "wss://csms.example/ocpp"', 'url = "wss://csms.example/ocpp"'),
    ("[csms]", "[csms]"),
    ("relay_pin = 17", "relay_pin = 17"),
])
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected + "\n"


@pytest.mark.parametrize(("template", "argv"), [
    (["install", "{file}"], ["install", "/d/f.bin"]),
    (["install", "--image={file}", "--reboot"], ["install", "--image=/d/f.bin", "--reboot"]),
    (["install"], ["install", "/d/f.bin"]),  # no placeholder: the path goes last
])
def test_install_argv(template: list[str], argv: list[str]) -> None:
    assert install_argv(template, "/d/f.bin") == argv


def test_empty_install_command_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        install_argv([], "/d/f.bin")


@pytest.mark.parametrize(("url", "shown"), [
    ("ftp://cp:s3cret@host/up", "ftp://cp:***@host/up"),
    ("https://host/fw.bin", "https://host/fw.bin"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
