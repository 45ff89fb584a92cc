"""A plain paho MQTT 5 client for tests: subscribes, records what arrives, publishes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.net import wait_until


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    text: str
    retain: bool


class MqttPeer:
    """Connects to host:port with a persistent session, subscribes to `filters` (QoS 1)."""

    def __init__(
        self,
        host: str,
        port: int,
        filters: list[str],
        client_id: str = "test-peer",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._filters = filters
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self.connected = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_a: self.connected.clear()
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_a: self.connected.set()  # SUBACK: filters active
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        self._client.connect_async(
            host, port, keepalive=5, clean_start=False, properties=properties
        )
        self._client.loop_start()
        wait_until(self.connected.is_set, 10, "the test MQTT peer to connect")

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        client.subscribe([(topic, 1) for topic in self._filters])

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self._messages.append(
                Message(message.topic, message.payload.decode(), bool(message.retain))
            )

    def messages(self, topic: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if topic is None or m.topic == topic]

    def texts(self, topic: str) -> list[str]:
        return [m.text for m in self.messages(topic)]

    def wait_for_text(self, topic: str, text: str, timeout: float = 10.0) -> None:
        wait_until(
            lambda: text in self.texts(topic),
            timeout,
            f"{text!r} on {topic} (got {self.texts(topic)})",
        )

    def publish(self, topic: str, text: str, retain: bool = False) -> None:
        self._client.publish(topic, text, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttPeer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
