"""Logging: journald priority prefixes, one line per record, secrets redacted."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from cpagent.daemon.logs import SecretFilter, is_journal, setup_logging


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


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("headers={'Authorization': 'Bearer abc.def'}", "abc.def"),
        ('{"password": "s3 cret"}', "s3 cret"),
        ("password=hunter2 next", "hunter2"),
        ("connecting to wss://cp1:topsecret@csms.example/ocpp", "topsecret"),
        ("mqtt passwd: pa55", "pa55"),
        ("configured secret value plainvalue42 leaked", "plainvalue42"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    redacted = SecretFilter(["plainvalue42"]).redact(text)
    assert secret not in redacted and "***" in redacted


def test_handler_redacts_args_and_tracebacks(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", secrets=["hunter2"], stream=out, journal=False)
    log = logging.getLogger("test.redact")
    log.info("sending %s", {"password": "hunter2"})
    try:
        raise ValueError("bad password=hunter2")
    except ValueError:
        log.exception("failed with %s", "Authorization: Basic Zm9vOmJhcg==")
    text = out.getvalue()
    assert "hunter2" not in text and "Zm9vOmJhcg==" not in text
    assert "ValueError" in text


def test_journal_mode_has_priority_prefix_and_no_timestamp(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", stream=out, journal=True)
    log = logging.getLogger("cpagent.x")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("two\nlines")
    assert out.getvalue().splitlines() == [
        "<7>cpagent.x: d",
        "<6>cpagent.x: i",
        "<4>cpagent.x: w",
        "<3>cpagent.x: two\\nlines",
    ]


def test_terminal_mode_has_timestamps(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", stream=out, journal=False)
    logging.getLogger("cpagent.x").debug("hidden")
    logging.getLogger("cpagent.x").info("shown")
    (line,) = out.getvalue().splitlines()
    assert line.endswith(" INFO cpagent.x: shown") and line[:4].isdigit()


@pytest.mark.parametrize(("env", "journal"), [({}, False), ({"JOURNAL_STREAM": "8:1234"}, True)])
def test_journal_detected_from_journal_stream(env: dict[str, str], journal: bool) -> None:
    assert is_journal(env) is journal
