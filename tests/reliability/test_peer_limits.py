"""WebSocket transport against peers that stop reading or send too much: bounded time, memory."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.websocket import WebSocketTransport
from tests.reliability.hostile_ws import CLOSE, TEXT, HostileServer, Link, frame
from tests.support.net import wait_until
from tests.support.recorder import EventRecorder

CP_ID = "CP-LIMITS"
FAST = BackoffPolicy(initial_s=0.05, max_s=0.2, stable_after_s=0.0)
KIB = 1024
CAP = 64 * KIB  # max_frame_bytes in these tests


Started = Callable[..., tuple[WebSocketTransport, EventRecorder]]


@pytest.fixture
def transport() -> Iterator[Started]:
    """start(url, **options): a running WebSocketTransport posting to a recorder."""
    running: list[WebSocketTransport] = []

    def start(url: str, **options: object) -> tuple[WebSocketTransport, EventRecorder]:
        events = EventRecorder()
        settings: dict[str, object] = {
            "connect_timeout_s": 1.0,
            "backoff": FAST,
            "ping_interval_s": 0,
            "max_frame_bytes": CAP,
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


def never_reads(link: Link) -> None:
    """Handshake, then never read again: our receive buffer (small) and the client's send
    buffer fill, and every further write of the client blocks in the kernel."""
    link.handshake()
    link.stopping.wait()


def _send_all(ws: WebSocketTransport, frames: int, size: int) -> threading.Thread:
    """`frames` sends of `size` bytes from a thread (standing in for the owner thread)."""
    text = "x" * size
    sender = threading.Thread(
        target=lambda: [ws.send(text) for _ in range(frames)], name="owner-stand-in", daemon=True
    )
    sender.start()
    return sender


@pytest.mark.parametrize(
    ("ping_interval_s", "reason"),
    [
        (0, "central system not reading"),  # no pings: the blocked frame itself is noticed
        (0.2, ""),  # pings: whichever notices first (no pong, blocked)
    ],
)
def test_peer_that_stops_reading_never_blocks_send_and_is_replaced(
    transport: Started, ping_interval_s: float, reason: str
) -> None:
    with HostileServer(never_reads, rcvbuf=4 * KIB) as server:
        ws, events = transport(server.url, ping_interval_s=ping_interval_s, pong_timeout_s=0.5)
        events.wait_for(TransportUp)
        # 400 x 64 KiB = 25 MiB: far more than any socket buffer holds. The caller must get
        # every answer back without waiting on the peer (before: blocked in the kernel).
        sender = _send_all(ws, 400, 64 * KIB)
        wait_until(lambda: not sender.is_alive(), 10.0, "every send() to return")
        down = events.wait_for(TransportDown, timeout=10.0)
        assert reason in down.reason, down
        wait_until(lambda: server.connections >= 2, 10.0, "the link replaced (a reconnect)")
        events.wait_for(TransportUp, count=2, timeout=10.0)


def test_send_after_the_queue_fills_returns_false_at_once(transport: Started) -> None:
    """A writer queue that cannot drain marks the link dead; send() says False, not blocks."""
    with HostileServer(never_reads, rcvbuf=4 * KIB) as server:
        ws, events = transport(server.url, pong_timeout_s=30.0)  # no stall verdict in time
        events.wait_for(TransportUp)
        results: list[bool] = []
        text = "y" * (256 * KIB)
        sender = threading.Thread(
            target=lambda: results.extend(ws.send(text) for _ in range(200)), daemon=True
        )
        sender.start()
        wait_until(lambda: not sender.is_alive(), 10.0, "every send() to return")
        assert results[0] is True and results[-1] is False, results
        down = events.wait_for(TransportDown, timeout=10.0)
        assert "frames waiting to be sent" in down.reason, down


def test_stop_returns_while_the_peer_does_not_read(transport: Started) -> None:
    with HostileServer(never_reads, rcvbuf=4 * KIB) as server:
        ws, events = transport(server.url, pong_timeout_s=30.0)
        events.wait_for(TransportUp)
        sender = _send_all(ws, 40, 256 * KIB)
        wait_until(lambda: not sender.is_alive(), 10.0, "every send() to return")
        stopper = threading.Thread(target=ws.stop, kwargs={"timeout": 2.0}, daemon=True)
        began = time.monotonic()
        stopper.start()
        stopper.join(10.0)
        assert not stopper.is_alive(), "stop() hung on a peer that does not read"
        assert time.monotonic() - began < 9.0


# -- oversized messages ---------------------------------------------------------------------


def sends_then_reads(data: bytes, seen: list[tuple[int, bytes]]) -> Callable[[Link], None]:
    """Handshake, send `data` (all of it, or until the client hangs up), then record the
    client's frames until it closes."""

    def behaviour(link: Link) -> None:
        link.handshake()
        reader = threading.Thread(target=_record, args=(link, seen), daemon=True)
        reader.start()
        link.conn.sendall(data)
        reader.join(10.0)

    return behaviour


def _record(link: Link, seen: list[tuple[int, bytes]]) -> None:
    try:
        while True:
            seen.append(link.read_frame())
    except (OSError, ConnectionError):
        return


def announced(size: int, sent: int) -> bytes:
    """A text frame header announcing `size` bytes, followed by `sent` of them."""
    return bytes([0x81, 127]) + struct.pack(">Q", size) + b"x" * sent


def fragmented(fragments: int, size: int) -> bytes:
    """A text message in `fragments` frames of `size` bytes each (RFC 6455 §5.4)."""
    first = frame(TEXT, b"x" * size, fin=False)
    middle = frame(0x0, b"x" * size, fin=False)
    return first + middle * (fragments - 2) + frame(0x0, b"x" * size)


OVERSIZED = {
    "cap-plus-one": announced(CAP + 1, CAP + 1),
    "1-MiB": announced(1024 * KIB, 256 * KIB),
    "100-MB": announced(100_000_000, 256 * KIB),
    "2**62": announced(2**62, 16),
    "fragments-adding-up": fragmented(20, 4 * KIB),  # 80 KiB in frames of 4 KiB
}


@pytest.mark.parametrize("data", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_oversized_message_is_refused_with_1009_and_the_link_replaced(
    transport: Started, data: bytes
) -> None:
    seen: list[tuple[int, bytes]] = []
    with HostileServer(sends_then_reads(data, seen)) as server:
        _ws, events = transport(server.url)
        down = events.wait_for(TransportDown, timeout=10.0)
        assert "close 1009" in down.reason, down
        wait_until(lambda: any(op == CLOSE for op, _ in seen), 5.0, "our Close frame")
        close = next(payload for op, payload in seen if op == CLOSE)
        assert struct.unpack(">H", close[:2])[0] == 1009  # RFC 6455 §7.4.1
        assert events.of(FrameReceived) == []
        events.wait_for(TransportUp, count=2, timeout=10.0)  # replaced


@pytest.mark.parametrize(
    "data",
    [frame(TEXT, b"x" * CAP), fragmented(16, 4 * KIB)],
    ids=["one-frame-at-the-cap", "fragments-at-the-cap"],
)
def test_message_at_the_cap_is_delivered(transport: Started, data: bytes) -> None:
    seen: list[tuple[int, bytes]] = []
    with HostileServer(sends_then_reads(data, seen)) as server:
        _ws, events = transport(server.url)
        got = events.wait_for(FrameReceived, timeout=10.0)
        assert len(got.text) == CAP
        assert events.of(TransportDown) == []
