"""Redaction of the config copy and the install command's argv, case by case."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpagent.firmware.bundle import redact
from cpagent.firmware.install import install_argv
from cpagent.firmware.transfer import redact_url

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('password = "hunter2"', 'password = "<redacted>"'),
        ("  api_token='abc'", 'api_token = "<redacted>"'),
        ('key_file = "/etc/cpagent/client.key"', 'key_file = "<redacted>"'),
        ('basic_auth_password = "x"', 'basic_auth_password = "<redacted>"'),
        (
            'url = "wss://cp1:hunter2@csms.example/ocpp"',
            'url = "wss://cp1:<redacted>@csms.example/ocpp"',
        ),
        ('url = "wss://csms.example/ocpp"', 'url = "wss://csms.example/ocpp"'),
        ("[csms]", "[csms]"),
        ("relay_pin = 17", "relay_pin = 17"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected + "\n"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('mqtt = { host = "h", password = "hunter2" }', "hunter2"),
        ('[csms]\nurl = "ws://x"\n"pass word" = 1\ntokens = ["hunter2", "b"]', "hunter2"),
        ('[[connector]]\nextra = [{ password = "hunter2" }]', "hunter2"),
        ('[csms]\npassword = """\nhunter2\n"""', "hunter2"),
        ("[csms]\npassword = '''hunter2'''", "hunter2"),
        (
            '[firmware]\ninstall_command = ["curl", "https://u:hunter2@h/x", "--password", "p"]',
            "hunter2",
        ),
        ('[csms]\n"password" = "hunter2"', "hunter2"),
        ("password = 'hunter2' # and a comment", "hunter2"),
        ('[csms]\npassword = "hunter2', "hunter2"),  # invalid TOML: nothing raw
    ],
)
def test_redact_parses_toml_so_no_form_escapes(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_the_redacted_copy_is_toml_with_the_same_non_secret_values() -> None:
    import tomllib

    text = (REPO / "config" / "cpagent.toml").read_text()
    original, copy = tomllib.loads(text), tomllib.loads(redact(text))
    assert copy["csms"]["password"] == "<redacted>"
    copy["csms"]["password"] = original["csms"]["password"]
    assert copy == original


@pytest.mark.parametrize(
    ("template", "argv"),
    [
        (["install", "{file}"], ["install", "/d/f.bin"]),
        (["install", "--image={file}", "--reboot"], ["install", "--image=/d/f.bin", "--reboot"]),
        (["install"], ["install", "/d/f.bin"]),  # no placeholder: the path goes last
    ],
)
def test_install_argv(template: list[str], argv: list[str]) -> None:
    assert install_argv(template, "/d/f.bin") == argv


def test_empty_install_command_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        install_argv([], "/d/f.bin")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ftp://cp:s3cret@host/up", "ftp://cp:***@host/up"),
        ("https://host/fw.bin", "https://host/fw.bin"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
