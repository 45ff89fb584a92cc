"""The bench CSMS facing a raw WebSocket peer: bad frames, unknown actions, silence, binary."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cpagent.csms.errors import CallTimedOut
from cpagent.csms.server import CentralSystem

WAIT_S = 10.0


@pytest.fixture
def raw(central: CentralSystem) -> Iterator[ClientConnection]:
    with connect(f"{central.url}/RAW1", subprotocols=["ocpp1.6"], open_timeout=WAIT_S) as link:  # type: ignore[list-item]
        assert central.wait_for(
            lambda view: any(c["id"] == "RAW1" and c["connected"] for c in view["chargepoints"]),
            WAIT_S,
        )
        yield link


def exchange(link: ClientConnection, text: str) -> list[object]:
    link.send(text)
    answer: list[object] = json.loads(link.recv(timeout=WAIT_S))
    return answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[2,"a1","FooBar",{}]', [4, "a1", "NotImplemented"]),
        ('[2,"a2","Authorize",{}]', [4, "a2"]),  # the error code is the core's choice
        ('[2,"a3","Heartbeat",{}]', [3, "a3"]),
    ],
    ids=["unknown-action", "missing-field", "heartbeat"],
)
def test_incoming_call_is_answered(
    raw: ClientConnection, text: str, expected: list[object]
) -> None:
    answer = exchange(raw, text)
    assert answer[: len(expected)] == expected


def test_garbage_does_not_break_the_link(raw: ClientConnection, central: CentralSystem) -> None:
    raw.send("this is not json")
    assert exchange(raw, '[2,"h1","Heartbeat",{}]')[:2] == [3, "h1"]
    frames = central.snapshot("RAW1")["frames"]
    assert frames[0]["text"] == "this is not json"


def test_silent_chargepoint_times_out() -> None:
    with (
        CentralSystem(port=0, call_timeout=0.2) as quick,
        connect(
            f"{quick.url}/RAW2",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        ),
    ):
        assert quick.wait_for(lambda v: bool(v["chargepoints"]), WAIT_S)
        with pytest.raises(CallTimedOut):
            quick.call("RAW2", "Reset", {"type": "Soft"})


def test_binary_frame_closes_the_link(raw: ClientConnection, central: CentralSystem) -> None:
    raw.send(b"\x00\x01")
    with pytest.raises(ConnectionClosed) as closed:
        raw.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert central.wait_for(lambda v: not v["chargepoints"][0]["connected"], WAIT_S)
