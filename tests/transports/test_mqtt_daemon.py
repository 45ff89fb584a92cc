"""The real daemon on MQTT: frames nobody should act on (retained, before the link) are not.

Before the fix a retained RemoteStartTransaction on `down` was replayed at every start, and a
frame that arrived before the link was up raised NotConnected in the owner loop."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.transports.mqtt import Topics
from tests.support.daemon import DaemonProcess
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt_peer import MqttPeer
from tests.support.net import wait_until

T = Topics.for_chargepoint("ocpp", "MQ-1")
CONFIG = """\
[chargepoint]
id = "MQ-1"
vendor = "cpagent"
model = "test"
[csms]
transport = "mqtt"
call_timeout_s = 5.0
backoff_min_s = 1.0
backoff_max_s = 1.0
[mqtt]
host = "127.0.0.1"
port = {port}
[state]
dir = "{workdir}/state"
[control]
socket = "{socket}"
[gpio]
pin_factory = "mock"
[log]
level = "INFO"
[[connector]]
relay_pin = 17
plug_pin = 27
[connector.meter]
driver = "sim"
[rfid]
driver = "sim"
"""
REMOTE_START = '[2,"{id}","RemoteStartTransaction",{{"idTag":"STRANGER","connectorId":1}}]'


@pytest.fixture
def daemon(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[DaemonProcess]:
    socket_dir = Path(tempfile.mkdtemp(prefix="cpagent-mq-"))  # sun_path is short
    process = DaemonProcess(
        tmp_path,
        socket_dir / "ctl.sock",
        CONFIG.format(port=mosquitto.port, workdir=tmp_path, socket=socket_dir / "ctl.sock"),
    )
    yield process
    process.stop()


def test_early_and_retained_frames_are_not_acted_on(
    daemon: DaemonProcess, mosquitto: Mosquitto
) -> None:
    with MqttPeer(mosquitto.host, mosquitto.port, [T.up, T.state], client_id="csms") as csms:
        csms.publish(T.down, REMOTE_START.format(id="retained"), retain=True)
        daemon.launch()
        csms.wait_for_text(T.state, "online")
        csms.publish(T.down, REMOTE_START.format(id="early"))  # no central system yet
        wait_until(
            lambda: "arrived before the link was up" in daemon.last_run_log(),
            10,
            "the dropped-frame warning",
        )
        csms.publish(T.csms, "online", retain=True)
        wait_until(
            lambda: any("BootNotification" in t for t in csms.texts(T.up)),
            10,
            "BootNotification once the link is up",
        )
        status = daemon.status()
        assert status["connection"] == "connected"
        assert [c["relay"] for c in status["connectors"]] == [False]
        assert daemon.process is not None and daemon.process.poll() is None  # no crash
        answered = [json.loads(t)[1] for t in csms.texts(T.up) if t.startswith("[3")]
        assert "retained" not in answered and "early" not in answered
        assert "Traceback" not in daemon.last_run_log()
