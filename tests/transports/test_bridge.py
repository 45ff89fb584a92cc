"""End to end: chargepoint -> mosquitto -> bridge -> independent `ocpp` central system."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ocpp.v16 import call

from cpagent.bridge import Bridge, run_bridge
from cpagent.bridge_credentials import ChargepointCredentials
from cpagent.commands.bridge import add_bridge_arguments, parse_host_port
from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.mqtt import MqttTransport
from tests.support.central_system import CentralSystem
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt_peer import MqttPeer
from tests.support.net import wait_until
from tests.support.recorder import EventRecorder

BOOT = json.dumps(
    [2, "boot-1", "BootNotification", {"chargePointVendor": "cpagent", "chargePointModel": "test"}]
)
FAST = BackoffPolicy(initial_s=0.01, max_s=0.05, stable_after_s=1.0)


@pytest.fixture
def bridge(mosquitto: Mosquitto, central_system: CentralSystem) -> Iterator[Bridge]:
    relay = Bridge(
        mosquitto.host,
        mosquitto.port,
        central_system.url,
        backoff=FAST,
        ping_interval_s=0,
        allow_unknown=True,
    )
    relay.start()
    yield relay
    relay.stop(2.0)


@pytest.fixture
def chargepoint(
    mosquitto: Mosquitto, recorder: EventRecorder, request: pytest.FixtureRequest
) -> Iterator[MqttTransport]:
    options: dict[str, Any] = getattr(request, "param", {})
    transport = MqttTransport(
        mosquitto.host,
        mosquitto.port,
        "CP001",
        recorder.post,
        keepalive_s=5,
        reconnect_min_s=1,
        reconnect_max_s=1,
        **options,
    )
    transport.start()
    yield transport
    transport.stop(2.0)


def answer(recorder: EventRecorder, count: int = 1, timeout: float = 10) -> list[Any]:
    return list(json.loads(recorder.wait_for(FrameReceived, count=count, timeout=timeout).text))


def test_boot_notification_reaches_the_central_system_and_is_accepted(
    bridge: Bridge,
    central_system: CentralSystem,
    chargepoint: MqttTransport,
    recorder: EventRecorder,
    mosquitto: Mosquitto,
) -> None:
    recorder.wait_for(TransportUp, timeout=10)  # only once the bridge's WebSocket is up
    assert central_system.connected_ids == ["CP001"]
    assert chargepoint.send(BOOT)
    result = answer(recorder)
    assert result[:2] == [3, "boot-1"] and result[2]["status"] == "Accepted"
    assert central_system.actions("CP001") == ["BootNotification"]

    results: list[Any] = []
    caller = threading.Thread(
        target=lambda: results.append(
            central_system.call("CP001", call.RemoteStartTransaction(id_tag="TAG1", connector_id=1))
        )
    )
    caller.start()
    request = answer(recorder, count=2)
    assert request[0] == 2 and request[2] == "RemoteStartTransaction"
    assert chargepoint.send(json.dumps([3, request[1], {"status": "Accepted"}]))
    caller.join(10)
    assert results and results[0].status == "Accepted"
    # `down` is never retained: a late subscriber gets the retained `csms` and nothing on
    # `down` (the broker sends retained messages in the SUBSCRIBE's filter order)
    with MqttPeer(
        mosquitto.host, mosquitto.port, ["ocpp/CP001/down", "ocpp/CP001/csms"], client_id="late"
    ) as late:
        late.wait_for_text("ocpp/CP001/csms", "online")
        assert late.messages("ocpp/CP001/down") == []


@pytest.mark.parametrize("chargepoint", [{"require_csms_online": False}], indirect=True)
def test_frames_sent_while_the_central_system_is_unreachable_are_queued_then_relayed(
    mosquitto: Mosquitto,
    central_system: CentralSystem,
    bridge: Bridge,
    chargepoint: MqttTransport,
    recorder: EventRecorder,
) -> None:
    central_system.stop()
    recorder.wait_for(TransportUp)  # broker only: not following the bridge's `csms` state
    wait_until(lambda: bridge.chargepoints == ["CP001"])
    assert chargepoint.send(BOOT)
    central_system.start()
    # a reconnect begun while the central system was going down can wait out its 10 s
    # connect timeout (seen under load) before the next attempt reaches the new listener
    assert answer(recorder, timeout=30)[2]["status"] == "Accepted"
    assert central_system.actions("CP001") == ["BootNotification"]


def test_online_offline_is_mirrored_both_ways(
    bridge: Bridge,
    central_system: CentralSystem,
    chargepoint: MqttTransport,
    recorder: EventRecorder,
) -> None:
    recorder.wait_for(TransportUp, timeout=10)
    central_system.stop()  # the CSMS goes away: the chargepoint's link is down
    recorder.wait_for(TransportDown, timeout=10)
    assert chargepoint.send(BOOT) is False
    central_system.start()
    recorder.wait_for(TransportUp, count=2, timeout=10)  # new link: the core re-boots
    central_system.wait_connected("CP001")
    chargepoint.stop()  # the chargepoint goes away: the CSMS sees it disconnect
    wait_until(lambda: central_system.connected_ids == [], 10, "the CSMS to see CP001 leave")
    wait_until(lambda: bridge.chargepoints == [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("broker:1884", ("broker", 1884)),
        ("broker", ("broker", 1883)),
        ("[::1]:1885", ("::1", 1885)),
        ("127.0.0.1:1883", ("127.0.0.1", 1883)),
    ],
)
def test_mqtt_address_parsing(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["", "host:port", "host:0", ":1883", "h:99999"])
def test_malformed_mqtt_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_host_port(text)


@pytest.mark.parametrize("chargepoint", [{"require_csms_online": False}], indirect=True)
def test_frames_published_while_the_bridge_is_away_are_relayed_when_it_returns(
    mosquitto: Mosquitto,
    central_system: CentralSystem,
    chargepoint: MqttTransport,
    recorder: EventRecorder,
) -> None:
    first = Bridge(
        mosquitto.host,
        mosquitto.port,
        central_system.url,
        backoff=FAST,
        ping_interval_s=0,
        allow_unknown=True,
    )
    first.start()
    central_system.wait_connected("CP001", timeout=10)  # the bridge's session now exists
    first.stop(2.0)
    recorder.wait_for(TransportUp)
    assert chargepoint.send(BOOT)  # kept for the bridge by its persistent session
    second = Bridge(
        mosquitto.host,
        mosquitto.port,
        central_system.url,
        backoff=FAST,
        ping_interval_s=0,
        allow_unknown=True,
    )
    second.start()
    try:
        assert answer(recorder)[2]["status"] == "Accepted"
    finally:
        second.stop(2.0)


@pytest.mark.parametrize(("password", "accepted"), [("s3cret-pass", True), ("wrong", False)])
def test_bridge_uses_basic_auth_per_chargepoint(
    mosquitto: Mosquitto,
    chargepoint: MqttTransport,
    recorder: EventRecorder,
    password: str,
    accepted: bool,
) -> None:
    with CentralSystem(passwords={"CP001": "s3cret-pass"}) as central:
        relay = Bridge(
            mosquitto.host,
            mosquitto.port,
            central.url,
            backoff=FAST,
            ping_interval_s=0,
            credentials={"CP001": ChargepointCredentials(password=password)},
        )
        relay.start()
        try:
            if accepted:
                recorder.wait_for(TransportUp, timeout=10)
                assert central.auth_failures == 0
            else:
                wait_until(lambda: central.auth_failures == 1)
                assert recorder.of(TransportUp) == []
        finally:
            relay.stop(2.0)


def test_run_bridge_relays_until_its_stop_event_is_set(
    mosquitto: Mosquitto,
    central_system: CentralSystem,
    chargepoint: MqttTransport,
    recorder: EventRecorder,
) -> None:
    parser = argparse.ArgumentParser()
    add_bridge_arguments(parser)
    args = parser.parse_args(
        ["--mqtt", f"127.0.0.1:{mosquitto.port}", "--csms", central_system.url]
    )
    stop = threading.Event()
    runner = threading.Thread(
        target=run_bridge,
        args=(*parse_host_port(args.mqtt), args.csms),
        kwargs={
            "stop": stop,
            "topic_prefix": args.topic_prefix,
            "subprotocol": args.protocol,
            "allow_unknown": True,
        },
    )
    runner.start()
    try:
        recorder.wait_for(TransportUp, timeout=10)
        assert chargepoint.send(BOOT)
        assert answer(recorder)[2]["status"] == "Accepted"
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
    assert "central system" in recorder.wait_for(TransportDown, timeout=10).reason
