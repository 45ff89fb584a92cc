"""MQTT transport limits: oversized packets refused, a broker that does not read never blocks."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cpagent.transports.events import FrameReceived, TransportUp
from cpagent.transports.mqtt import MAX_QUEUED_MESSAGES, MqttTransport, Topics
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt_peer import MqttPeer
from tests.support.net import wait_until
from tests.support.proxy import LinkMode, TcpProxy
from tests.support.recorder import EventRecorder

T = Topics.for_chargepoint("ocpp", "CP001")
CAP = 64 * 1024  # max_packet_bytes in these tests


@pytest.fixture
def transports() -> Iterator[list[MqttTransport]]:
    made: list[MqttTransport] = []
    yield made
    for transport in made:
        transport.stop(2.0)


def make(made: list[MqttTransport], port: int, post: Any, **kwargs: Any) -> MqttTransport:
    kwargs.setdefault("require_csms_online", False)
    kwargs.setdefault("keepalive_s", 2)
    kwargs.setdefault("max_packet_bytes", CAP)
    transport = MqttTransport(
        "127.0.0.1", port, "CP001", post, reconnect_min_s=1, reconnect_max_s=1, **kwargs
    )
    made.append(transport)
    transport.start()
    return transport


def test_broker_keeps_packets_over_our_maximum_from_us(
    mosquitto: Mosquitto,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    """MQTT 5 §3.1.2.11.4: the broker must not send us more than our Maximum Packet Size;
    mosquitto drops such a message for us. The link stays up; the next frame arrives."""
    make(transports, mosquitto.port, recorder.post)
    recorder.wait_for(TransportUp)
    with MqttPeer(mosquitto.host, mosquitto.port, ["ocpp/#"]) as peer:
        peer.wait_for_text(T.state, "online")
        peer.publish(
            T.down, '[2,"big","DataTransfer",{"vendorId":"v","data":"' + "x" * (2 * CAP) + '"}]'
        )
        peer.publish(T.down, '[2,"small","Heartbeat",{}]')
        got = recorder.wait_for(FrameReceived)
    assert got.text == '[2,"small","Heartbeat",{}]'
    assert len(recorder.of(TransportUp)) == 1


class _RawBroker:
    """A TCP 'broker' that ignores Maximum Packet Size: CONNACK, then a PUBLISH announcing
    `announced` bytes (sending a little of it); counts connections."""

    def __init__(self, announced: int) -> None:
        self._announced = announced
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # CONNECT
                conn.sendall(b"\x20\x03\x00\x00\x00")  # CONNACK, MQTT 5, success, no props
                size, length = self._announced, bytearray()
                while True:  # remaining length as a variable byte integer (MQTT 5 §1.5.5)
                    size, digit = divmod(size, 128)
                    length.append(digit | (0x80 if size else 0))
                    if not size:
                        break
                conn.sendall(b"\x30" + bytes(length) + b"\x00\x01t" + b"x" * 65536)
                conn.settimeout(10.0)
                while conn.recv(65536):
                    pass
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._listener.close()


def test_packet_over_the_cap_from_a_broker_that_ignores_it_drops_the_connection(
    recorder: EventRecorder,
    transports: list[MqttTransport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused once its length is read, before the payload: one warning, a new connection."""
    broker = _RawBroker(announced=200_000_000)
    try:
        with caplog.at_level(logging.WARNING, logger="cpagent.transports.mqtt"):
            make(transports, broker.port, recorder.post, keepalive_s=60)
            wait_until(
                lambda: broker.connections >= 2, 15.0, "the connection dropped and made again"
            )
        assert recorder.of(FrameReceived) == []
        assert f"broker sent a packet of 200000000 bytes, more than {CAP}" in caplog.text
    finally:
        broker.close()


def test_send_never_blocks_while_the_broker_does_not_read(
    mosquitto: Mosquitto,
    recorder: EventRecorder,
    transports: list[MqttTransport],
) -> None:
    """paho's publish only queues (its loop thread writes, on a non-blocking socket); the
    queue is bounded, after which send() says False; keepalive then replaces the link."""
    with TcpProxy(mosquitto.port) as proxy:
        transport = make(transports, proxy.port, recorder.post, keepalive_s=1)
        recorder.wait_for(TransportUp)
        proxy.mode = LinkMode.BLACKHOLE
        results: list[bool] = []
        text = "z" * 16 * 1024
        sender = threading.Thread(
            target=lambda: results.extend(
                transport.send(text) for _ in range(MAX_QUEUED_MESSAGES + 100)
            ),
            daemon=True,
        )
        sender.start()
        wait_until(lambda: not sender.is_alive(), 10.0, "every send() to return")
        assert results[0] is True and results[-1] is False
        proxy.mode = LinkMode.PASS
        proxy.cut()
        recorder.wait_for(TransportUp, count=2, timeout=15.0)
