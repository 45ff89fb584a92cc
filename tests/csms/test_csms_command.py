"""`cpagent csms call/state` reach a running bench CSMS over its control channel."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from ocpp.v16 import call

from cpagent.csms.command import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    main,
)
from cpagent.csms.control import ControlServer, remote_call, remote_state
from cpagent.csms.server import CentralSystem
from tests.csms.conftest import ChargepointFactory

REMOTE_START = '{"idTag":"ABC123","connectorId":1}'


@pytest.mark.parametrize(
    ("cp_id", "action", "payload", "code", "stdout", "stderr"),
    [
        ("CP001", "RemoteStartTransaction", REMOTE_START, EXIT_OK, '{"status": "Accepted"}', ""),
        ("CP001", "Reset", '{"type":"Soft"}', EXIT_REFUSED, "", "CALLERROR NotImplemented"),
        ("CP404", "Reset", '{"type":"Soft"}', EXIT_REFUSED, "", "not connected"),
        ("CP001", "RemoteStartTransaction", "{}", EXIT_REFUSED, "", "error: "),
        ("CP001", "Reset", "{not json", EXIT_USAGE, "", "payload is not JSON"),
        ("CP001", "Reset", "[1]", EXIT_USAGE, "", "must be a JSON object"),
    ],
    ids=["result", "callerror", "not-connected", "schema", "bad-json", "not-object"],
)
def test_one_shot_call(
    control: ControlServer,
    connect: ChargepointFactory,
    capsys: pytest.CaptureFixture[str],
    cp_id: str,
    action: str,
    payload: str,
    code: int,
    stdout: str,
    stderr: str,
) -> None:
    connect("CP001")
    argv = ["call", "--control-port", str(control.port), cp_id, action, payload]
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert out.strip() == stdout
    assert stderr in err


def test_one_shot_call_without_a_running_csms(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["call", "--control-port", str(port), "CP001", "Reset", "{}"]) == EXIT_UNREACHABLE
    assert "is `cpagent csms` running?" in capsys.readouterr().err


def test_state_prints_what_the_csms_saw(
    control: ControlServer, connect: ChargepointFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    connect("CP001")
    assert main(["state", "--control-port", str(control.port), "CP001"]) == EXIT_OK
    view = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in view["chargepoints"]] == ["CP001"]
    assert main(["state", "--control-port", str(control.port), "CP404"]) == EXIT_REFUSED


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"action": "Reset", "payload": {}}, "'chargepoint'"),
        ({"chargepoint": "CP001", "payload": {}}, "'action'"),
        ({"chargepoint": "CP001", "action": "Reset", "payload": []}, "'payload'"),
        ({"chargepoint": "CP001", "action": "Reset", "timeout": 0}, "'timeout'"),
    ],
)
def test_control_channel_refuses_a_malformed_call(
    control: ControlServer, central: CentralSystem, body: dict[str, Any], error: str
) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", control.port, timeout=5)
    try:
        connection.request("POST", "/call", body=json.dumps(body))
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400
    assert error in answer["error"]


def test_remote_call_returns_the_answer_json(
    control: ControlServer, connect: ChargepointFactory
) -> None:
    connect("CP001")
    answer = remote_call(control.port, "CP001", "RemoteStartTransaction", {"idTag": "X"})
    assert answer == {"ok": True, "payload": {"status": "Accepted"}}


def test_state_frames_query_limits_the_frame_log(
    control: ControlServer, connect: ChargepointFactory
) -> None:
    client = connect("CP001")
    for _ in range(3):
        client.call(call.Heartbeat())
    assert len(remote_state(control.port, "CP001", frames=2)["frames"]) == 2
    assert len(remote_state(control.port, "CP001")["frames"]) == 6
