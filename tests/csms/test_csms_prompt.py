"""The interactive prompt, driven line by line against a real bench CSMS and chargepoint."""

from __future__ import annotations

import io
import json

import pytest
from ocpp.v16 import call

from cpagent.csms.prompt import execute, run_prompt
from cpagent.csms.server import CentralSystem
from tests.csms.conftest import ChargepointFactory


def run(central: CentralSystem, line: str) -> str:
    out = io.StringIO()
    assert execute(central, line, out) is True
    return out.getvalue()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'call CP001 RemoteStartTransaction {"idTag":"ABC123","connectorId":1}',
            '{"status": "Accepted"}',
        ),
        ('call CP001 Reset {"type":"Soft"}', "CALLERROR NotImplemented"),
        ("call CP404 Reset", "error: chargepoint 'CP404' is not connected"),
        ("call CP001 Reset {oops", "error: payload is not JSON"),
        ("list", "CP001            connected    t/bench"),
        ("show CP404", "error: no chargepoint 'CP404' seen"),
        ("frames CP001 1", "CP001 -> [3,"),
        ("help", "call CP_ID ACTION [JSON]"),
        ("launch rockets", "error: cannot read 'launch rockets'; type 'help'"),
    ],
)
def test_prompt_command(
    central: CentralSystem, connect: ChargepointFactory, line: str, expected: str
) -> None:
    client = connect("CP001")
    client.call(call.BootNotification(charge_point_model="bench", charge_point_vendor="t"))
    assert expected in run(central, line)


def test_show_prints_the_chargepoint_as_json(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    connect("CP001")
    view = json.loads(run(central, "show CP001"))
    assert view["chargepoints"][0]["id"] == "CP001"


def test_prompt_runs_until_quit(central: CentralSystem) -> None:
    out = io.StringIO()
    run_prompt(central, io.StringIO("list\nquit\nlist\n"), out)
    assert out.getvalue().count("no chargepoint seen yet") == 1
