"""Redaction in structured places (not every occurrence of a secret) and card-id masking."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from cpagent.daemon.logs import SecretFilter, setup_logging
from cpagent.redact import is_secret_key, mask_id_tag, mask_id_tags, redact_text


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


# (configured secrets, text, expected): the secret's place decides, not its characters.
CASES = [
    (["ocpp"], "connected to CSMS (ocpp1.6)", "connected to CSMS (ocpp1.6)"),
    (["x"], "exiting after a signal", "exiting after a signal"),
    (["ocpp"], "ws://CP1:ocpp@csms/ocpp", "ws://CP1:***@csms/ocpp"),
    ([], "mqtts://cp:pa55@broker:8883", "mqtts://cp:***@broker:8883"),
    ([], "Authorization: Basic Q1AxOm9jcHA=", "Authorization: Basic ***"),
    ([], "headers={'Authorization': 'Bearer abc.def'}", "headers={'Authorization': 'Bearer ***'}"),
    ([], 'password = "ocpp"', 'password = "***"'),
    ([], "mqtt.password=hunter2 next", "mqtt.password=*** next"),
    ([], "key_file = '/etc/cpagent/cp.key'", "key_file = '***'"),
    ([], 'tls: {"keyfile": "/etc/k.pem"}', 'tls: {"keyfile": "***"}'),
    (
        [],
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"0011AABB"}]',
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"***"}]',
    ),
    ([], '{"key":"HeartbeatInterval","value":"300"}', '{"key":"HeartbeatInterval","value":"300"}'),
    ([], "bridge --password s3cret --mqtt h", "bridge --password *** --mqtt h"),
    (["long-secret-42"], "failed: long-secret-42 refused", "failed: *** refused"),
    (["long-secret-42"], "xlong-secret-42y stays", "xlong-secret-42y stays"),
    ([], "the password is wrong (HTTP 401)", "the password is wrong (HTTP 401)"),
]


@pytest.mark.parametrize(("secrets", "text", "expected"), CASES)
def test_redaction_replaces_values_in_structured_places_only(
    secrets: list[str], text: str, expected: str
) -> None:
    assert redact_text(text, secrets) == expected
    assert SecretFilter(secrets).redact(text) == expected


@pytest.mark.parametrize(
    ("tag", "shown"),
    [
        ("04A1B2C3D4", "****C3D4"),
        ("12345", "****2345"),
        ("1234", "****"),
        ("A", "****"),
        (None, "None"),
    ],
)
def test_mask_id_tag_keeps_the_last_four(tag: str | None, shown: str) -> None:
    assert mask_id_tag(tag) == shown


@pytest.mark.parametrize(
    ("text", "known", "expected"),
    [
        ('{"idTag": "04A1B2C3D4"}', [], '{"idTag": "****C3D4"}'),
        ('{"parentIdTag":"GROUP-0001"}', [], '{"parentIdTag":"****0001"}'),
        ("authorized id_tag=STRANGER99", [], "authorized id_tag=****ER99"),
        ("card 04A1B2C3D4 accepted", ["04A1B2C3D4"], "card ****C3D4 accepted"),
        ("card x04A1B2C3D4 kept", ["04A1B2C3D4"], "card x04A1B2C3D4 kept"),
    ],
)
def test_mask_id_tags_in_text(text: str, known: list[str], expected: str) -> None:
    assert mask_id_tags(text, known) == expected


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("csms.password", True),
        ("key_file", True),
        ("AuthorizationKey", True),
        ("token", True),
        ("cert_file", False),
        ("ca_file", False),
        ("keepalive_s", False),
        ("username", False),
        ("id", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_log_lines_mask_card_ids_at_info_and_show_them_at_debug(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", secrets=["ocpp"], stream=out, journal=False)
    log = logging.getLogger("cpagent.test")
    log.debug('<- [2,"7","RemoteStartTransaction",{"idTag":"04A1B2C3D4"}]')
    log.info("remote start %s", {"idTag": "04A1B2C3D4"})
    log.info("connected to CSMS (ocpp1.6); card %s", mask_id_tag("04A1B2C3D4"))
    debug, info, connected = out.getvalue().splitlines()
    assert '"idTag":"04A1B2C3D4"' in debug
    assert "04A1B2C3D4" not in info and "****C3D4" in info
    assert connected.endswith("connected to CSMS (ocpp1.6); card ****C3D4")
