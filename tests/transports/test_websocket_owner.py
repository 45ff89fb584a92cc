"""A new WebSocket link waits until the owner loop has taken the end of the last one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.loop import OwnerLoop
from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import TransportDown, TransportUp
from cpagent.transports.websocket import WebSocketTransport
from tests.foundation.test_loop import Clock, RecordingApp
from tests.reliability.hostile_ws import CLOSE, HostileServer, Link
from tests.support.net import wait_until
from tests.support.recorder import EventRecorder

FAST = BackoffPolicy(initial_s=0.01, max_s=0.02, stable_after_s=0.0)


def closes_at_once(link: Link) -> None:
    link.handshake()
    link.send_frame(CLOSE, b"\x03\xe8")  # 1000, RFC 6455 §7.4.1
    link.hold()


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer(closes_at_once) as hostile:
        yield hostile


def test_no_new_link_until_the_down_is_taken(server: HostileServer) -> None:
    events = EventRecorder()
    ws = WebSocketTransport(
        server.url, "CP-OWNER", events.post, ping_interval_s=0, backoff=FAST, await_owner=True
    )
    ws.start()
    try:
        down = events.wait_for(TransportDown)
        with pytest.raises(AssertionError):  # the owner has not taken it: no reconnect
            wait_until(lambda: server.connections >= 2, 0.5, "a reconnect")
        down.taken.set()
        wait_until(lambda: server.connections >= 2, 5.0, "a reconnect once taken")
    finally:
        ws.stop(2.0)


def test_owner_loop_marks_a_down_taken_after_the_application_handled_it() -> None:
    clock = Clock()
    app = RecordingApp(clock)
    loop = OwnerLoop(app, clock=clock)  # type: ignore[arg-type]
    down = TransportDown("peer closed")
    loop.post(TransportUp("ocpp1.6"))
    loop.post(down)
    loop.post(ShutdownRequested("test"))
    loop.run()
    assert app.events == [TransportUp("ocpp1.6"), down] and down.taken.is_set()
