"""The web page served by a running daemon: a real session end to end, seen in Chromium.

The daemon (`cpagent run`, simulated devices) runs against the strict `ocpp` central system
with `[web]` on 127.0.0.1; one session is charged (plug, card, meter samples, card, unplug,
all through `cpagent ctl`). Headless Chromium then renders `/` and `/sessions` from the
daemon, and `/api/status` and `/metrics` are read as a script and a Prometheus server would.
The screenshot is kept in the test's tmp dir (its path is printed; run with -s to see it);
with CPAGENT_DOCS_SCREENSHOT=1 it replaces docs/img/web-sessions.png, the picture README
shows (a test run never edits the tree otherwise).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import _daemon, boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import Daemon, cli
from tests.support.browser import PNG_MAGIC, Chromium
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
README_SHOT = REPO / "docs" / "img" / "web-sessions.png"
CARD = "04A1B2C3D4"
DOCS_SHOT = os.environ.get("CPAGENT_DOCS_SCREENSHOT") == "1"
# The simulated EV's draw, one step per MeterValues sample (1 s apart; the connector's 16 A
# caps it near 3.7 kW); for README's picture a longer session that ramps up and tapers off
# at the end, as a filling battery does.
LOADS_W = (
    (1800, *(3700,) * 15, 3300, 2900, 2400, 1900, 1400, 900, 500, 0)
    if DOCS_SHOT
    else (1800, 3700, 3700, 2400, 900)
)
PASSWORD = "page-Pa55word"


@dataclass(frozen=True, slots=True)
class Paged:
    """A running daemon with the page on, after one finished session."""

    daemon: Daemon
    csms: StrictCentralSystem
    url: str


def _ctl(daemon: Daemon, *args: str) -> None:
    done = cli("ctl", "--config", str(daemon.config_path), *args)
    assert done.returncode == 0, f"ctl {args}: {done.stdout}{done.stderr}"


def _get(url: str, password: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if password is not None:
        token = base64.b64encode(f"installer:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _web(listen: str, password: str | None = None) -> str:
    return f'\n[web]\nlisten = "{listen}"\n' + (f'password = "{password}"\n' if password else "")


@pytest.fixture(scope="module")
def paged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paged]:
    central = StrictCentralSystem(heartbeat_interval=300)
    central.start()
    port = free_port()
    try:
        workdir = tmp_path_factory.mktemp("web")
        for daemon in _daemon(workdir, central, extra=_web(f"127.0.0.1:{port}")):
            boot(daemon, central)
            _charge_one_session(daemon, central)
            yield Paged(daemon, central, f"http://127.0.0.1:{port}/")
    finally:
        central.close()
    assert not central.violations, central.violations


def _charge_one_session(daemon: Daemon, csms: StrictCentralSystem) -> None:
    """Plug, card, a few MeterValues at changing power, card again, unplug."""
    _ctl(daemon, "plug", "1")
    csms.wait_status(1, "Preparing")
    _ctl(daemon, "tap", CARD)
    csms.wait_call("StartTransaction")
    csms.wait_status(1, "Charging")
    for n, watts in enumerate(LOADS_W, start=1):
        _ctl(daemon, "ev-load", "1", str(watts))
        csms.wait_call("MeterValues", count=n)  # MeterValueSampleInterval = 1 s
    _ctl(daemon, "tap", CARD)
    csms.wait_call("StopTransaction")
    _ctl(daemon, "unplug", "1")
    csms.wait_status(1, "Available")


def test_chromium_renders_the_daemons_live_view_and_session_plot(
    paged: Paged, tmp_path: Path
) -> None:
    browser = Chromium(tmp_path / "profile")
    live = browser.dom(paged.url)
    sessions = browser.dom(paged.url + "sessions")
    shot = tmp_path / "web-sessions.png"
    picture = browser.screenshot(paged.url + "sessions", shot, size="1200,470")
    live_shot = tmp_path / "web-live.png"
    browser.screenshot(paged.url, live_shot, size="1400,560")
    print(f"\nscreenshots of the daemon's /sessions and /: {shot}, {live_shot}")

    rows = re.findall(r'<tr class="connector" data-connector="(\d+)">(.*?)</tr>', live, re.S)
    assert [r[0] for r in rows] == ["1"], live[:3000]
    assert '<td class="status">Available</td>' in rows[0][1]
    assert "E2E-1" in live and "connected (ocpp1.6)" in live and "accepted" in live

    stop = paged.csms.calls("StopTransaction")[0]
    row = re.search(r'<tr class="session-row" data-session="(\d+)">(.*?)</tr>', sessions, re.S)
    assert row is not None, sessions[:3000]
    assert row.group(1) == str(stop["transactionId"])
    assert "****C3D4" in row.group(2) and CARD not in sessions
    assert f"<td>{stop['reason']}</td>" in row.group(2)  # Local: the card ended it
    for name in ("power", "energy"):
        path = re.search(rf'<path class="{name}" d="([^"]+)"', sessions)
        assert path, f"no {name} path in the rendered DOM"
        points = re.findall(r"[\d.]+,[\d.]+", path.group(1))
        assert len(points) >= len(LOADS_W), path.group(1)

    assert picture.startswith(PNG_MAGIC) and len(picture) > 10_000  # a real picture
    if DOCS_SHOT:
        shutil.copyfile(shot, README_SHOT)


def test_api_status_is_the_control_socket_answer_with_card_ids_masked(paged: Paged) -> None:
    code, body = _get(paged.url + "api/status")
    assert code == 200
    page: dict[str, Any] = json.loads(body)
    socket_answer = paged.daemon.status()
    for key in ("chargepoint", "connection", "registration", "subprotocol"):
        assert page[key] == socket_answer[key], key
    assert [c["status"] for c in page["connectors"]] == ["Available"]
    assert page["last_card"] == "****C3D4" and CARD not in body


def test_api_sessions_has_the_session_with_its_samples(paged: Paged) -> None:
    code, body = _get(paged.url + "api/sessions")
    assert code == 200
    answer = json.loads(body)
    start = paged.csms.calls("StartTransaction")[0]
    stop = paged.csms.calls("StopTransaction")[0]
    assert answer["total"] == 1
    (session,) = answer["sessions"]
    assert (session["meter_start_wh"], session["meter_stop_wh"]) == (
        start["meterStart"],
        stop["meterStop"],
    )
    assert session["id_tag"] == "****C3D4" and session["acknowledged"] is True
    assert len(session["samples"]) >= len(LOADS_W)


def test_metrics_from_the_daemon_parse_as_prometheus_text(paged: Paged) -> None:
    code, body = _get(paged.url + "metrics")
    assert code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    one = (("connector", "1"),)
    assert samples[("cpagent_daemon_up", ())] == 1
    assert samples[("cpagent_csms_connected", ())] == 1
    assert samples[("cpagent_registration_status", (("status", "Accepted"),))] == 1
    assert samples[("cpagent_connector_status", (("connector", "1"), ("status", "Available")))] == 1
    assert samples[("cpagent_connector_relay_closed", one)] == 0
    meter_stop = paged.csms.calls("StopTransaction")[0]["meterStop"]
    register = samples[("cpagent_connector_energy_register_watt_hours", one)]
    assert round(register) == meter_stop  # the billing register; meterStop is whole Wh
    assert samples[("cpagent_queued_messages", ())] == 0
    assert ("cpagent_oldest_queued_message_age_seconds", ()) not in samples  # none waits
    assert samples[("cpagent_errors_active", ())] == 0
    assert samples[("cpagent_reconnects_total", ())] == 0


@pytest.fixture
def guarded(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[tuple[Daemon, str]]:
    port = free_port()
    for daemon in _daemon(tmp_path, csms, extra=_web(f"[::1]:{port}", PASSWORD)):
        boot(daemon, csms)
        yield daemon, f"http://[::1]:{port}/"


def test_a_password_on_loopback_is_asked_for_and_never_logged(
    guarded: tuple[Daemon, str],
) -> None:
    daemon, url = guarded
    for route in ("", "sessions", "api/status", "api/sessions"):
        code, body = _get(url + route)
        assert code == 401 and "E2E-1" not in body, route
        assert _get(url + route, "wrong-password")[0] == 401, route
        assert _get(url + route, PASSWORD)[0] == 200, route
    assert _get(url + "metrics")[0] == 200  # open for scrapers
    assert PASSWORD not in daemon.log_path.read_text()


def test_a_port_in_use_leaves_the_page_off_and_the_charger_working(
    tmp_path: Path, csms: StrictCentralSystem
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for daemon in _daemon(tmp_path, csms, extra=_web(f"127.0.0.1:{port}")):
            boot(daemon, csms)  # registered and Available: charging does not need the page
            _ctl(daemon, "plug", "1")
            csms.wait_status(1, "Preparing")
            log = daemon.last_run_log()
            assert f"web listen 127.0.0.1:{port}: cannot listen there" in log
            assert "the web page is off, charging goes on" in log
