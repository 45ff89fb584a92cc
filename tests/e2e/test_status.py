"""`cpagent status` against the real daemon and the public `ocpp` central system: version and
uptime, link facts and hints for refused links, an error that clears, registration retry,
session energy, masked card ids, and per-phase values from an SDM630 twin on a pty."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

import cpagent
from hw.meters.rtu_sim import SdmTwin
from hw.rtu_twin import RtuBusSimulator
from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon, cli
from tests.support.daemon import DaemonProcess
from tests.support.sim_config import sim_config


def _time(text: object) -> float:
    """POSIX seconds of an RFC 3339 UTC time as the status gives it (with `Z`)."""
    assert isinstance(text, str) and text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _status(daemon: DaemonProcess, *extra: str) -> str:
    result = cli("status", "--socket", str(daemon.socket_path), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def _daemon_at(workdir: Path, url: str, csms_extra: str = "") -> Iterator[Daemon]:
    sock_dir = Path(tempfile.mkdtemp(prefix="cpst-"))  # sun_path is 107 bytes at most
    daemon = Daemon(workdir, sock_dir / "ctl.sock", url, csms_extra)
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_version_uptime_and_the_link_facts(daemon: Daemon, csms: StrictCentralSystem) -> None:
    before = time.time()
    boot(daemon, csms)
    first = daemon.status()
    assert first["version"] == cpagent.__version__
    assert before - 5 <= _time(first["started_at"]) <= time.time() + 1
    link = first["link"]
    assert link["state"] == "connected" and link["subprotocol"] == "ocpp1.6"
    assert _time(link["since"]) >= _time(first["started_at"]) - 1
    assert _time(link["last_sent"]) >= _time(link["since"]) - 1  # the BootNotification at least
    assert _time(link["last_received"]) >= _time(link["since"]) - 1
    assert link["reason"] is None and link["hint"] is None and link["next_retry"] is None
    assert first["last_error"] is None and first["registration_retry_at"] is None
    later = daemon.wait(lambda s: s["uptime_s"] > first["uptime_s"], what="uptime to grow")
    assert later["started_at"] == first["started_at"]
    text = _status(daemon)
    assert f"cpagent {cpagent.__version__}, up " in text.splitlines()[0]
    assert "CSMS: connected (ocpp1.6) since " in text and "registration: accepted" in text


def test_last_error_clears_once_the_central_system_is_back(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    csms.stop()
    down = daemon.wait(
        lambda s: s["connection"] == "disconnected" and s["last_error"], what="link down"
    )
    assert down["last_error"].startswith("CSMS link: ")
    csms.start()
    back = daemon.wait(
        lambda s: s["connection"] == "connected" and s["registration"] == "Accepted",
        timeout=20,
        what="reconnected",
    )
    assert back["last_error"] is None  # the condition is gone, so is the error
    assert back["errors_active"] == [] and back["errors"] >= 1 and back["reconnects"] >= 1
    assert "last error: none" in _status(daemon)


def test_a_link_down_has_a_reason_since_and_next_retry(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    csms.stop()
    down = daemon.wait(
        lambda s: s["connection"] == "disconnected" and s["link"]["next_retry"] is not None,
        what="link down with a retry time",
    )
    link = down["link"]
    assert link["cause"] in ("closed", "lost", "refused") and link["reason"]
    assert _time(link["next_retry"]) >= _time(link["since"])
    text = _status(daemon)
    assert "CSMS: disconnected since " in text and "  reason: " in text
    assert "  next retry: " in text


class _NotFound(BaseHTTPRequestHandler):
    """A web server without an OCPP endpoint at the path (RFC 6455 §4.1: not 101, no link)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@contextmanager
def _http_404() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.server_address[1]}/not/ocpp"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _central(**kwargs: Any) -> Iterator[str]:
    central = StrictCentralSystem(**kwargs)
    central.start()
    try:
        yield central.url
    finally:
        central.close()


def _no_subprotocol(_offered: Sequence[str]) -> str | None:
    return None  # RFC 6455 §4.2.2: Sec-WebSocket-Protocol left out of the answer


SERVERS: dict[str, tuple[Callable[[], Any], str, str, str]] = {
    # name: (server, [csms] lines, cause, words of the hint)
    "401": (
        lambda: _central(passwords={CHARGEPOINT_ID: "s3cret-Pa55"}),
        'password = "wrong-password"\n',
        "auth",
        "check [chargepoint] id and [csms] password",
    ),
    "404": (_http_404, "", "http", "check the path in [csms] url"),
    "no-subprotocol": (
        lambda: _central(select_subprotocol=_no_subprotocol),
        "",
        "subprotocol",
        "the central system doesn't speak ocpp1.6 at that URL",
    ),
}


@pytest.mark.parametrize("name", list(SERVERS))
def test_a_refused_link_shows_why_the_next_retry_and_a_hint(tmp_path: Path, name: str) -> None:
    server, csms_extra, cause, words = SERVERS[name]
    with server() as url, _daemon_at(tmp_path, url, csms_extra) as daemon:
        daemon.start()
        status = daemon.wait(
            lambda s: s["link"]["cause"] is not None, timeout=15, what=f"the link refused ({name})"
        )
        link = status["link"]
        assert link["state"] == "disconnected" and link["cause"] == cause
        assert words in link["hint"]
        assert _time(link["next_retry"]) >= _time(link["since"])
        assert status["registration"] == "None"
        text = _status(daemon)
        assert f"  hint: {link['hint']}" in text
        assert "  next retry: " in text and "registration: not registered yet" in text
        assert "wrong-password" not in text + daemon.log_path.read_text()


def test_pending_registration_shows_when_the_next_boot_goes(tmp_path: Path) -> None:
    csms = StrictCentralSystem(boot_status="Pending", heartbeat_interval=120)
    csms.start()
    try:
        with _daemon_at(tmp_path, csms.url) as daemon:
            daemon.start()
            status = daemon.wait(lambda s: s["registration"] == "Pending", what="Pending")
            retry = _time(status["registration_retry_at"])
            assert 100 <= retry - time.time() <= 125  # §4.2: after the interval given
            assert "registration: pending, retry at " in _status(daemon)
    finally:
        csms.close()


def test_card_ids_are_masked_unless_show_tags_and_the_session_energy_is_shown(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="04A1B2C3D4")
    connector = daemon.wait_connector(
        lambda c: (
            c["transaction"]
            and c["transaction"]["id"] is not None
            and c["transaction"]["energy_wh"] is not None
        ),
        what="a transaction with a meter reading",
    )
    tx = connector["transaction"]
    assert tx["energy_wh"] >= 0 and tx["meter_start_wh"] >= 0
    assert _time(tx["started_at"]) <= time.time() + 1
    human, raw = _status(daemon), _status(daemon, "--json")
    assert "04A1B2C3D4" not in human + raw
    assert "for ****C3D4" in human and "  session: " in human
    assert json.loads(raw)["connectors"][0]["transaction"]["id_tag"] == "****C3D4"
    shown = json.loads(_status(daemon, "--json", "--show-tags"))
    assert shown["connectors"][0]["transaction"]["id_tag"] == "04A1B2C3D4"


@pytest.fixture
def sdm630_bus() -> Iterator[tuple[RtuBusSimulator, SdmTwin]]:
    meter = SdmTwin("SDM630", unit=1)
    meter.set(voltage_v=230.0, current_a=10.0, power_w=6900.0, energy_wh=5000.0, frequency_hz=50.0)
    with RtuBusSimulator([meter]) as simulator:
        yield simulator, meter


def test_per_phase_values_from_an_sdm630(
    tmp_path: Path, csms: StrictCentralSystem, sdm630_bus: tuple[RtuBusSimulator, SdmTwin]
) -> None:
    bus, _meter = sdm630_bus
    connector = (
        "[[connector]]\nrelay_pin = 17\nplug_pin = 27\n\n"
        f'[connector.meter]\ndriver = "sdm630"\nport = "{bus.port}"\nunit = 1\n'
        "poll_interval_s = 0.2\n"
    )
    sock_dir = Path(tempfile.mkdtemp(prefix="cpst-"))
    text = sim_config(
        cp_id=CHARGEPOINT_ID,
        url=csms.url,
        csms={"call_timeout_s": 5.0, "backoff_min_s": 0.1, "backoff_max_s": 0.5},
        state=tmp_path / "state",
        socket=sock_dir / "ctl.sock",
        connectors=(),
        extra="\n" + connector,
    )
    daemon = DaemonProcess(tmp_path, sock_dir / "ctl.sock", text)
    try:
        daemon.launch()
        conn = daemon.wait_connector(lambda c: c["meter"] is not None, what="an SDM630 sample")
        meter = conn["meter"]
        # the twin gives each phase a 0.5 offset, so the phases are told apart
        assert meter["phases"] == [
            {"phase": "L1", "voltage_v": 230.0, "current_a": 10.0},
            {"phase": "L2", "voltage_v": 230.5, "current_a": 10.5},
            {"phase": "L3", "voltage_v": 231.0, "current_a": 11.0},
        ]
        assert meter["frequency_hz"] == 50.0 and meter["energy_wh"] == 5000.0
        assert abs(_time(meter["at"]) - time.time()) < 10
        assert "meter: L1 230.0 V 10.00 A, L2 230.5 V 10.50 A, L3 231.0 V 11.00 A" in _status(
            daemon
        )
    finally:
        daemon.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_a_meter_fault_shows_as_last_error_until_the_meter_recovers(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("fault", connector=1, code="PowerMeterFailure")
    faulted = daemon.wait(lambda s: s["last_error"], what="the meter fault")
    assert "PowerMeterFailure" in faulted["last_error"]
    daemon.do("clear-fault", connector=1)
    healed = daemon.wait_connector(lambda c: c["status"] == "Available", what="meter back")
    assert healed["fault"] is None
    assert daemon.status()["last_error"] is None  # the condition is gone, so is the error
    assert [e["source"] for e in faulted["errors_active"]] == ["connector1:meter"]
