"""What `cpagent status` says about the web page (on, where, or why not) and about a fault
(its OCPP 1.6 errorCode, not only the device's name), and the pilot in the `--watch` table."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.connector import ChargePointErrorCode, Connector, ConnectorStatus, Trigger
from cpagent.chargepoint.points import Point
from cpagent.commands.status import render, render_watch
from cpagent.config import load_config
from cpagent.daemon.events import ControlRequest, ShutdownRequested, WebPageState
from cpagent.daemon.loop import Inbox, OwnerLoop
from cpagent.daemon.status_report import connector_facts
from cpagent.daemon.web_wiring import start_web
from hw.events import DeviceFaulted
from tests.foundation.conftest import control_status, wait_until
from tests.foundation.test_config import MINIMAL, write
from tests.foundation.test_loop import Clock, RecordingApp
from tests.foundation.test_status_view import NOW, _answer
from tests.foundation.test_web_wiring import page_daemon

WEB_ON = {"listen": "127.0.0.1:8080", "url": "http://127.0.0.1:8080/", "error": None}
WEB_FAILED = {
    "listen": "127.0.0.1:8080",
    "url": None,
    "error": "web listen 127.0.0.1:8080: cannot listen there: Address already in use",
}


@pytest.mark.parametrize(
    ("web", "line"),
    [
        (WEB_ON, "web page: http://127.0.0.1:8080/"),
        (None, "web page: off (no [web] section in the config)"),
        (
            {**WEB_ON, "listen": "0.0.0.0:8080", "url": "http://0.0.0.0:8080/"},
            "web page: http://0.0.0.0:8080/ (on every address of this machine)",
        ),
        (
            WEB_FAILED,
            "web page: off: web listen 127.0.0.1:8080: cannot listen there: Address already "
            "in use (restart cpagent to retry)",
        ),
    ],
)
def test_the_view_says_whether_the_web_page_is_on_and_where(
    web: dict[str, Any] | None, line: str
) -> None:
    lines = render(_answer(web=web), now=NOW).splitlines()
    assert line in lines
    assert lines[-1].startswith("last error:")  # the error stays the last line


def test_an_older_daemon_without_the_web_fact_gets_no_web_line() -> None:
    assert "web page" not in render(_answer(), now=NOW)


def test_the_owner_loop_answers_status_with_the_web_page_state() -> None:
    inbox = Inbox()
    loop = OwnerLoop(RecordingApp(Clock()), inbox=inbox)
    thread = threading.Thread(target=loop.run, name="owner")
    thread.start()
    try:
        before = ControlRequest({"cmd": "status"})
        inbox.post(before)
        assert before.reply.result(5)["web"] is None  # not configured (yet)
        inbox.post(WebPageState(**WEB_ON))
        after = ControlRequest({"cmd": "status"})
        inbox.post(after)
        assert after.reply.result(5)["web"] == WEB_ON
    finally:
        inbox.post(ShutdownRequested("test over"))
        thread.join(5)


def test_start_web_tells_the_owner_where_the_page_is(tmp_path: Path) -> None:
    inbox = Inbox()
    page = start_web(
        load_config(write(tmp_path, MINIMAL + '[web]\nlisten = "127.0.0.1:0"\n')), inbox.post
    )
    assert page is not None
    try:
        posted = inbox.get(0)
        assert isinstance(posted, WebPageState)
        assert posted.url == page.url  # type: ignore[attr-defined]
        assert posted.listen == "127.0.0.1:0" and posted.error is None
    finally:
        page.stop()


def test_a_page_that_cannot_bind_is_a_fact_with_its_error(tmp_path: Path) -> None:
    inbox = Inbox()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = MINIMAL + f'[web]\nlisten = "127.0.0.1:{port}"\n'
        assert start_web(load_config(write(tmp_path, text)), inbox.post) is None
    posted = inbox.get(0)
    assert isinstance(posted, WebPageState)
    assert posted.url is None and posted.listen == f"127.0.0.1:{port}"
    assert posted.error is not None and "cannot listen there" in posted.error


@pytest.fixture
def daemon_with_page(bench_config: Path) -> Iterator[tuple[int, Path]]:
    """run_daemon (bench application) with `[web]` on a free loopback port."""
    with page_daemon(bench_config) as running:
        yield running.port, running.config.control.socket


def test_the_daemon_status_and_api_status_say_where_the_page_is(
    daemon_with_page: tuple[int, Path],
) -> None:
    port, control = daemon_with_page
    expected = {
        "listen": f"127.0.0.1:{port}",
        "url": f"http://127.0.0.1:{port}/",
        "error": None,
    }
    # the page and the control socket start side by side, and the page's address reaches
    # the owner loop as an event: wait for the status to say it
    wait_until(lambda: control_status(control).get("web") == expected, what="the page in status")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
        assert json.load(reply)["web"] == expected


def _faulted_point() -> Point:
    connector = Connector(1)
    connector.apply(Trigger.BECOME_AVAILABLE, 0.0)
    point = Point(connector)
    fault = DeviceFaulted(
        "connector1:evse", "GroundFailure", "controller reports ResidualCurrent", "ResidualCurrent"
    )
    point.faults.add(fault)
    connector.apply(
        Trigger.FAULT,
        1.0,
        ChargePointErrorCode.GROUND_FAILURE,
        info=fault.detail,
        vendor_error_code=fault.vendor_code,
    )
    assert connector.status is ConnectorStatus.FAULTED
    return point


def test_a_fault_in_the_status_answer_carries_its_ocpp_error_code() -> None:
    facts = connector_facts(
        1, _faulted_point(), relay=False, offered_current_a=0.0, wall_of=lambda m: m
    )
    assert facts["fault"] == "connector1:evse"  # the device(s) in fault, as before
    assert facts["error_code"] == "GroundFailure"  # what the StatusNotification said (§7.6)
    assert facts["error_info"] == "controller reports ResidualCurrent"
    assert facts["vendor_error_code"] == "ResidualCurrent"
    healthy = connector_facts(
        1, Point(Connector(1)), relay=False, offered_current_a=None, wall_of=lambda m: m
    )
    assert (healthy["error_code"], healthy["error_info"], healthy["vendor_error_code"]) == (
        None,
        None,
        None,
    )


def _faulted_answer() -> dict[str, Any]:
    answer = _answer()
    conn = answer["connectors"][0]
    conn.update(
        status="Faulted",
        relay=False,
        pilot="B",
        offered_current_a=0.0,
        transaction=None,
        fault="connector1:evse",
        error_code="GroundFailure",
        error_info="controller reports ResidualCurrent",
        vendor_error_code="ResidualCurrent",
    )
    return answer


def test_the_view_names_the_fault_by_its_error_code_and_device() -> None:
    text = render(_faulted_answer(), now=NOW)
    assert (
        "pilot B, offering 0 A, fault GroundFailure: controller reports ResidualCurrent "
        "(connector1:evse)" in text
    )
    watch = render_watch(_faulted_answer(), 1.0, now=NOW)
    assert "FAULT GroundFailure (connector1:evse)" in watch


def test_the_watch_table_shows_the_pilot_and_the_offered_current() -> None:
    lines = render_watch(_answer(), 1.0, now=NOW).splitlines()
    head = next(line for line in lines if line.startswith("conn"))
    row = next(line for line in lines if line.startswith("1 "))
    assert "pilot" in head and "offer A" in head
    cells = row.split()
    assert cells[cells.index("Charging") + 3 : cells.index("Charging") + 5] == ["C", "16.0"]


def test_the_view_says_which_limit_holds_the_offer_down() -> None:
    answer = _answer()
    answer["connectors"][0].update(
        status="SuspendedEVSE", offered_current_a=0.0, limit_a=4.0, relay=False
    )
    assert "pilot C, offering 0 A (limit 4 A), transaction 17" in render(answer, now=NOW)
    answer["connectors"][0].update(pilot=None, offered_current_a=None)  # no EVSE controller
    assert "11040 W, limit 4 A, transaction 17" in render(answer, now=NOW)


# -- a password in csms.url (ws://user:password@host) never reaches status or check-config ---
SECRET_URL = "ws://CP1:s3cretPass@127.0.0.1:9/ocpp/CP1"


def test_a_password_in_the_url_is_redacted_from_the_link_reason_and_the_errors() -> None:
    from cpagent.daemon.link_status import LinkStatus, Problems
    from cpagent.transports.events import LinkCause, TransportDown

    link, problems = LinkStatus(), Problems()
    reason = f"cannot connect to {SECRET_URL}: [Errno 111] Connection refused"
    link.went_down(TransportDown(reason, LinkCause.REFUSED), 1.0)
    problems.raise_("csms", f"CSMS link: {reason}", 1.0)
    shown = json.dumps([link.as_dict(), problems.last, problems.as_list()])
    assert "s3cretPass" not in shown
    assert "ws://CP1:***@127.0.0.1:9/ocpp/CP1" in shown  # which URL stays readable


def test_check_config_does_not_print_a_password_in_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cpagent.cli import main

    text = MINIMAL.replace('"ws://127.0.0.1:9000/ocpp"', '"ws://CP1:s3cretPass@127.0.0.1:9/ocpp"')
    assert main(["check-config", str(write(tmp_path, text))]) == 0
    out = capsys.readouterr()
    assert "s3cretPass" not in out.out + out.err
    assert "ws://CP1:***@127.0.0.1:9/ocpp/CP1" in out.out


def test_the_watch_view_has_the_last_messages_the_phases_and_the_session_energy() -> None:
    lines = render_watch(_answer(), 1.0, now=NOW).splitlines()
    assert "  last message sent: 2026-11-30 00:50:19 UTC (3 min ago); received: none yet" in lines
    row = next(i for i, line in enumerate(lines) if line.startswith("1 "))
    assert lines[row + 1] == (
        "     L1 230.0 V 16.00 A, L2 230.5 V 16.50 A, L3 231.0 V 17.00 A; session 2.346 kWh"
    )
