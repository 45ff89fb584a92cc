"""The pages and JSON APIs: connector rows, pagination over 10,000 sessions, masking, escaping."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.web.fakes import TAG, FakeHistory, serving, session, status


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class _Cells(HTMLParser):
    """Text of every <td>, per row, for rows of a given class."""

    def __init__(self, row_class: str) -> None:
        super().__init__()
        self.row_class = row_class
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and (self.row_class in (dict(attrs).get("class") or "").split()):
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data


def _rows(html: str, row_class: str) -> list[list[str]]:
    parser = _Cells(row_class)
    parser.feed(html)
    return parser.rows


def test_live_page_has_one_row_per_connector_with_dashes_for_absent_values() -> None:
    with serving() as web:
        code, html = _get(web.url)
    assert code == 200
    rows = _rows(html, "connector")
    assert [r[:10] for r in rows] == [
        ["1", "Charging", "7360", "123.456", "230", "32.0", "16.0", "32.0", "C", "closed"],
        ["2", "Available", "-", "-", "-", "-", "-", "-", "-", "open"],
    ]
    assert rows[0][11:14] == ["42", "4.321", "****C3D4"]
    assert rows[1][11:14] == ["-", "-", "-"]
    assert "accepted" in html and "ocpp1.6" in html
    assert '<meta http-equiv="refresh"' in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org', "")


def _facts(html: str) -> dict[str, str]:
    cells = re.findall(r"<tr><th>([^<]+)</th><td>(.*?)</td></tr>", html, re.S)
    return {name: re.sub(r"<[^>]+>", "", value) for name, value in cells}


def test_live_page_shows_version_uptime_link_and_queue_age() -> None:
    with serving() as web:
        facts = _facts(_get(web.url)[1])
    assert facts["cpagent"] == "0.9.0, up 2 d 12 h"
    assert facts["central system"] == "connected (ocpp1.6) since 2026-11-30 17:55:00 UTC"
    assert facts["last message"] == (
        "sent 2026-11-30 18:19:58 UTC, received 2026-11-30 18:19:59 UTC"
    )
    assert facts["queued transaction messages"] == "3 (oldest 2 min 5 s old)"
    assert "what to check" not in facts


def test_a_link_that_is_down_says_why_what_to_check_and_when_it_retries() -> None:
    link = {
        "state": "disconnected",
        "since": "2026-11-30T18:00:00Z",
        "reason": "HTTP 401 Unauthorized",
        "hint": "check [chargepoint] id and [csms] password",
        "next_retry": "2026-11-30T18:00:30Z",
    }
    answer = status(connection="disconnected", subprotocol=None, link=link)
    answer.update(registration="Pending", registration_retry_at="2026-11-30T18:05:00Z")
    with serving(status=lambda: answer) as web:
        facts = _facts(_get(web.url)[1])
    assert facts["central system"] == (
        "disconnected since 2026-11-30 18:00:00 UTC: HTTP 401 Unauthorized"
    )
    assert facts["what to check"] == "check [chargepoint] id and [csms] password"
    assert facts["next attempt"] == "2026-11-30 18:00:30 UTC"
    assert facts["registration"].endswith("next BootNotification 2026-11-30 18:05:00 UTC")


def test_an_answer_without_the_newer_fields_shows_dashes() -> None:
    """A daemon answer that has only the first status fields still renders."""
    answer = status()
    for name in ("version", "uptime_s", "link", "oldest_queued_s", "registration_retry_at"):
        del answer[name]
    with serving(status=lambda: answer) as web:
        code, html = _get(web.url)
    facts = _facts(html)
    assert code == 200 and facts["cpagent"] == "-" and facts["last message"] == "sent -, received -"
    assert facts["central system"] == "connected (ocpp1.6)"
    assert facts["queued transaction messages"] == "3"


def test_three_phase_volts_and_amps_are_shown_per_phase() -> None:
    answer = status()
    answer["connectors"][0]["meter"].update(
        voltage_v=[230.4, 231.0, 229.6], current_a=[16.04, 15.9, 0.0]
    )
    with serving(status=lambda: answer) as web:
        row = _rows(_get(web.url)[1], "connector")[0]
    assert row[4:6] == ["230 / 231 / 230", "16.0 / 15.9 / 0.0"]


@pytest.mark.parametrize(
    ("registration", "words"),
    [
        ("None", "not registered yet"),
        (None, "not registered yet"),
        ("Pending", "pending"),
    ],
)
def test_registration_is_shown_in_words(registration: str | None, words: str) -> None:
    with serving(
        status=lambda: status(
            registration=registration, connection="disconnected", subprotocol=None
        )
    ) as web:
        html = _get(web.url)[1]
    assert words in html and "disconnected" in html
    assert "registration</th><td>None" not in html


def test_card_ids_are_masked_on_every_page_and_api() -> None:
    sessions = FakeHistory([{**session(1), "id_tag": TAG}])
    with serving(sessions=sessions) as web:
        bodies = [
            _get(web.url + route)[1]
            for route in ("", "sessions", "api/status", "api/sessions", "metrics")
        ]
    for body in bodies:
        assert TAG not in body
    assert "****C3D4" in bodies[0] and "****C3D4" in bodies[1]
    assert json.loads(bodies[2])["last_card"] == "****C3D4"
    assert json.loads(bodies[3])["sessions"][0]["id_tag"] == "****C3D4"


def test_everything_from_data_is_html_escaped() -> None:
    evil = '<script>alert("x")</script>'
    answer = status(
        chargepoint=evil,
        last_error=evil,
        connectors=[
            {
                "id": evil,
                "status": evil,
                "pilot": evil,
                "fault": evil,
                "meter": None,
                "transaction": {"id": evil, "id_tag": "x" + evil},
            }
        ],
    )
    history = FakeHistory([{**session(1), "stop_reason": evil, "connector": evil}])
    with serving(status=lambda: answer, sessions=history) as web:
        pages = [_get(web.url)[1], _get(web.url + "sessions")[1]]
    for html in pages:
        assert "<script" not in html
        assert "&lt;script&gt;" in html


def test_a_10000_session_history_pages_50_at_a_time() -> None:
    history = FakeHistory([session(n, samples=3) for n in range(1, 10_001)])
    with serving(sessions=history) as web:
        code, html = _get(web.url + "sessions?page=3")
        last = _get(web.url + "sessions?page=200")[1]
        beyond = _get(web.url + "sessions?page=201")
    assert code == 200
    ids = [int(r[0]) for r in _rows(html, "session-row")]
    assert ids == list(range(10_000 - 100, 10_000 - 150, -1))  # newest first: 9900..9851
    assert "page 3 of 200" in html and "10000 sessions, showing 101-150" in html
    assert 'href="/sessions?page=4"' in html and 'href="/sessions?page=2"' in html
    assert html.count("<svg") == 50
    assert [int(r[0]) for r in _rows(last, "session-row")] == list(range(50, 0, -1))
    assert "page=201" not in last
    assert beyond[0] == 200 and "none on page 201" in beyond[1]
    assert history.calls[0] == (100, 50, None)


def test_sessions_page_shows_the_facts_and_a_plot_per_session() -> None:
    with serving() as web:
        html = _get(web.url + "sessions")[1]
    row = _rows(html, "session-row")[0]
    assert row == [
        "1",
        "1",
        "****0001",
        "2026-12-01 18:00:00 UTC",
        "2026-12-01 20:00:00 UTC",
        "1000",
        "14992",
        "13.992",
        "EVDisconnected",
        "yes",
        "1",  # the local id, which stays unique when the central system's ids repeat
    ]
    assert re.search(r'<path class="power" d="M[\d.,]+( L[\d.,]+){12}"', html)


def test_since_filters_and_is_kept_in_the_page_links() -> None:
    history = FakeHistory([session(n, samples=2) for n in range(1, 201)])
    with serving(sessions=history) as web:
        html = _get(web.url + "sessions?since=2027-01-01")[1]
        bad = _get(web.url + "sessions?since=yesterday")
    assert history.calls[-1] == (0, 50, datetime(2027, 1, 1, tzinfo=UTC))
    assert "since=2027-01-01" in html and "page=2" in html
    assert bad[0] == 400 and "ISO 8601" in bad[1]


def test_api_sessions_pages_by_offset_and_limit() -> None:
    history = FakeHistory([session(n, samples=2) for n in range(1, 10_001)])
    with serving(sessions=history) as web:
        body: dict[str, Any] = json.loads(_get(web.url + "api/sessions?offset=9990&limit=20")[1])
        too_many = _get(web.url + "api/sessions?limit=100000")
        negative = _get(web.url + "api/sessions?offset=-1")
    assert body["total"] == 10_000 and body["offset"] == 9990 and body["limit"] == 20
    assert [s["id"] for s in body["sessions"]] == list(range(10, 0, -1))
    assert body["sessions"][0]["samples"][0][0].endswith("Z")
    assert too_many[0] == 400 and "1 to 500" in too_many[1]
    assert negative[0] == 400


def test_api_status_is_the_daemon_answer_masked() -> None:
    with serving() as web:
        body = json.loads(_get(web.url + "api/status")[1])
    expected = json.loads(json.dumps(status()))
    expected["last_card"] = "****C3D4"
    expected["connectors"][0]["transaction"]["id_tag"] = "****C3D4"
    assert body == expected


def test_unknown_paths_are_404_with_the_routes() -> None:
    with serving() as web:
        code, body = _get(web.url + "admin")
    assert code == 404 and "/sessions" in body


def test_a_faulted_connector_shows_its_ocpp_error_code_and_the_device() -> None:
    answer = status(
        connectors=[
            {
                "id": 1,
                "status": "Faulted",
                "fault": "connector1:evse",
                "error_code": "GroundFailure",
                "meter": None,
                "transaction": None,
            }
        ],
    )
    with serving(status=lambda: answer) as web:
        html = _get(web.url)[1]
    assert _rows(html, "connector")[0][-1] == "GroundFailure (connector1:evse)"
