"""MQTT transport against Debian's mosquitto on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.transports.events import FrameReceived, LinkCause, TransportDown, TransportUp
from cpagent.transports.mqtt import BrokerLogin, MqttTransport, Topics
from tests.support.certs import make_pki
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt_peer import MqttPeer
from tests.support.net import free_port, wait_until
from tests.support.proxy import TcpProxy
from tests.support.recorder import EventRecorder

T = Topics.for_chargepoint("ocpp", "CP001")


@pytest.fixture
def transports() -> Iterator[list[MqttTransport]]:
    made: list[MqttTransport] = []
    yield made
    for transport in made:
        transport.stop(2.0)


def make(made: list[MqttTransport], port: int, post: Any, **kwargs: Any) -> MqttTransport:
    kwargs.setdefault("require_csms_online", False)
    kwargs.setdefault("keepalive_s", 2)
    transport = MqttTransport(
        "127.0.0.1", port, "CP001", post, reconnect_min_s=1, reconnect_max_s=1, **kwargs
    )
    made.append(transport)
    transport.start()
    return transport


@pytest.fixture
def peer(mosquitto: Mosquitto) -> Iterator[MqttPeer]:
    with MqttPeer(mosquitto.host, mosquitto.port, ["ocpp/#"]) as test_peer:
        yield test_peer


def test_frames_flow_both_ways_and_state_is_online(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    transport = make(transports, mosquitto.port, recorder.post)
    assert recorder.wait_for(TransportUp) == TransportUp("ocpp1.6")
    peer.wait_for_text(T.state, "online")
    assert transport.send('[2,"1","Heartbeat",{}]')
    peer.wait_for_text(T.up, '[2,"1","Heartbeat",{}]')
    peer.publish(T.down, '[3,"1",{"currentTime":"2026-11-30T00:00:00Z"}]')
    assert recorder.wait_for(FrameReceived).text == '[3,"1",{"currentTime":"2026-11-30T00:00:00Z"}]'


def test_clean_stop_leaves_a_retained_offline(
    mosquitto: Mosquitto, recorder: EventRecorder, transports: list[MqttTransport]
) -> None:
    transport = make(transports, mosquitto.port, recorder.post)
    recorder.wait_for(TransportUp)
    transport.stop()
    assert transport.send("x") is False
    with MqttPeer(mosquitto.host, mosquitto.port, [T.state], client_id="late") as late:
        late.wait_for_text(T.state, "offline")
        assert late.messages(T.state)[-1].retain


def test_last_will_says_offline_when_the_link_dies(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    with TcpProxy(mosquitto.port) as proxy:
        make(transports, proxy.port, recorder.post)
        recorder.wait_for(TransportUp)
        peer.wait_for_text(T.state, "online")
        proxy.cut()  # the broker sees the TCP connection die without a DISCONNECT
        wait_until(lambda: peer.texts(T.state)[:2] == ["online", "offline"], 10, "the will")
        recorder.wait_for(TransportUp, count=2)  # and we come back
        wait_until(lambda: peer.texts(T.state)[-1] == "online")


def test_broker_down_at_start_up_is_survived(
    tmp_path: Path, recorder: EventRecorder, transports: list[MqttTransport]
) -> None:
    broker = Mosquitto(tmp_path / "late-broker", port=free_port())
    make(transports, broker.port, recorder.post)
    down = recorder.wait_for(TransportDown)
    assert "cannot connect to broker" in down.reason and down.cause is LinkCause.NETWORK
    broker.start()
    try:
        recorder.wait_for(TransportUp, timeout=10)
    finally:
        broker.stop()


def test_frame_in_flight_during_broker_restart_is_delivered_after_reconnect(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    with TcpProxy(mosquitto.port) as proxy:
        transport = make(transports, proxy.port, recorder.post)
        recorder.wait_for(TransportUp)
        proxy.blackhole = True  # the PUBLISH leaves us but is never acknowledged
        assert transport.send("in-flight")
        proxy.blackhole = False
        mosquitto.restart()
        recorder.wait_for(TransportUp, count=2, timeout=15)
        peer.wait_for_text(T.up, "in-flight", timeout=15)


def test_frames_for_an_absent_chargepoint_wait_in_its_session_across_a_broker_restart(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    first = make(transports, mosquitto.port, EventRecorder().post)
    wait_until(lambda: "online" in peer.texts(T.state))
    first.stop()
    peer.publish(T.down, "queued-while-away")
    mosquitto.restart()
    make(transports, mosquitto.port, recorder.post)
    assert recorder.wait_for(FrameReceived, timeout=15).text == "queued-while-away"


def test_link_is_up_only_while_the_bridge_reports_the_central_system_online(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    transport = make(transports, mosquitto.port, recorder.post, require_csms_online=True)
    peer.wait_for_text(T.state, "online")
    assert recorder.of(TransportUp) == [] and transport.send("x") is False
    peer.publish(T.csms, "online", retain=True)
    recorder.wait_for(TransportUp)
    assert transport.send("now")
    peer.publish(T.csms, "offline", retain=True)
    down = recorder.wait_for(TransportDown)
    assert "central system" in down.reason and down.cause is LinkCause.PEER_DOWN
    assert transport.send("x") is False


@pytest.mark.parametrize(("password", "up"), [("right", True), ("wrong", False)])
def test_broker_credentials(
    tmp_path: Path,
    password: str,
    up: bool,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    broker = Mosquitto(tmp_path / "auth-broker", passwords={"cp": "right"})
    broker.start()
    try:
        make(
            transports,
            broker.port,
            recorder.post,
            login=BrokerLogin(username="cp", password=password),
        )
        if up:
            recorder.wait_for(TransportUp)
        else:
            down = recorder.wait_for(TransportDown)
            assert "refused" in down.reason and down.cause is LinkCause.AUTH, down
            assert recorder.of(TransportUp) == []
    finally:
        transports[0].stop(2.0)
        broker.stop()


@pytest.mark.parametrize("chargepoint_id", ["", "a/b", "cp+", "cp#"])
def test_ids_that_cannot_be_a_topic_level_are_refused(chargepoint_id: str) -> None:
    with pytest.raises(ValueError, match="topic level"):
        MqttTransport("127.0.0.1", 1883, chargepoint_id, lambda _e: None)


@pytest.mark.parametrize("trusted", [True, False])
def test_tls_broker_is_used_only_when_its_certificate_verifies(
    tmp_path: Path,
    trusted: bool,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    pki = make_pki(tmp_path)
    stranger_dir = tmp_path / "stranger"
    stranger_dir.mkdir()
    ca_file = pki.ca_file if trusted else make_pki(stranger_dir).ca_file
    broker = Mosquitto(
        tmp_path / "tls-broker", tls_files=(pki.ca_file, *pki.write_server_files(tmp_path))
    )
    broker.start()
    try:
        make(transports, broker.port, recorder.post, login=BrokerLogin(tls=True, ca_file=ca_file))
        if trusted:
            recorder.wait_for(TransportUp)
        else:
            recorder.wait_for(TransportDown, count=2)  # refused, retried, refused
            assert recorder.of(TransportUp) == []
    finally:
        transports[0].stop(2.0)
        broker.stop()


def test_a_frame_before_the_link_is_up_is_dropped_with_a_warning(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before the fix it was posted before TransportUp and the OCPP session raised
    # NotConnected; the persistent session replayed it at every start.
    make(transports, mosquitto.port, recorder.post, require_csms_online=True)
    peer.wait_for_text(T.state, "online")
    peer.publish(T.down, '[2,"early","RemoteStartTransaction",{"idTag":"STRANGER"}]')
    wait_until(lambda: "before the link was up" in caplog.text, 10, "the warning")
    peer.publish(T.csms, "online", retain=True)
    recorder.wait_for(TransportUp)
    peer.publish(T.down, "after-up")
    assert recorder.wait_for(FrameReceived).text == "after-up"
    assert [e.text for e in recorder.of(FrameReceived)] == ["after-up"]


def test_a_retained_frame_on_down_is_never_acted_on(
    mosquitto: Mosquitto,
    peer: MqttPeer,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    peer.publish(T.down, '[2,"r1","RemoteStartTransaction",{"idTag":"STRANGER"}]', retain=True)
    make(transports, mosquitto.port, recorder.post)
    recorder.wait_for(TransportUp)
    peer.publish(T.down, "live")  # published after ours: arrives after any retained one
    assert recorder.wait_for(FrameReceived).text == "live"
    assert [e.text for e in recorder.of(FrameReceived)] == ["live"]


def test_a_tls_client_certificate_gets_in_where_the_broker_requires_one(
    tmp_path: Path,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    pki = make_pki(tmp_path)
    broker = Mosquitto(
        tmp_path / "mtls-broker",
        extra=("require_certificate true",),
        tls_files=(pki.ca_file, *pki.write_server_files(tmp_path)),
    )
    broker.start()
    try:
        make(
            transports,
            broker.port,
            recorder.post,
            login=BrokerLogin(
                tls=True,
                ca_file=pki.ca_file,
                cert_file=pki.client_cert_file,
                key_file=pki.client_key_file,
            ),
        )
        recorder.wait_for(TransportUp)
        stranger = EventRecorder()
        make(
            transports,
            broker.port,
            stranger.post,
            login=BrokerLogin(tls=True, ca_file=pki.ca_file),
            client_id="no-certificate",
        )
        wait_until(
            lambda: broker.log_file.read_text().count("did not return a certificate") >= 2,
            10,
            "the broker refusing the certificate-less client twice",
        )
        assert stranger.of(TransportUp) == []
    finally:
        for transport in transports:
            transport.stop(2.0)
        broker.stop()
