"""WebSocket transport against an independent `ocpp` central system on loopback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.websocket import WebSocketTransport
from tests.support.central_system import CentralSystem
from tests.support.certs import Pki, make_pki
from tests.support.net import wait_until
from tests.support.proxy import TcpProxy
from tests.support.recorder import EventRecorder

FAST = BackoffPolicy(initial_s=0.01, max_s=0.05, stable_after_s=1.0, auth_failure_s=60.0)
BOOT = json.dumps(
    [2, "boot-1", "BootNotification", {"chargePointVendor": "cpagent", "chargePointModel": "test"}]
)


@pytest.fixture
def transports() -> Iterator[list[WebSocketTransport]]:
    """Collects transports made by a test and stops them all at the end."""
    made: list[WebSocketTransport] = []
    yield made
    for transport in made:
        transport.stop(2.0)


def make(made: list[WebSocketTransport], url: str, post: Any, **kwargs: Any) -> WebSocketTransport:
    kwargs.setdefault("backoff", FAST)
    kwargs.setdefault("ping_interval_s", 0)
    transport = WebSocketTransport(url, kwargs.pop("cp_id", "CP001"), post, **kwargs)
    made.append(transport)
    transport.start()
    return transport


def test_frames_flow_both_ways(
    central_system: CentralSystem, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    transport = make(transports, central_system.url, recorder.post)
    assert recorder.wait_for(TransportUp) == TransportUp("ocpp1.6")
    assert transport.send(BOOT)
    answer = json.loads(recorder.wait_for(FrameReceived).text)
    assert answer[:2] == [3, "boot-1"] and answer[2]["status"] == "Accepted"
    assert central_system.actions("CP001") == ["BootNotification"]

    # A CALL from the central system arrives as a frame; our CALLRESULT completes it.
    results: list[Any] = []
    caller = threading.Thread(
        target=lambda: results.append(
            central_system.call("CP001", call.RemoteStartTransaction(id_tag="TAG1", connector_id=1))
        )
    )
    caller.start()
    frame = json.loads(recorder.wait_for(FrameReceived, count=2).text)
    assert frame[0] == 2 and frame[2] == "RemoteStartTransaction"
    assert transport.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
    caller.join(5)
    assert results and results[0].status == "Accepted"


def test_send_is_refused_while_not_connected(
    recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    central = CentralSystem()  # never started: connection refused
    try:
        transport = make(transports, central.url, recorder.post)
        assert "cannot connect" in recorder.wait_for(TransportDown).reason
        assert transport.send(BOOT) is False
        assert recorder.of(TransportUp) == []
    finally:
        central.close()


def test_reconnects_after_server_restart(
    central_system: CentralSystem, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    transport = make(transports, central_system.url, recorder.post)
    recorder.wait_for(TransportUp)
    central_system.stop()
    assert "closed by central system" in recorder.wait_for(TransportDown).reason
    central_system.start()
    # a reconnect begun while the server was going down can wait out its 10 s connect
    # timeout before the next attempt reaches the new listener
    recorder.wait_for(TransportUp, count=2, timeout=30)
    assert transport.send(BOOT)
    wait_until(lambda: central_system.actions("CP001") == ["BootNotification"])


def test_half_open_link_is_detected_and_replaced(
    central_system: CentralSystem, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    with TcpProxy(central_system.port) as proxy:
        make(
            transports,
            f"ws://127.0.0.1:{proxy.port}",
            recorder.post,
            ping_interval_s=0.1,
            pong_timeout_s=0.3,
            connect_timeout_s=0.5,
        )
        recorder.wait_for(TransportUp)
        proxy.blackhole = True  # the server stops answering pings; TCP stays "up"
        assert "no pong" in recorder.wait_for(TransportDown).reason
        proxy.blackhole = False  # (a handshake swallowed meanwhile times out and is retried)
        recorder.wait_for(TransportUp, count=2)


@pytest.mark.parametrize(
    ("chosen", "reason"),
    [(None, "selected no subprotocol"), ("ocpp2.0.1", "selected subprotocol 'ocpp2.0.1'")],
)
def test_server_picking_no_or_another_subprotocol_is_refused(
    chosen: str | None,
    reason: str,
    recorder: EventRecorder,
    transports: list[WebSocketTransport],
) -> None:
    def select(_offered: Sequence[str]) -> str | None:
        return chosen

    with CentralSystem(subprotocols=("ocpp1.6", "ocpp2.0.1"), select_subprotocol=select) as cs:
        make(transports, cs.url, recorder.post)
        down = recorder.wait_for(TransportDown, count=2)  # refused, backed off, refused again
        assert reason in down.reason and "offered 'ocpp1.6'" in down.reason
        assert recorder.of(TransportUp) == []


@pytest.mark.parametrize("subprotocol", ["ocpp2.0.1", "ocpp2.1"])
def test_newer_subprotocols_are_offered_and_accepted(
    subprotocol: str, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    with CentralSystem(subprotocols=(subprotocol,)) as cs:
        make(transports, cs.url, recorder.post, subprotocol=subprotocol)
        assert recorder.wait_for(TransportUp) == TransportUp(subprotocol)


def test_basic_auth_with_the_right_password_connects(
    recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    with CentralSystem(passwords={"CP001": "s3cret-pass"}) as cs:
        make(transports, cs.url, recorder.post, security_profile=1, password="s3cret-pass")
        recorder.wait_for(TransportUp)
        assert cs.auth_failures == 0


def test_wrong_password_backs_off_long_and_never_logs_the_password(
    recorder: EventRecorder,
    transports: list[WebSocketTransport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with CentralSystem(passwords={"CP001": "s3cret-pass"}) as cs:
        transport = make(
            transports, cs.url, recorder.post, security_profile=1, password="wrong-pass"
        )
        assert "HTTP 401" in recorder.wait_for(TransportDown).reason
        wait_until(lambda: "retrying in" in caplog.text)
        transport.stop(2.0)  # prompt even in the middle of the long wait
        assert cs.handshakes == 1 and cs.auth_failures == 1
    refusals = [r for r in caplog.records if "refused our credentials" in r.getMessage()]
    assert len(refusals) == 1
    delay_s = float(refusals[0].getMessage().rsplit("retrying in ", 1)[1].split()[0])
    assert delay_s >= 30.0  # half of auth_failure_s at least, not the 0.05 s ordinary cap
    assert "wrong-pass" not in caplog.text


@pytest.fixture
def tls_cs(pki: Pki, request: pytest.FixtureRequest) -> Iterator[CentralSystem]:
    passwords = {"CP001": "s3cret-pass"} if request.param == 2 else None
    context = pki.server_context(require_client_cert=request.param == 3)
    with CentralSystem(ssl_context=context, passwords=passwords) as cs:
        yield cs


@pytest.mark.parametrize("tls_cs", [2, 3], indirect=True)
def test_tls_profiles_connect_with_a_trusted_server(
    tls_cs: CentralSystem,
    pki: Pki,
    request: pytest.FixtureRequest,
    recorder: EventRecorder,
    transports: list[WebSocketTransport],
) -> None:
    profile = request.node.callspec.params["tls_cs"]
    tls: dict[str, Any] = {"ca_file": pki.ca_file}
    if profile == 3:
        tls |= {"cert_file": pki.client_cert_file, "key_file": pki.client_key_file}
    else:
        tls |= {"password": "s3cret-pass"}
    transport = make(transports, tls_cs.url, recorder.post, security_profile=profile, **tls)
    recorder.wait_for(TransportUp)
    assert transport.send(BOOT)
    wait_until(lambda: tls_cs.actions("CP001") == ["BootNotification"])


@pytest.mark.parametrize("tls_cs", [2], indirect=True)
def test_server_certificate_from_an_unknown_ca_is_never_accepted(
    tls_cs: CentralSystem,
    tmp_path: Path,
    recorder: EventRecorder,
    transports: list[WebSocketTransport],
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    stranger = make_pki(other)
    make(
        transports,
        tls_cs.url,
        recorder.post,
        security_profile=2,
        password="s3cret-pass",
        ca_file=stranger.ca_file,
    )
    down = recorder.wait_for(TransportDown, count=2)
    assert "certificate rejected" in down.reason
    assert recorder.of(TransportUp) == [] and tls_cs.handshakes == 0


@pytest.mark.parametrize("tls_cs", [3], indirect=True)
def test_profile_3_server_refuses_a_chargepoint_without_its_certificate(
    tls_cs: CentralSystem,
    tmp_path: Path,
    pki: Pki,
    recorder: EventRecorder,
    transports: list[WebSocketTransport],
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    stranger = make_pki(other)  # client certificate signed by a CA the server does not know
    make(
        transports,
        tls_cs.url,
        recorder.post,
        security_profile=3,
        ca_file=pki.ca_file,
        cert_file=stranger.client_cert_file,
        key_file=stranger.client_key_file,
    )
    recorder.wait_for(TransportDown, count=2)
    assert recorder.of(TransportUp) == []


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        ("http://x", {}, "ws:// or wss://"),
        ("ws://x", {"subprotocol": "ocpp1.5"}, "subprotocol"),
        ("ws://x", {"security_profile": 1}, "password"),
        ("ws://x", {"security_profile": 2, "password": "p"}, "wss://"),
        ("wss://x", {"security_profile": 0}, "ws://"),
        ("wss://x", {"security_profile": 3}, "cert_file"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    url: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WebSocketTransport(url, "CP001", lambda _e: None, **kwargs)


def test_chargepoint_id_is_the_last_path_segment() -> None:
    transport = WebSocketTransport("ws://127.0.0.1:9/ocpp/", "CP 1/a", lambda _e: None)
    assert transport.url == "ws://127.0.0.1:9/ocpp/CP%201%2Fa"
