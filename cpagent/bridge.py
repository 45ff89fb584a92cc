"""MQTT <-> WebSocket bridge: every chargepoint seen on the broker gets a link to a CSMS."""

from __future__ import annotations

import collections
import contextlib
import logging
import signal
import threading
from collections.abc import Mapping
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from cpagent.bridge_credentials import (
    ChargepointCredentials,
)
from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.frame_cap import MAX_FRAME_BYTES
from cpagent.transports.mqtt import (
    ANONYMOUS,
    PACKET_OVERHEAD,
    QOS,
    BrokerLogin,
    LinkState,
    Topics,
    make_client,
    session_properties,
)
from cpagent.transports.websocket import SecurityProfile, WebSocketTransport

log = logging.getLogger(__name__)
EX_CONFIG = 78

MAX_CHARGEPOINTS = 100  # relays (each a WebSocket and a thread) unless --max-chargepoints
MAX_REFUSED_LOGGED = 1000  # ids refused with a warning; later ones only counted


class _Relay:
    """One chargepoint: its WebSocket to the CSMS and the frames waiting for it to come up."""

    def __init__(self, bridge: Bridge, chargepoint_id: str) -> None:
        self.chargepoint_id = chargepoint_id
        self.topics = Topics.for_chargepoint(bridge.topic_prefix, chargepoint_id)
        self._bridge = bridge
        self._lock = threading.Lock()
        self._up = False
        self._pending: collections.deque[str] = collections.deque(maxlen=bridge.max_pending_frames)
        self.websocket = WebSocketTransport(
            bridge.csms_url,
            chargepoint_id,
            self._on_event,
            **bridge.websocket_options(chargepoint_id),
        )

    def forward_up(self, text: str) -> None:
        """A frame from the chargepoint: to the CSMS now, or once the WebSocket is up."""
        with self._lock:
            if self._up and self.websocket.send(text):
                return
            if len(self._pending) == self._pending.maxlen:
                log.warning(
                    "%s: central system unreachable; dropping the oldest queued frame",
                    self.chargepoint_id,
                )
            self._pending.append(text)

    def _on_event(self, event: object) -> None:  # WebSocket runner thread
        if isinstance(event, FrameReceived):
            self._bridge.publish(self.topics.down, event.text)
        elif isinstance(event, TransportUp):
            with self._lock:
                self._up = True
                while self._pending and self.websocket.send(self._pending[0]):
                    self._pending.popleft()
            self._bridge.publish(self.topics.csms, LinkState.ONLINE, retain=True)
        elif isinstance(event, TransportDown):
            with self._lock:
                was_up, self._up = self._up, False
            if was_up or event.reason != "stopped":
                self._bridge.publish(self.topics.csms, LinkState.OFFLINE, retain=True)


class Bridge:
    """Relays `{prefix}/{id}/up` to a WebSocket at csms_url/{id} and its frames to `down`.

    Theory of operation: one paho client (MQTT 5, persistent session, so frames sent while the
    bridge was away are delivered when it returns) subscribes to every chargepoint's `up` and
    `state`. A retained `online` state or a first `up` frame opens a WebSocketTransport for that
    chargepoint; `offline` (clean stop or will) closes it, so the CSMS sees the chargepoint
    come and go. The WebSocket's own up/down is mirrored to the retained `{prefix}/{id}/csms`
    topic, which the chargepoint's MqttTransport follows. Frames go to `down` non-retained.

    Trust: the topic names the chargepoint, so the broker's ACL must confine each MQTT user to
    its own topics (README, "Security"). Only ids in `credentials` are relayed, each with its
    own password or client certificate towards the central system; `allow_unknown` (bench
    only) relays any id without credentials. At most `max_chargepoints` relays exist at once.
    """

    def __init__(
        self,
        mqtt_host: str,
        mqtt_port: int,
        csms_url: str,
        *,
        topic_prefix: str = "ocpp",
        subprotocol: str = "ocpp1.6",
        mqtt_login: BrokerLogin = ANONYMOUS,
        credentials: Mapping[str, ChargepointCredentials] | None = None,
        allow_unknown: bool = False,
        max_chargepoints: int = MAX_CHARGEPOINTS,
        csms_ca_file: str | None = None,
        ping_interval_s: float = 30.0,
        backoff: BackoffPolicy | None = None,
        client_id: str = "cpagent-bridge",
        max_pending_frames: int = 100,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        if not csms_url.startswith(("ws://", "wss://")):
            raise ValueError(f"csms url must start with ws:// or wss://, got {csms_url!r}")
        if credentials is None and not allow_unknown:
            raise ValueError(
                "no chargepoint credentials: give a credentials file, or allow "
                "unknown chargepoints (bench only)"
            )
        if max_chargepoints < 1:
            raise ValueError(f"max_chargepoints must be at least 1, not {max_chargepoints}")
        self.csms_url = csms_url
        self.topic_prefix = topic_prefix.rstrip("/")
        self.max_pending_frames = max_pending_frames
        self.max_chargepoints = max_chargepoints
        self._subprotocol = subprotocol
        self._credentials = dict(credentials or {})
        self._allow_unknown = allow_unknown
        self._refused: set[str] = set()
        self.refused_count = 0  # frames/states of chargepoints not relayed (unknown or over cap)
        self._csms_ca_file = csms_ca_file
        self._ping_interval_s = ping_interval_s
        self._max_frame_bytes = max_frame_bytes
        self._backoff = backoff
        self._address = (mqtt_host, mqtt_port)
        self._lock = threading.Lock()
        self._relays: dict[str, _Relay] = {}
        self._stoppers: list[threading.Thread] = []
        self._stopping = False
        self._client = make_client(
            client_id,
            mqtt_login,
            reconnect_min_s=1,
            reconnect_max_s=30,
            max_packet_bytes=max_frame_bytes + PACKET_OVERHEAD,
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    @property
    def chargepoints(self) -> list[str]:
        """Ids of the chargepoints currently relayed."""
        with self._lock:
            return sorted(self._relays)

    def websocket_options(self, chargepoint_id: str) -> dict[str, Any]:
        """WebSocketTransport keyword arguments for one chargepoint (security profile 0-3):
        its own client certificate (profile 3) or password (1 on ws://, 2 on wss://) from the
        credentials file; none (profile 0) only for an unknown id in allow_unknown mode."""
        entry = self._credentials.get(chargepoint_id, ChargepointCredentials())
        secure = self.csms_url.startswith("wss://")
        cert_file = str(entry.cert_file) if entry.cert_file else None
        key_file = str(entry.key_file) if entry.key_file else None
        if secure and cert_file:
            profile = SecurityProfile.TLS_CLIENT_CERT
        elif entry.password:
            profile = SecurityProfile.TLS_BASIC_AUTH if secure else SecurityProfile.BASIC_AUTH
        else:
            profile = SecurityProfile.UNSECURED
        options: dict[str, Any] = {
            "subprotocol": self._subprotocol,
            "security_profile": int(profile),
            "password": entry.password,
            "ca_file": self._csms_ca_file,
            "cert_file": cert_file if profile == SecurityProfile.TLS_CLIENT_CERT else None,
            "key_file": key_file if profile == SecurityProfile.TLS_CLIENT_CERT else None,
            "ping_interval_s": self._ping_interval_s,
            "max_frame_bytes": self._max_frame_bytes,
        }
        if self._backoff is not None:
            options["backoff"] = self._backoff
        return options

    def start(self) -> None:
        if self._allow_unknown:
            log.warning(
                "bridge: relaying ANY chargepoint id, without credentials for unknown "
                "ones (bench mode): anyone who can publish on the broker can pose as "
                "a chargepoint"
            )
        host, port = self._address
        self._client.connect_async(
            host,
            port,
            keepalive=30,
            clean_start=False,
            properties=session_properties(86400, self._max_frame_bytes + PACKET_OVERHEAD),
        )
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close every WebSocket (the chargepoints see `csms` offline), then leave the broker."""
        with self._lock:
            self._stopping = True  # no new relays from here on
            relays, self._relays = list(self._relays.values()), {}
            stoppers, self._stoppers = self._stoppers, []
        for relay in relays:
            relay.websocket.stop(timeout)
        for thread in stoppers:
            thread.join(timeout)
        for relay in relays:
            self.publish(relay.topics.csms, LinkState.OFFLINE, retain=True, wait_s=timeout / 4)
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, text: str, retain: bool = False, wait_s: float = 0.0) -> None:
        info = self._client.publish(topic, text, qos=QOS, retain=retain)
        if wait_s:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(wait_s)

    # -- paho callbacks (loop thread) ---------------------------------------------------

    def _on_connect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("bridge: broker refused the connection: %s", reason)
            return
        client.subscribe(
            [(f"{self.topic_prefix}/+/up", QOS), (f"{self.topic_prefix}/+/state", QOS)]
        )
        log.info("bridge: connected to broker %s:%d", *self._address)

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        rest = message.topic.removeprefix(self.topic_prefix + "/")
        chargepoint_id, _, kind = rest.rpartition("/")
        text = message.payload.decode("utf-8", errors="replace")
        if kind == "state" and text == LinkState.OFFLINE:
            self._close(chargepoint_id)
        elif kind == "state" and text == LinkState.ONLINE:
            self._relay(chargepoint_id)
        elif kind == "up" and message.retain:
            log.warning("bridge: ignored a retained frame on %s", message.topic)
        elif kind == "up":
            relay = self._relay(chargepoint_id)
            if relay is not None:
                relay.forward_up(text)

    def _relay(self, chargepoint_id: str) -> _Relay | None:
        with self._lock:
            relay = self._relays.get(chargepoint_id)
            if relay is not None or self._stopping:
                return relay
            why = self._refusal(chargepoint_id)
            if why is not None:
                self.refused_count += 1
                if chargepoint_id not in self._refused and len(self._refused) < MAX_REFUSED_LOGGED:
                    self._refused.add(chargepoint_id)
                    log.warning("bridge: not relaying %r: %s", chargepoint_id, why)
                return None
            try:
                relay = _Relay(self, chargepoint_id)
            except ValueError as exc:
                log.error("bridge: cannot relay %r: %s", chargepoint_id, exc)
                return None
            self._relays[chargepoint_id] = relay
        log.info("bridge: %s online; connecting to %s", chargepoint_id, relay.websocket.url)
        relay.websocket.start()
        return relay

    def _refusal(self, chargepoint_id: str) -> str | None:
        """Why `chargepoint_id` gets no relay, or None; called with the lock held."""
        if chargepoint_id not in self._credentials and not self._allow_unknown:
            return "no entry in the credentials file"
        if len(self._relays) >= self.max_chargepoints:
            return f"already relaying the maximum of {self.max_chargepoints} chargepoints"
        return None

    def _close(self, chargepoint_id: str) -> None:
        with self._lock:
            relay = self._relays.pop(chargepoint_id, None)
            if relay is None:
                return
            # Stop off the loop thread: closing a WebSocket may take a moment.
            stopper = threading.Thread(target=relay.websocket.stop, name="bridge-close")
            stopper.start()
            self._stoppers = [t for t in self._stoppers if t.is_alive()] + [stopper]
        log.info("bridge: %s offline; closing its WebSocket", chargepoint_id)


def run_bridge(
    mqtt_host: str,
    mqtt_port: int,
    csms_url: str,
    *,
    stop: threading.Event | None = None,
    **options: Any,
) -> None:
    """Run a Bridge until `stop` is set, SIGTERM or Ctrl-C; `options` as for `Bridge`."""
    stop = stop or threading.Event()
    bridge = Bridge(mqtt_host, mqtt_port, csms_url, **options)
    if threading.current_thread() is threading.main_thread():
        # set once: a second signal could interrupt the first one's set(), inside the
        # Event's lock, and wait on that lock for good
        signal.signal(signal.SIGTERM, lambda *_: None if stop.is_set() else stop.set())
    bridge.start()
    log.info("bridge: relaying MQTT %s:%d <-> %s", mqtt_host, mqtt_port, csms_url)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
