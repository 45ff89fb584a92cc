"""`cpagent csms` as a user runs it: a real process, its prompt, and a one-shot `call` process."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ocpp.v16 import call

from cpagent.transports.events import FrameReceived, TransportUp
from cpagent.transports.mqtt import MqttTransport
from tests.csms.ocpp_client import OcppChargepointThread
from tests.support.fixtures import mosquitto, recorder
from tests.support.mosquitto import Mosquitto
from tests.support.recorder import EventRecorder

__all__ = ["mosquitto", "recorder"]  # fixtures used below

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 15.0
BOOT = json.dumps(
    [2, "boot-1", "BootNotification", {"chargePointVendor": "cpagent", "chargePointModel": "mqtt"}]
)
COMMAND = [sys.executable, "-m", "cpagent.csms"]  # == `cpagent csms` until cli.py wires it


@dataclass
class CsmsProcess:
    """A running `cpagent csms` with its stdout read line by line in a thread."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_line(self, pattern: str) -> re.Match[str]:
        """The first line (from now on) matching `pattern`; fails after WAIT_S."""
        while True:
            line = self.lines.get(timeout=WAIT_S)
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match


def start(*args: str) -> CsmsProcess:
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", "--control-port", "0", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    csms = CsmsProcess(process)
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            csms.lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return csms


@pytest.fixture
def csms() -> Iterator[CsmsProcess]:
    running = start("--prompt", "--id-tag", "ABC123")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait(WAIT_S)


def test_serve_prompt_and_one_shot_call(csms: CsmsProcess) -> None:
    url = csms.wait_line(r"listening on (ws://\S+)/<chargepoint id>").group(1)
    control_port = csms.wait_line(r"control channel http://127\.0\.0\.1:(\d+)").group(1)
    client = OcppChargepointThread(url, "CP001")
    client.start()
    try:
        answer = client.call(call.Authorize(id_tag="NOPE"))
        assert answer.id_tag_info == {"status": "Invalid"}
        csms.wait_line(r"CP001 -> \[3,.*Invalid")

        one_shot = subprocess.run(
            [*COMMAND, "call", "--control-port", control_port, "CP001", "RemoteStartTransaction",
             '{"idTag":"ABC123","connectorId":1}'],
            cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S, check=False,
        )  # fmt: skip
        assert (one_shot.returncode, one_shot.stdout.strip()) == (0, '{"status": "Accepted"}')

        assert csms.process.stdin is not None
        csms.process.stdin.write("list\n")
        csms.process.stdin.flush()
        csms.wait_line(r"CP001\s+connected")
    finally:
        client.stop()
    csms.process.stdin.write("quit\n")
    csms.process.stdin.flush()
    csms.wait_line("bench CSMS stopped")
    assert csms.process.wait(WAIT_S) == 0


def test_without_prompt_it_serves_until_sigterm() -> None:
    running = start("--no-prompt")
    try:
        running.wait_line("control channel")
        running.process.send_signal(signal.SIGTERM)
        running.wait_line("bench CSMS stopped")
        assert running.process.wait(WAIT_S) == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(WAIT_S)


def test_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [*COMMAND, "--port", port, "--no-prompt"],
            cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_mqtt_chargepoint_is_served_through_the_bridge(
    mosquitto: Mosquitto, recorder: EventRecorder
) -> None:
    running = start("--prompt", "--mqtt", f"{mosquitto.host}:{mosquitto.port}")
    chargepoint = MqttTransport(
        mosquitto.host, mosquitto.port, "MQ001", recorder.post, reconnect_min_s=1, reconnect_max_s=1
    )
    try:
        running.wait_line("MQTT chargepoints via broker")
        chargepoint.start()
        recorder.wait_for(TransportUp, timeout=WAIT_S)  # the bridge holds a WebSocket to us
        assert chargepoint.send(BOOT)
        answer = json.loads(recorder.wait_for(FrameReceived, timeout=WAIT_S).text)
        assert answer[:2] == [3, "boot-1"] and answer[2]["status"] == "Accepted"
        running.wait_line(r"MQ001 -> \[3,\"boot-1\"")
    finally:
        chargepoint.stop(2.0)
        assert running.process.stdin is not None
        running.process.stdin.write("quit\n")
        running.process.stdin.flush()
        try:
            assert running.process.wait(WAIT_S) == 0
        finally:
            if running.process.poll() is None:
                running.process.kill()
                running.process.wait(WAIT_S)
