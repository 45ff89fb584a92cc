"""`cpagent status` for people: uptime, the link and why it is down, registration in words,
phases, session energy, one queue line, and the hint towards a bench daemon's socket."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.cli import main
from cpagent.commands.status import mask_tags, render, render_watch
from cpagent.commands.status_view import registration_words, span

NOW = 1_796_000_000.0  # 2026-11-30T00:53:20Z, the view's "now"


def _answer(**changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "application": "chargepoint",
        "chargepoint": "CP1",
        "version": "0.1.0",
        "started_at": "2026-11-29T22:48:20Z",
        "uptime_s": 7500.0,
        "connection": "disconnected",
        "subprotocol": None,
        "link": {
            "state": "disconnected",
            "since": "2026-11-30T00:50:20Z",
            "subprotocol": None,
            "reason": "central system answered HTTP 404",
            "cause": "http",
            "http_status": 404,
            "hint": "check the path in [csms] url",
            "next_retry": "2026-11-30T00:53:32Z",
            "last_sent": "2026-11-30T00:50:19Z",
            "last_received": None,
        },
        "registration": "Accepted",
        "registration_retry_at": None,
        "queue_depth": 0,
        "queued_messages": 3,
        "oldest_queued_s": 185.0,
        "last_error": "CSMS link: central system answered HTTP 404",
        "errors_active": [
            {
                "source": "csms",
                "error": "CSMS link: central system answered HTTP 404",
                "since": "2026-11-30T00:50:20Z",
            }
        ],
        "connectors": [
            {
                "id": 1,
                "status": "Charging",
                "relay": True,
                "plugged": True,
                "fault": None,
                "pilot": "C",
                "offered_current_a": 16.0,
                "limit_a": None,
                "meter": {
                    "energy_wh": 12345.6,
                    "power_w": 11040.0,
                    "voltage_v": [230.0, 230.5, 231.0],
                    "current_a": [16.0, 16.5, 17.0],
                    "phases": [
                        {"phase": "L1", "voltage_v": 230.0, "current_a": 16.0},
                        {"phase": "L2", "voltage_v": 230.5, "current_a": 16.5},
                        {"phase": "L3", "voltage_v": 231.0, "current_a": 17.0},
                    ],
                    "at": "2026-11-30T00:53:19Z",
                },
                "transaction": {
                    "id": 17,
                    "id_tag": "04A1B2C3D4",
                    "local_id": 1,
                    "started_at": "2026-11-30T00:23:20Z",
                    "meter_start_wh": 10000.0,
                    "energy_wh": 2345.6,
                },
            }
        ],
    }
    answer.update(changes)
    return answer


def test_a_link_down_says_since_when_why_the_next_try_and_what_to_check() -> None:
    lines = render(_answer(), now=NOW).splitlines()
    assert lines[:8] == [
        "chargepoint CP1: cpagent 0.1.0, up 2 h 5 min since 2026-11-29 22:48:20 UTC",
        "CSMS: disconnected since 2026-11-30 00:50:20 UTC (3 min ago)",
        "  reason: central system answered HTTP 404",
        "  next retry: 00:53:32 UTC (in 12 s)",
        "  hint: check the path in [csms] url",
        "  last message sent: 2026-11-30 00:50:19 UTC (3 min ago); received: none yet",
        "registration: accepted (on the last connection)",
        "connector 1: Charging, relay closed (energised), plugged, 12.346 kWh, 11040 W, "
        "pilot C, offering 16 A, transaction 17 for 04A1B2C3D4",
    ]
    assert lines[8:] == [
        "  meter: L1 230.0 V 16.00 A, L2 230.5 V 16.50 A, L3 231.0 V 17.00 A; "
        "read 00:53:19 UTC (1 s ago)",
        "  session: 2.346 kWh since meterStart 10000 Wh, started 2026-11-30 00:23:20 UTC "
        "(30 min ago)",
        "transaction messages waiting for the CSMS: 3 (oldest 3 min old)",
        "last error: CSMS link: central system answered HTTP 404",
    ]


def test_a_link_up_shows_no_reason_or_hint_and_no_error() -> None:
    link = {
        "state": "connected",
        "since": "2026-11-30T00:43:20Z",
        "subprotocol": "ocpp1.6",
        "reason": None,
        "hint": None,
        "next_retry": None,
        "last_sent": "2026-11-30T00:53:15Z",
        "last_received": "2026-11-30T00:53:16Z",
    }
    answer = _answer(
        connection="connected",
        subprotocol="ocpp1.6",
        link=link,
        last_error=None,
        errors_active=[],
        queued_messages=0,
        oldest_queued_s=None,
    )
    text = render(answer, now=NOW)
    assert "CSMS: connected (ocpp1.6) since 2026-11-30 00:43:20 UTC (10 min ago)" in text
    assert "reason" not in text and "hint" not in text and "next retry" not in text
    assert "received: 2026-11-30 00:53:16 UTC (4 s ago)" in text
    assert "registration: accepted\n" in text
    assert "transaction messages waiting for the CSMS: 0\n" in text  # no age of nothing
    assert text.endswith("last error: none")


@pytest.mark.parametrize(
    ("registration", "retry", "words"),
    [
        ("None", None, "not registered yet"),
        (None, None, "not registered yet"),
        ("Pending", "2026-11-30T00:54:20Z", "pending, retry at 00:54:20 UTC (in 1 min)"),
        ("Accepted", None, "accepted"),
        ("Rejected", "2026-11-30T01:03:20Z", "rejected, retry at 01:03:20 UTC (in 10 min)"),
    ],
)
def test_registration_in_words(registration: str | None, retry: str | None, words: str) -> None:
    link = {"state": "connected"}
    status = {"registration": registration, "registration_retry_at": retry, "link": link}
    assert registration_words(status, NOW) == words


def test_several_active_errors_are_each_shown_with_since() -> None:
    errors = [
        {"source": "connector1", "error": "connector1: PowerMeterFailure: x", "since": None},
        {"source": "csms", "error": "CSMS link: refused", "since": "2026-11-30T00:52:20Z"},
    ]
    lines = render(_answer(errors_active=errors), now=NOW).splitlines()
    assert lines[-2:] == [
        "error: connector1: PowerMeterFailure: x (since ?)",
        "error: CSMS link: refused (since 2026-11-30 00:52:20 UTC (1 min ago))",
    ]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (7500, "2 h 5 min"),
        (200_000, "2 d 7 h"),
    ],
)
def test_spans_are_said_the_way_people_say_them(seconds: float, words: str) -> None:
    assert span(seconds) == words


def test_the_watch_view_has_the_link_hint_and_one_queue_line() -> None:
    text = render_watch(_answer(), 1.0, now=NOW)
    assert text.splitlines()[0].startswith(
        "cpagent CP1 (chargepoint) 0.1.0, up 2 h 5 min  00:53:20"
    )
    assert "registration accepted (on the last connection)" in text.splitlines()[1]
    assert "  hint: check the path in [csms] url" in text
    assert "queue depth" not in text
    assert "transaction messages waiting for the CSMS: 3 (oldest 3 min old)" in text


def test_masking_covers_the_transaction_of_the_new_answer() -> None:
    masked = mask_tags(_answer(last_card="AABBCCDDEE"))
    assert masked["connectors"][0]["transaction"]["id_tag"] == "****C3D4"
    assert masked["last_card"] == "****DDEE"
    assert "04A1B2C3D4" not in repr(masked) and "AABBCCDDEE" not in repr(masked)


def test_a_card_id_is_masked_wherever_the_answer_carries_it() -> None:
    """By field name, as the web page masks it: a card id in a place the answer gains later
    (here a reservation on a connector, an idTag in an error) stays masked too."""
    answer = _answer(last_card="AABBCCDDEE")
    answer["connectors"][0]["reservation"] = {"idTag": "1122334455", "expiry": "later"}
    answer["errors_active"] = [{"source": "csms", "parentIdTag": "5566778899"}]
    masked = mask_tags(answer)
    assert masked["connectors"][0]["reservation"] == {"idTag": "****4455", "expiry": "later"}
    assert masked["errors_active"] == [{"source": "csms", "parentIdTag": "****8899"}]
    assert masked["connectors"][0]["transaction"]["id_tag"] == "****C3D4"
    assert answer["connectors"][0]["reservation"]["idTag"] == "1122334455"  # a copy is masked


# -- no daemon at the default socket, but a bench daemon's socket nearby --------------------
@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A checkout with config/bench.toml and a bench daemon's socket in .bench/; the
    current directory is a folder below it."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "bench.toml").write_text("# bench\n")
    (tmp_path / ".bench").mkdir()
    below = tmp_path / "docs" / "img"
    below.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / ".bench" / "control.sock"))  # bound, not listening: no daemon
    monkeypatch.chdir(below)
    monkeypatch.setattr("cpagent.commands.status.DEFAULT_SOCKET", tmp_path / "none.sock")
    monkeypatch.setattr("cpagent.commands.common.DEFAULT_SOCKET", tmp_path / "none.sock")
    yield tmp_path
    sock.close()


def test_no_daemon_but_a_bench_socket_nearby_says_which_config_to_use(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 69
    err = capsys.readouterr().err
    config = os.path.relpath(checkout / "config" / "bench.toml")
    assert err.strip() == (
        f"cpagent: no daemon at {checkout / 'none.sock'}; a bench daemon's socket is at "
        f"{checkout / '.bench' / 'control.sock'}: run `cpagent status --config {config}`"
    )
    assert main(["status", "--watch", "--count", "1"]) == 69
    assert "a bench daemon's socket is at" in capsys.readouterr().err


def test_a_socket_given_explicitly_gets_the_plain_answer(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--socket", str(checkout / "other.sock")]) == 69
    err = capsys.readouterr().err
    assert "is not running" in err and "bench daemon" not in err


def test_ctl_with_no_daemon_but_a_bench_socket_nearby_says_which_config_to_use(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ctl", "plug", "1"]) == 69
    config = os.path.relpath(checkout / "config" / "bench.toml")
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        f"a bench daemon's socket is at {checkout / '.bench' / 'control.sock'}: "
        f"run `cpagent ctl --config {config} plug 1`"
    )
    assert main(["ctl", "ev", "1", "fault", "ResidualCurrent"]) == 69
    assert f"run `cpagent ctl --config {config} ev 1 fault ResidualCurrent`" in (
        capsys.readouterr().err
    )
