"""The owner loop: dispatch, deadlines, control answers, stop and failure exit codes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cpagent.daemon.events import ControlRequest, ShutdownRequested, StopRequested, WorkerDied
from cpagent.daemon.loop import EX_SOFTWARE, CommandError, OwnerLoop
from cpagent.daemon.notify import Notifier
from cpagent.transports.events import TransportDown, TransportUp

from .test_notify import FakeManager


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingApp:
    """A minimal Application that records what the loop asked of it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.events: list[object] = []
        self.deadline: float | None = None
        self.fired: list[float] = []
        self.fail_on: object = None
        self.wind_down = False  # begin_stop's answer
        self.stops: list[str] = []

    def on_event(self, event: object, now: float) -> None:
        if event == self.fail_on:
            raise RuntimeError("application bug")
        self.events.append(event)

    def next_deadline(self) -> float | None:
        return self.deadline

    def on_deadline(self, now: float) -> None:
        self.fired.append(now)
        self.deadline = None

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        if request["cmd"] == "refuse":
            raise CommandError("no thanks")
        if request["cmd"] == "crash":
            raise KeyError("oops")
        return {"did": request["cmd"]}

    def status(self) -> dict[str, Any]:
        return {"connection": "disconnected", "connectors": []}

    def begin_stop(self, reason: str, now: float) -> bool:
        self.stops.append(reason)
        return self.wind_down

    def shutdown(self, reason: str) -> None:
        return None


def make(
    clock: Clock | None = None, notifier: Notifier | None = None
) -> tuple[OwnerLoop, RecordingApp]:
    clock = clock or Clock()
    app = RecordingApp(clock)
    return OwnerLoop(app, clock=clock, notifier=notifier), app


def test_events_reach_the_app_in_order_and_shutdown_ends_the_loop() -> None:
    loop, app = make()
    for event in ("a", "b", ShutdownRequested("test"), "after"):
        loop.post(event)
    assert loop.run() == 0
    assert app.events == ["a", "b"]
    assert loop.stop_reason == "test"


@pytest.mark.parametrize(
    ("wind_down", "events", "handled", "stops"),
    [
        (False, [StopRequested("SIGTERM"), "after"], [], ["SIGTERM"]),  # stops at once
        (
            True,
            [StopRequested("SIGTERM"), "more", ShutdownRequested("wound down")],
            ["more"],
            ["SIGTERM"],
        ),  # the app winds down, then asks to stop
        (
            True,
            [StopRequested("SIGTERM"), "more", StopRequested("SIGINT"), "after"],
            ["more"],
            ["SIGTERM"],
        ),  # a second signal does not wait
    ],
    ids=["app-stops-now", "app-winds-down", "second-signal"],
)
def test_a_signal_lets_the_app_wind_down(
    wind_down: bool, events: list[object], handled: list[object], stops: list[str]
) -> None:
    loop, app = make()
    app.wind_down = wind_down
    for event in events:
        loop.post(event)
    assert loop.run() == 0
    assert app.events == handled and app.stops == stops


def test_worker_death_exits_non_zero() -> None:
    loop, _ = make()
    loop.post(WorkerDied("meter-poller", "OSError: gone"))
    assert loop.run() == EX_SOFTWARE


def test_an_app_exception_escapes_run() -> None:
    loop, app = make()
    app.fail_on = "boom"
    loop.post("boom")
    with pytest.raises(RuntimeError, match="application bug"):
        loop.run()


def test_deadline_fires_when_due() -> None:
    clock = Clock()
    loop, app = make(clock)
    app.deadline = 105.0
    loop.post("too early")  # wakes the loop before the deadline: nothing fires
    loop.post(ShutdownRequested("x"))

    clock.now = 100.0
    loop.run()
    assert app.fired == []

    loop2, app2 = make(clock)
    app2.deadline = 99.0  # already due: fired on the first pass, without any event
    extra = Source(clock, 99.5)
    loop2.add_deadline_source(extra)

    def stop_when_fired() -> None:
        wait_fired(extra)
        loop2.post(ShutdownRequested("x"))

    stopper = threading.Thread(target=stop_when_fired)
    stopper.start()
    loop2.run()
    stopper.join(10.0)
    assert app2.fired == [100.0] and extra.fired == [100.0]


class Source:
    def __init__(self, clock: Clock, deadline: float) -> None:
        self.deadline: float | None = deadline
        self.fired: list[float] = []
        self.done = threading.Event()

    def next_deadline(self) -> float | None:
        return self.deadline

    def on_deadline(self, now: float) -> None:
        self.fired.append(now)
        self.deadline = None
        self.done.set()


def wait_fired(source: Source) -> None:
    assert source.done.wait(10.0)


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        # queue_depth 1: the ShutdownRequested posted behind the request is still waiting
        (
            {"cmd": "status"},
            {
                "ok": True,
                "connection": "disconnected",
                "connectors": [],
                "queue_depth": 1,
                "web": None,  # no [web]: the page is off
            },
        ),
        ({"cmd": "plug", "connector": 1}, {"ok": True, "did": "plug"}),
        ({"cmd": "refuse"}, {"ok": False, "error": "no thanks"}),
    ],
)
def test_control_requests_are_answered_on_the_owner_thread(
    request_: dict[str, Any], answer: dict[str, Any]
) -> None:
    loop, _ = make()
    event = ControlRequest(request_)
    loop.post(event)
    loop.post(ShutdownRequested("x"))
    loop.run()
    assert event.reply.result(0) == answer


def test_a_crashing_command_is_answered_then_stops_the_daemon() -> None:
    loop, _ = make()
    event = ControlRequest({"cmd": "crash"})
    loop.post(event)
    with pytest.raises(KeyError):
        loop.run()
    assert event.reply.result(0)["ok"] is False


def test_a_client_that_gives_up_while_its_answer_is_made_does_not_stop_the_daemon() -> None:
    """The control socket and the web page cancel a request they stopped waiting for; one
    cancelled while the owner thread is making its answer is dropped, not a crash."""
    loop, app = make()
    event = ControlRequest({"cmd": "status"})

    def status_while_the_client_gives_up() -> dict[str, Any]:
        event.reply.cancel()
        return {"connection": "disconnected", "connectors": []}

    app.status = status_while_the_client_gives_up  # type: ignore[method-assign]
    loop.post(event)
    loop.post(ShutdownRequested("x"))
    assert loop.run() == 0
    assert event.reply.cancelled()


def test_connection_changes_and_watchdog_are_notified(tmp_path: Path) -> None:
    path = str(tmp_path / "n.sock")
    fake = FakeManager(path)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        loop, app = make(notifier=notifier)
        loop.post(TransportUp("ocpp1.6"))
        loop.post(TransportDown("peer closed"))
        loop.post(ShutdownRequested("x"))
        loop.run()
        notifier.close()
        messages = [fake.receive() for _ in range(3)]
    finally:
        fake.close()
    assert "WATCHDOG=1" in messages  # the first ping goes out on the first pass
    assert [m for m in messages if m.startswith("STATUS=")] == [
        "STATUS=connected to CSMS (ocpp1.6)",
        "STATUS=disconnected from CSMS: peer closed",
    ]
    assert app.events == [TransportUp("ocpp1.6"), TransportDown("peer closed")]


POSTS_UNDER_SIGNALS = """
import signal, sys
from cpagent.daemon.loop import Inbox

inbox = Inbox()
signal.signal(signal.SIGALRM, lambda *_: inbox.post("from the handler"))
signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)  # a signal every 100 us
for n in range(200_000):
    inbox.post(n)
signal.setitimer(signal.ITIMER_REAL, 0)
print("posted", inbox.depth() >= 200_000)
"""


def test_a_signal_handler_can_post_while_the_main_thread_is_posting() -> None:
    """The daemon's signal handler posts StopRequested; a second signal (SIGINT then SIGTERM,
    two Ctrl-C) runs that handler while the first one is still inside `post`. A queue whose
    put holds a lock deadlocks there: every thread then waits on the inbox for good."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", POSTS_UNDER_SIGNALS],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=60,  # a deadline, not a measurement: unloaded it takes about a second
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("deadlocked: a post from a signal handler waited on the post it interrupted")
    assert done.stdout.strip() == "posted True", done.stderr
