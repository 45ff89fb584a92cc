"""OCPP-J frames over MQTT (paho-mqtt 2.x, MQTT 5): topic contract, persistent session, will."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from cpagent.transports.base import Post
from cpagent.transports.events import FrameReceived, LinkCause, TransportDown, TransportUp
from cpagent.transports.frame_cap import MAX_FRAME_BYTES
from cpagent.transports.tls import client_context
from cpagent.transports.ws_settings import SUBPROTOCOLS

log = logging.getLogger(__name__)

QOS = 1  # at least once: OCPP-J answers carry the CALL's id, so a duplicate is recognisable
PACKET_OVERHEAD = 64 * 1024  # PUBLISH fixed header, topic and properties around one frame
MAX_QUEUED_MESSAGES = 1024  # unacknowledged publishes before send() says False (see send)


class LinkState(StrEnum):
    """Retained payloads of the `state` (chargepoint) and `csms` (bridge) topics."""

    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic contract for one chargepoint (docs/transports.md)."""

    up: str  # chargepoint -> central system frames
    down: str  # central system -> chargepoint frames
    state: str  # retained chargepoint online/offline; `offline` is the will
    csms: str  # retained online/offline of the central-system link, kept by the bridge

    @classmethod
    def for_chargepoint(cls, topic_prefix: str, chargepoint_id: str) -> Topics:
        check_topic_level(chargepoint_id)
        base = f"{topic_prefix.rstrip('/')}/{chargepoint_id}"
        return cls(f"{base}/up", f"{base}/down", f"{base}/state", f"{base}/csms")


def check_topic_level(name: str) -> None:
    """Refuse a chargepoint id that cannot be one MQTT topic level (MQTT 5 §4.7)."""
    if not name or any(c in name for c in "/+#\0"):
        raise ValueError(f"chargepoint id {name!r} cannot be an MQTT topic level")


def session_properties(session_expiry_s: int, max_packet_bytes: int | None = None) -> Properties:
    """CONNECT properties asking the broker to keep our session (MQTT 5 §3.1.2.11.2) and,
    with `max_packet_bytes`, never to send us a larger packet (§3.1.2.11.4: the broker drops
    such a message for us instead)."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = session_expiry_s
    if max_packet_bytes is not None:
        properties.MaximumPacketSize = max_packet_bytes
    return properties


@dataclass(frozen=True, slots=True)
class BrokerLogin:
    """How a client proves itself to the broker: a username and password, and/or TLS >= 1.2
    with the broker's CA (None: the system's) and a client certificate and key."""

    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


ANONYMOUS = BrokerLogin()  # no credentials, no TLS (a bench broker on loopback)


class _CappedClient(paho.Client):
    """paho's client, refusing an incoming packet larger than `max_packet_bytes` once its
    length is known, before its payload is read (paho reads packets whole, without a limit):
    the connection is dropped and paho reconnects. Against a broker that ignores the
    Maximum Packet Size we asked for (MQTT 5 §3.1.2.11.4)."""

    max_packet_bytes: int | None = None

    def _sock_recv(self, bufsize: int) -> bytes:
        packet = self._in_packet
        cap = self.max_packet_bytes
        if cap is not None and packet["have_remaining"] and packet["remaining_length"] > cap:
            log.warning(
                "broker sent a packet of %d bytes, more than %d: disconnecting",
                packet["remaining_length"],
                cap,
            )
            raise OSError(f"incoming packet larger than {cap} bytes")
        return super()._sock_recv(bufsize)


def make_client(
    client_id: str,
    login: BrokerLogin,
    *,
    reconnect_min_s: int,
    reconnect_max_s: int,
    max_packet_bytes: int | None = None,
) -> paho.Client:
    """A paho MQTT 5 client with credentials, TLS 1.2+, bounded reconnect delays and, with
    `max_packet_bytes`, a bound on incoming packets."""
    client = _CappedClient(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.max_packet_bytes = max_packet_bytes
    if login.username is not None:
        client.username_pw_set(login.username, login.password)
    if login.tls:
        client.tls_set_context(client_context(login.ca_file, login.cert_file, login.key_file))
    client.reconnect_delay_set(min_delay=reconnect_min_s, max_delay=reconnect_max_s)
    client.on_socket_open = _no_delay
    # A failing callback must not kill paho's network thread: log it and carry on.
    client.suppress_exceptions = True
    return client


def _no_delay(_client: paho.Client, _userdata: Any, sock: Any) -> None:
    """Disable Nagle: a PUBLISH queued behind an unacknowledged PUBACK otherwise waits for
    the peer's delayed ACK (~40 ms per hop on Linux); OCPP frames are small and latency-bound."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttTransport:
    """A chargepoint's MQTT link: frames up on `up`, down from `down`, QoS 1.

    Theory of operation: paho's loop thread connects asynchronously (a broker down at start-up
    is fine) and reconnects with delays doubling from `reconnect_min_s` to `reconnect_max_s`.
    The session is persistent (clean_start=False plus a session expiry), so QoS 1 frames for
    the chargepoint wait in the broker while it is away, and frames we published but which
    were not acknowledged are re-sent after a reconnect. On connect we publish a retained
    `online` on `state`; the will publishes a retained `offline` if we vanish.

    With `require_csms_online` (the default) the link counts as up only while the retained
    `csms` topic says `online`, i.e. while the bridge holds a WebSocket to the central
    system: then `TransportUp` means what it means for WebSocket, and the core sends its
    BootNotification to a central system that is listening.
    """

    def __init__(
        self,
        host: str,
        port: int,
        chargepoint_id: str,
        post: Post,
        *,
        subprotocol: str = "ocpp1.6",
        topic_prefix: str = "ocpp",
        login: BrokerLogin = ANONYMOUS,
        client_id: str | None = None,
        keepalive_s: int = 30,
        session_expiry_s: int = 86400,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 60,
        require_csms_online: bool = True,
        max_packet_bytes: int = MAX_FRAME_BYTES + PACKET_OVERHEAD,
    ) -> None:
        if subprotocol not in SUBPROTOCOLS:
            raise ValueError(f"subprotocol must be one of {SUBPROTOCOLS}, got {subprotocol!r}")
        self.topics = Topics.for_chargepoint(topic_prefix, chargepoint_id)
        self.chargepoint_id = chargepoint_id
        self.subprotocol = subprotocol
        self._post = post
        self._address = (host, port)
        self._keepalive_s = keepalive_s
        self._session_expiry_s = session_expiry_s
        self._require_csms = require_csms_online
        self._client = make_client(
            client_id or f"cpagent-{chargepoint_id}",
            login,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
            max_packet_bytes=max_packet_bytes,
        )
        self._max_packet_bytes = max_packet_bytes
        # publish() never touches the socket (paho's loop thread writes); this bounds what
        # piles up in memory while the broker does not take it.
        self._client.max_queued_messages_set(MAX_QUEUED_MESSAGES)
        self._client.will_set(self.topics.state, LinkState.OFFLINE, qos=QOS, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        # Only paho's loop thread writes these; send() reads `_up` (a single bool).
        self._connected = False
        self._csms_online = False
        self._up = False
        self._started = False

    def start(self) -> None:
        """Connect in the background; keeps reconnecting until `stop()`."""
        if self._started:
            raise RuntimeError("MqttTransport already started")
        self._started = True
        host, port = self._address
        self._client.connect_async(
            host,
            port,
            keepalive=self._keepalive_s,
            clean_start=False,
            properties=session_properties(self._session_expiry_s, self._max_packet_bytes),
        )
        self._client.loop_start()

    def send(self, text: str) -> bool:
        """Publish one frame on `up` (QoS 1); False when the link is not up or
        MAX_QUEUED_MESSAGES are still unacknowledged. Never waits on the network: paho's
        publish() only queues the packet for its loop thread (its socket is non-blocking)."""
        if not self._up:
            return False
        info = self._client.publish(self.topics.up, text, qos=QOS)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def stop(self, timeout: float = 5.0) -> None:
        """Publish `offline`, disconnect cleanly (no will) and stop the loop; idempotent."""
        if not self._started:
            return
        self._started = False
        if self._connected:
            info = self._client.publish(self.topics.state, LinkState.OFFLINE, qos=QOS, retain=True)
            # If the connection is lost meanwhile, the will says the same.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout / 2)
        self._client.disconnect()
        self._client.loop_stop()
        self._set_link(connected=False, reason="stopped", cause=LinkCause.STOPPED)

    # -- paho callbacks (loop thread) ---------------------------------------------------

    def _on_connect(
        self, client: paho.Client, _userdata: Any, flags: Any, reason: ReasonCode, _properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("%s: broker refused the connection: %s", self.chargepoint_id, reason)
            # MQTT 5 §3.2.2.2: 0x86 Bad User Name or Password, 0x87 Not authorized.
            cause = LinkCause.AUTH if reason.value in (0x86, 0x87) else LinkCause.OTHER
            self._post(TransportDown(f"broker refused the connection: {reason}", cause))
            return
        # Our own topics only. A retained frame on `down` is never wanted (anyone who could
        # publish there once would replay it at every start): ask the broker not to send one
        # (MQTT 5 §3.8.3.1 Retain Handling 2) and drop any that still comes (_on_message).
        client.subscribe(
            self.topics.down,
            options=SubscribeOptions(qos=QOS, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND),
        )
        if self._require_csms:
            client.subscribe(self.topics.csms, qos=QOS)
        client.publish(self.topics.state, LinkState.ONLINE, qos=QOS, retain=True)
        log.info(
            "%s: connected to broker %s:%d (session present: %s)",
            self.chargepoint_id,
            *self._address,
            flags.session_present,
        )
        self._set_link(connected=True, reason="")

    def _on_connect_fail(self, _client: paho.Client, _userdata: Any) -> None:
        host, port = self._address
        self._post(TransportDown(f"cannot connect to broker {host}:{port}", LinkCause.NETWORK))

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        self._csms_online = False  # unknown until the retained `csms` arrives again
        self._set_link(
            connected=False, reason=f"broker connection lost: {reason}", cause=LinkCause.LOST
        )

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        text = message.payload.decode("utf-8", errors="replace")
        if message.topic == self.topics.down:
            self._on_down(text, retained=bool(message.retain))
        elif message.topic == self.topics.csms:
            self._csms_online = text == LinkState.ONLINE
            self._set_link(
                connected=self._connected,
                reason="central system link down",
                cause=LinkCause.PEER_DOWN,
            )

    def _on_down(self, text: str, *, retained: bool) -> None:
        """A frame for us: acted on only while the link is up, never when retained.

        A frame before the link is up (a persistent session replaying QoS 1 messages, or a
        publisher racing the bridge) has no OCPP session to go to: OCPP-J 1.6 §4.1.4 answers
        belong to the connection their CALL came on, so it is dropped, not queued."""
        if retained:
            log.warning(
                "%s: ignored a retained frame on %s (the bridge never retains; "
                "clear it on the broker)",
                self.chargepoint_id,
                self.topics.down,
            )
        elif not self._up:
            log.warning(
                "%s: dropped a frame on %s that arrived before the link was up",
                self.chargepoint_id,
                self.topics.down,
            )
        else:
            self._post(FrameReceived(text))

    def _set_link(
        self, *, connected: bool, reason: str, cause: LinkCause = LinkCause.OTHER
    ) -> None:
        """Post Up/Down on changes of (broker connected and central system reachable)."""
        self._connected = connected
        up = connected and (self._csms_online or not self._require_csms)
        if up == self._up:
            return
        self._up = up
        self._post(TransportUp(self.subprotocol) if up else TransportDown(reason, cause))


ClientFactory = Callable[..., paho.Client]
