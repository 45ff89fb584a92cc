"""WebSocket transport against hostile servers: it reports why, reconnects, and never dies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.websocket import WebSocketTransport
from tests.reliability.hostile_ws import PING, PONG, TEXT, HostileServer, Link, frame
from tests.support.net import wait_until
from tests.support.recorder import EventRecorder

CP_ID = "CP-HOSTILE"
MB = 1024 * 1024
FAST = BackoffPolicy(initial_s=0.05, max_s=0.2, stable_after_s=0.0)


@pytest.fixture
def crashes(monkeypatch: pytest.MonkeyPatch) -> list[threading.ExceptHookArgs]:
    """Exceptions that escaped any thread during the test."""
    seen: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", seen.append)
    return seen


Started = Callable[..., tuple[WebSocketTransport, EventRecorder]]


@pytest.fixture
def transport(crashes: list[threading.ExceptHookArgs]) -> Iterator[Started]:
    """start(url, **options): a running WebSocketTransport posting to a recorder."""
    running: list[WebSocketTransport] = []

    def start(url: str, **options: object) -> tuple[WebSocketTransport, EventRecorder]:
        events = EventRecorder()
        settings: dict[str, object] = {"connect_timeout_s": 0.5, "backoff": FAST,
                                       "ping_interval_s": 0}
        ws = WebSocketTransport(url, CP_ID, events.post, **{**settings, **options})  # type: ignore[arg-type]
        ws.start()
        running.append(ws)
        return ws, events

    yield start
    for ws in running:
        ws.stop(timeout=5.0)
    wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("ws-")], 10.0,
               "the transport's threads to end")
    assert crashes == []


def runner_alive() -> bool:
    return any(t.name == f"ws-{CP_ID}" and t.is_alive() for t in threading.enumerate())


def ups(events: EventRecorder) -> int:
    return len(events.of(TransportUp))


# -- servers ----------------------------------------------------------------------------------

def never_handshakes(link: Link) -> None:
    link.read_request()
    link.hold()  # TCP accepted, HTTP request read, no answer ever


def never_pongs(link: Link) -> None:
    link.handshake()
    while not link.stopping.is_set():
        link.read_frame()  # pings are read and ignored


def drops_mid_frame(link: Link) -> None:
    link.handshake()
    whole = frame(TEXT, b'[2,"1","Heartbeat",{}]' * 100)
    link.conn.sendall(whole[: len(whole) // 2])
    link.conn.close()


def sends(payload: bytes) -> Callable[[Link], None]:
    def behaviour(link: Link) -> None:
        link.handshake()
        link.send_frame(TEXT, payload)
        link.hold()
    return behaviour


def big_call() -> bytes:
    data = "x" * (MB - 60)
    return f'[2,"big","DataTransfer",{{"vendorId":"v","data":"{data}"}}]'.encode()


# -- tests ------------------------------------------------------------------------------------

def test_server_that_never_completes_the_handshake(transport: Started) -> None:
    with HostileServer(never_handshakes) as server:
        _ws, events = transport(server.url)
        events.wait_for(TransportDown, count=2, timeout=10.0)
        wait_until(lambda: server.connections >= 2, 5.0, "a second connection attempt")
        assert ups(events) == 0
        reason = events.of(TransportDown)[0].reason
        assert "cannot connect" in reason and server.url in reason
        assert runner_alive()


def test_server_that_stops_answering_pings(transport: Started) -> None:
    with HostileServer(never_pongs) as server:
        _ws, events = transport(server.url, ping_interval_s=0.2, pong_timeout_s=0.3)
        events.wait_for(TransportUp, count=2, timeout=10.0)  # detected, reconnected
        down = events.of(TransportDown)[0]
        assert "no pong within 0.3 s" in down.reason
        assert server.connections >= 2 and runner_alive()


def test_server_that_drops_mid_frame(transport: Started) -> None:
    with HostileServer(drops_mid_frame) as server:
        _ws, events = transport(server.url)
        events.wait_for(TransportUp, count=2, timeout=10.0)
        assert events.of(TransportDown)[0].reason.startswith("connection lost")
        assert events.of(FrameReceived) == []  # half a frame is never delivered
        assert runner_alive()


def test_a_one_megabyte_frame_is_delivered_whole(transport: Started) -> None:
    """OCPP-J sets no frame size limit at the transport: the core judges the content."""
    payload = big_call()
    with HostileServer(sends(payload)) as server:
        ws, events = transport(server.url)
        received = events.wait_for(FrameReceived, timeout=20.0)
        assert received.text == payload.decode()
        assert events.of(TransportDown) == [] and ups(events) == 1  # the link stayed up
        assert ws.send('[3,"big",{"status":"Accepted"}]')


@pytest.mark.parametrize("payload", [b'[2,"1","Heartbeat",{"x":"\xff\xfe"}]', b"\xc3\x28",
                                     b"\xed\xa0\x80"], ids=["ff-fe", "bad-continuation",
                                                            "encoded-surrogate"])
def test_invalid_utf8_in_a_text_frame_fails_the_link(transport: Started, payload: bytes) -> None:
    """RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection; we reconnect."""
    with HostileServer(sends(payload)) as server:
        _ws, events = transport(server.url)
        events.wait_for(TransportUp, count=2, timeout=10.0)
        assert "cannot decode" in events.of(TransportDown)[0].reason
        assert events.of(FrameReceived) == []
        assert runner_alive()


def test_pings_from_the_server_are_answered(transport: Started) -> None:
    pongs: list[bytes] = []

    def pinger(link: Link) -> None:
        link.handshake()
        link.send_frame(PING, b"are you there")
        while not link.stopping.is_set():
            opcode, data = link.read_frame()
            if opcode == PONG:
                pongs.append(data)

    with HostileServer(pinger) as server:
        _ws, events = transport(server.url)
        events.wait_for(TransportUp)
        wait_until(lambda: pongs == [b"are you there"], 5.0, "a pong")


@pytest.mark.xfail(strict=True, reason="transports: the TransportDown reason for invalid UTF-8 "
                   "embeds repr() of the whole frame (websocket-client's message), so a 100 KB "
                   "frame makes a 400 KB log line (cpagent/transports/websocket.py _read)")
def test_invalid_utf8_reason_stays_short(transport: Started) -> None:
    with HostileServer(sends(b"\xff" * 100_000)) as server:
        _ws, events = transport(server.url)
        down = events.wait_for(TransportDown, timeout=10.0)
        assert len(down.reason) < 1000


@pytest.mark.xfail(strict=True, reason="transports: send() lets UnicodeEncodeError escape for a "
                   "text UTF-8 cannot carry (a lone surrogate, which the core can echo from a "
                   "peer's message id) instead of returning False (websocket.py send)")
def test_send_of_unencodable_text_returns_false(transport: Started) -> None:
    with HostileServer(sends(b'[2,"1","Heartbeat",{}]')) as server:
        ws, events = transport(server.url)
        events.wait_for(TransportUp)
        assert ws.send('[3,"\ud800",{}]') is False
        assert ws.send('[3,"1",{}]') is True  # and the link is still usable
