"""WebSocket transport against hostile servers: it reports why, reconnects, and never dies."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from cpagent.core import CallAnswered, CallFailed, CallTimeout, Session, UnexpectedResponse
from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.websocket import WebSocketTransport
from tests.reliability.hostile_ws import CLOSE, PING, PONG, TEXT, HostileServer, Link, frame
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
        settings: dict[str, object] = {
            "connect_timeout_s": 0.5,
            "backoff": FAST,
            "ping_interval_s": 0,
        }
        ws = WebSocketTransport(url, CP_ID, events.post, **{**settings, **options})  # type: ignore[arg-type]
        ws.start()
        running.append(ws)
        return ws, events

    yield start
    for ws in running:
        ws.stop(timeout=5.0)
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("ws-")],
        10.0,
        "the transport's threads to end",
    )
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


def answers(raw: bytes) -> Callable[[Link], None]:
    def behaviour(link: Link) -> None:
        link.read_request()
        link.conn.sendall(raw)
        link.hold()

    return behaviour


def upgrades_then_sends(raw: bytes, subprotocol: str | None = "ocpp1.6") -> Callable[[Link], None]:
    def behaviour(link: Link) -> None:
        link.handshake(subprotocol)
        link.conn.sendall(raw)
        link.hold()

    return behaviour


BAD_ACCEPT = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: AAAA\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
)
# (server, what the TransportDown reason starts with): RFC 6455 violations and refusals.
VIOLATIONS = {
    "http-200": (
        answers(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        "central system answered HTTP 200",
    ),
    "not-http": (answers(b"\x00\xffgarbage\r\n\r\n"), "cannot connect"),
    "bad-accept-key": (answers(BAD_ACCEPT), "cannot connect"),  # RFC 6455 §4.1
    "no-subprotocol": (
        upgrades_then_sends(b"", None),
        "central system selected no subprotocol",
    ),  # OCPP-J 1.6 §3.1.2
    "empty-subprotocol": (upgrades_then_sends(b"", ""), "central system selected subprotocol ''"),
    "other-subprotocol": (
        upgrades_then_sends(b"", "ocpp2.0.1"),
        "central system selected subprotocol 'ocpp2.0.1'",
    ),
    "continuation-first": (upgrades_then_sends(frame(0x0, b"abc")), "connection lost"),  # §5.4
    "reserved-opcode": (upgrades_then_sends(frame(0x3, b"x")), "connection lost"),  # §5.2
    "rsv-bits": (upgrades_then_sends(bytes([0xC1, 1]) + b"x"), "connection lost"),  # §5.2
    "ping-over-125": (
        upgrades_then_sends(bytes([0x89, 126]) + struct.pack(">H", 200) + b"p" * 200),
        "connection lost",
    ),  # §5.5
    "fragmented-ping": (upgrades_then_sends(bytes([0x09, 1]) + b"p"), "connection lost"),
    "close-1-byte": (upgrades_then_sends(frame(CLOSE, b"\x03")), "connection lost"),  # §5.5.1
    "close-code-999": (
        upgrades_then_sends(frame(CLOSE, struct.pack(">H", 999))),
        "connection lost",
    ),  # §7.4
}


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


@pytest.mark.parametrize(
    "payload",
    [b'[2,"1","Heartbeat",{"x":"\xff\xfe"}]', b"\xc3\x28", b"\xed\xa0\x80"],
    ids=["ff-fe", "bad-continuation", "encoded-surrogate"],
)
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


def test_invalid_utf8_reason_stays_short(transport: Started) -> None:
    with HostileServer(sends(b"\xff" * 100_000)) as server:
        _ws, events = transport(server.url)
        down = events.wait_for(TransportDown, timeout=10.0)
        assert len(down.reason) < 1000


def test_send_of_unencodable_text_returns_false(transport: Started) -> None:
    with HostileServer(sends(b'[2,"1","Heartbeat",{}]')) as server:
        ws, events = transport(server.url)
        events.wait_for(TransportUp)
        assert ws.send('[3,"\ud800",{}]') is False
        assert ws.send('[3,"1",{}]') is True  # and the link is still usable


@pytest.mark.parametrize(("server", "reason"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
def test_protocol_violations_fail_the_link_and_it_reconnects(
    transport: Started, server: Callable[[Link], None], reason: str
) -> None:
    with HostileServer(server) as hostile:
        _ws, events = transport(hostile.url)
        events.wait_for(TransportDown, count=2, timeout=10.0)
        assert events.of(TransportDown)[0].reason.startswith(reason), events.events
        wait_until(lambda: hostile.connections >= 2, 5.0, "a reconnect")
        assert events.of(FrameReceived) == [] and runner_alive()


def test_a_frame_declaring_exabytes_is_refused_at_its_header(transport: Started) -> None:
    """A header announcing 2**62 bytes that never come: refused before any payload is read
    (close 1009, RFC 6455 §7.4.1), not waited for until the keep-alive gives up."""
    with HostileServer(upgrades_then_sends(bytes([0x81, 127]) + struct.pack(">Q", 2**62))) as s:
        _ws, events = transport(s.url, ping_interval_s=0, pong_timeout_s=30.0)
        events.wait_for(TransportUp, count=2, timeout=10.0)
        assert "close 1009" in events.of(TransportDown)[0].reason
        assert events.of(FrameReceived) == []


def test_an_answer_later_than_the_call_timeout_does_not_break_the_link(transport: Started) -> None:
    """The server answers our first CALL only after the core gave up on it (OCPP-J 1.6 §4.1.1
    one CALL in flight): the late answer is an UnexpectedResponse, the next CALL works."""
    release = threading.Event()

    def slow_then_prompt(link: Link) -> None:
        link.handshake()
        first = True
        while not link.stopping.is_set():
            opcode, data = link.read_frame()
            if opcode != TEXT:
                continue
            message_id = json.loads(data)[1]
            if first:
                first = False
                release.wait(10.0)
            answer = [3, message_id, {"currentTime": "2026-11-30T00:00:00Z"}]
            link.send_frame(TEXT, json.dumps(answer).encode())

    with HostileServer(slow_then_prompt) as server:
        ws, events = transport(server.url)
        events.wait_for(TransportUp)
        session = Session("ocpp1.6", call_timeout=30.0)
        session.connected(0.0)
        session.call("slow", "Heartbeat", {}, 0.0)
        session.call("next", "Heartbeat", {}, 0.0)
        assert all(ws.send(out.text) for out in session.drain_frames())
        session.tick(31.0)  # the core's clock is an input: 31 s later, without waiting
        (failed,) = session.drain_events()
        assert isinstance(failed, CallFailed) and isinstance(failed.error, CallTimeout)
        assert all(ws.send(out.text) for out in session.drain_frames())  # "next" goes out
        release.set()
        received = [events.wait_for(FrameReceived, count=n).text for n in (1, 2)]
        for text in received:
            session.receive(text, 31.5)
        outcomes = session.drain_events()
        assert [type(e) for e in outcomes] == [UnexpectedResponse, CallAnswered]
        assert outcomes[1].message_id == "next"  # type: ignore[union-attr]
        assert events.of(TransportDown) == []
