"""The daemon's side of the web page: status through the owner inbox with a deadline, the
page's code loaded only when configured, and a port in use never stopping the charger."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cpagent.config import Config, load_config
from cpagent.daemon.client import request
from cpagent.daemon.context import AppContext
from cpagent.daemon.events import ControlRequest, ShutdownRequested
from cpagent.daemon.loop import Inbox, OwnerLoop
from cpagent.daemon.runner import run_daemon
from cpagent.daemon.web_wiring import OwnerStatus, start_web
from tests.foundation.conftest import control_status, wait_until
from tests.foundation.test_config import MINIMAL, write
from tests.foundation.test_daemon import ProbeApp
from tests.foundation.test_loop import Clock, RecordingApp
from tests.support.net import free_port, port_open

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def owner() -> Iterator[tuple[Inbox, RecordingApp, threading.Thread]]:
    """A real owner loop on its own thread over a recording application."""
    inbox = Inbox()
    app = RecordingApp(Clock())
    loop = OwnerLoop(app, inbox=inbox)
    thread = threading.Thread(target=loop.run, name="owner")
    thread.start()
    try:
        yield inbox, app, thread
    finally:
        inbox.post(ShutdownRequested("test over"))
        thread.join(5)


def test_the_status_source_is_answered_by_the_owner_thread(
    owner: tuple[Inbox, RecordingApp, threading.Thread],
) -> None:
    inbox, app, thread = owner
    answered_on: list[str] = []
    plain = app.status

    def status() -> dict[str, object]:
        answered_on.append(threading.current_thread().name)
        return plain()

    app.status = status  # type: ignore[method-assign]
    answer = OwnerStatus(inbox.post)()
    assert answer == {
        "ok": True,
        "connection": "disconnected",
        "connectors": [],
        "queue_depth": 0,
        "web": None,
    }
    assert answered_on == ["owner"]


def test_a_busy_owner_is_a_timeout_and_the_request_is_withdrawn() -> None:
    inbox = Inbox()  # nobody reads it: the owner thread is busy elsewhere
    source = OwnerStatus(inbox.post, timeout_s=0.05)
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="no status answer within 0.05 s"):
        source()
    assert time.monotonic() - began < 2.0
    request = inbox.get(0)
    assert request is not None and request.reply.cancelled()  # type: ignore[attr-defined]


def test_without_web_the_daemon_does_not_load_the_page() -> None:
    """Idle memory: the daemon's modules and a config without [web] leave cpagent.web and
    http.server out of the process."""
    code = (
        "import sys, cpagent.daemon.runner, cpagent.daemon.ocpp_app, cpagent.commands.run\n"
        "print(sorted(m for m in ('cpagent.web', 'http.server') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.replace("'", '"')) == []


def test_no_web_section_starts_nothing(tmp_path: Path) -> None:
    assert start_web(load_config(write(tmp_path, MINIMAL)), Inbox().post) is None


def test_the_page_serves_the_owner_status(
    tmp_path: Path, owner: tuple[Inbox, RecordingApp, threading.Thread]
) -> None:
    inbox, _, _ = owner
    config = load_config(write(tmp_path, MINIMAL + '[web]\nlisten = "127.0.0.1:0"\n'))
    page = start_web(config, inbox.post)
    assert page is not None
    try:
        url = page.url + "api/status"  # type: ignore[attr-defined]
        with urllib.request.urlopen(url, timeout=5) as reply:
            assert json.load(reply)["connection"] == "disconnected"
    finally:
        page.stop()


def test_a_port_in_use_is_an_error_in_the_log_and_the_charger_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = MINIMAL + f'[web]\nlisten = "127.0.0.1:{port}"\n'
        with caplog.at_level(logging.ERROR, logger="cpagent.daemon.web_wiring"):
            assert start_web(load_config(write(tmp_path, text)), Inbox().post) is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors
    assert f"web listen 127.0.0.1:{port}: cannot listen there" in errors[0]
    assert "the web page is off, charging goes on" in errors[0]


@dataclass
class PageDaemon:
    """A run_daemon thread (bench application) whose `[web]` page listens on `port`."""

    port: int
    config: Config
    thread: threading.Thread
    apps: list[ProbeApp] = field(default_factory=list)
    result: list[int] = field(default_factory=list)  # run_daemon's exit code, once it ended


@contextlib.contextmanager
def page_daemon(bench_config: Path) -> Iterator[PageDaemon]:
    """run_daemon in this process with `[web]` on a free loopback port, given once the page
    listens; asked to stop on the way out if it still runs."""
    port = free_port()
    bench_config.write_text(bench_config.read_text() + f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
    config = load_config(bench_config)
    running = PageDaemon(port, config, threading.Thread())

    def build(ctx: AppContext) -> ProbeApp:
        running.apps.append(ProbeApp(ctx))
        return running.apps[-1]

    running.thread = threading.Thread(
        target=lambda: running.result.append(run_daemon(config, build_app=build))
    )
    running.thread.start()
    try:
        wait_until(lambda: port_open(port), what="the page listening")
        yield running
    finally:
        if running.thread.is_alive() and running.apps:
            running.apps[0].ctx.post(ShutdownRequested("test over"))
        running.thread.join(20)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("how", "exit_code"), [("shutdown", 0), ("crash", 70), ("kill-worker", 70)]
)
def test_the_page_stops_on_every_exit_path(
    bench_config: Path, caplog: pytest.LogCaptureFixture, how: str, exit_code: int
) -> None:
    """run_daemon in this process: once it returns, however the daemon ended, nothing
    listens on the page's port any more."""
    caplog.set_level(logging.INFO, logger="cpagent.web.server")
    with page_daemon(bench_config) as running:
        port, socket_path = running.port, running.config.control.socket
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
            assert json.load(reply)["application"] == "bench"
        wait_until(lambda: control_status(socket_path), what="the control socket")
        if how == "shutdown":
            running.apps[0].ctx.post(ShutdownRequested("test"))
        else:
            request(socket_path, {"cmd": how})
        running.thread.join(20)
        assert not running.thread.is_alive() and running.result == [exit_code]
        assert not port_open(port)
        assert f"web page on 127.0.0.1:{port} stopped" in caplog.messages


def test_the_page_reads_10000_sessions_from_the_state_database_a_page_at_a_time(
    tmp_path: Path,
) -> None:
    """The real sessions source over a real state database: the page counts every session,
    shows the 50 of the page asked for (newest first) and pages to the last one."""
    from bench.sessions_export import fill

    config = load_config(
        write(tmp_path, MINIMAL + '[state]\ndir = "state"\n[web]\nlisten = "127.0.0.1:0"\n')
    )
    config.state.dir.mkdir()
    fill(config.state.dir / "cpagent.db", 10_000, 2)
    page = start_web(config, Inbox().post)
    assert page is not None
    base = page.url  # type: ignore[attr-defined]
    try:
        with urllib.request.urlopen(base + "sessions?page=200", timeout=10) as reply:
            html = reply.read().decode()
        with urllib.request.urlopen(base + "api/sessions?offset=9990&limit=500") as reply:
            tail = json.load(reply)
    finally:
        page.stop()
    assert "10000 sessions, showing 9951-10000" in html and "page 200 of 200" in html
    shown = [int(n) for n in re.findall(r'data-session="(\d+)"', html)]
    assert shown == list(range(1050, 1000, -1))  # transactionIds of local ids 50..1
    assert tail["total"] == 10_000 and [s["local_id"] for s in tail["sessions"]] == list(
        range(10, 0, -1)
    )
    assert all(len(s["samples"]) == 2 for s in tail["sessions"])


def test_a_crowd_of_browsers_never_has_more_than_4_status_requests_waiting_on_the_owner(
    tmp_path: Path,
) -> None:
    """Owner busy (nobody reads its inbox), 12 clients at once: each gets its 503, and at no
    time were more than the 4 handler threads' requests waiting for an answer."""
    from cpagent.web import WebServer

    posted: list[ControlRequest] = []
    most: list[int] = []

    def post(event: object) -> None:
        assert isinstance(event, ControlRequest)
        posted.append(event)
        most.append(sum(1 for e in posted if not e.reply.done()))

    web = WebServer("127.0.0.1:0", OwnerStatus(post, timeout_s=0.2), lambda *_: (0, []))
    web.start()
    codes: list[int] = []

    def browse() -> None:
        try:
            urllib.request.urlopen(web.url + "api/status", timeout=30)
        except urllib.error.HTTPError as exc:
            codes.append(exc.code)

    try:
        crowd = [threading.Thread(target=browse) for _ in range(12)]
        for thread in crowd:
            thread.start()
        for thread in crowd:
            thread.join(30)
    finally:
        web.stop()
    assert codes == [503] * 12
    assert len(posted) == 12 and max(most) <= 4
