"""Control-socket clients are bounded: idle ones time out or make room, extras are refused."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.daemon.control import MAX_CLIENTS, ControlServer
from cpagent.daemon.events import ControlRequest
from tests.reliability.campaign import Daemon
from tests.support.net import free_port, wait_until


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="cpctl-"))  # sun_path is 107 bytes at most
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Owner:
    """Stands in for the owner thread: answers `status`, or holds every request (wedged)."""

    def __init__(self) -> None:
        self.wedged = False
        self.held: list[ControlRequest] = []

    def post(self, event: object) -> None:
        assert isinstance(event, ControlRequest)
        if self.wedged:
            self.held.append(event)
        else:
            event.reply.set_result({"ok": True, "status": "fine"})


@pytest.fixture
def server(sock_dir: Path) -> Iterator[tuple[ControlServer, Owner, Path]]:
    owner = Owner()
    path = sock_dir / "ctl.sock"
    control = ControlServer(path, owner.post, answer_timeout_s=30.0, idle_timeout_s=0.5)
    control.start()
    yield control, owner, path
    for event in owner.held:
        if not event.reply.done():
            event.reply.set_result({"ok": False, "error": "test over"})
    control.stop()


def connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))  # blocking: waits for room in the listen backlog, no EAGAIN
    sock.settimeout(10.0)
    return sock


def ask(path: Path, line: bytes = b'{"cmd":"status"}\n') -> dict[str, Any]:
    with connect(path) as sock, sock.makefile("rb") as reader:
        sock.sendall(line)
        answer: dict[str, Any] = json.loads(reader.readline())
    return answer


def test_idle_client_is_hung_up_on(server: tuple[ControlServer, Owner, Path]) -> None:
    _control, _owner, path = server
    with connect(path) as sock:
        assert sock.recv(1) == b""  # EOF after idle_timeout_s (0.5 s), not a 10 s recv timeout


def test_idle_clients_make_room_for_a_new_one(server: tuple[ControlServer, Owner, Path]) -> None:
    _control, _owner, path = server
    idle = [connect(path) for _ in range(3 * MAX_CLIENTS)]
    try:
        assert ask(path) == {"ok": True, "status": "fine"}
    finally:
        for sock in idle:
            sock.close()


def test_extra_client_is_refused_with_an_error_line_while_all_wait_for_answers(
    server: tuple[ControlServer, Owner, Path],
) -> None:
    _control, owner, path = server
    owner.wedged = True
    busy = [connect(path) for _ in range(MAX_CLIENTS)]
    try:
        for sock in busy:
            sock.sendall(b'{"cmd":"status"}\n')
        wait_until(lambda: len(owner.held) == MAX_CLIENTS, 5.0, "every request with the owner")
        with connect(path) as extra, extra.makefile("rb") as reader:
            answer = json.loads(reader.readline())  # unasked: the refusal comes at once
        assert answer["ok"] is False and "too many control clients" in answer["error"], answer
    finally:
        for sock in busy:
            sock.close()


def test_the_daemon_keeps_its_thread_count_under_an_idle_client_flood(
    tmp_path: Path, sock_dir: Path
) -> None:
    """Many idle connections to the running daemon: its threads stay bounded (before: one
    each, for 30 s), `status` answers throughout, and it lives."""
    daemon = Daemon(tmp_path, sock_dir / "ctl.sock", f"ws://127.0.0.1:{free_port()}")
    daemon.start()
    try:
        before = daemon.proc().threads
        idle: list[socket.socket] = []
        try:
            for _ in range(400):
                idle.append(connect(daemon.socket_path))
            assert ask(daemon.socket_path)["ok"] is True
            assert daemon.proc().threads <= before + MAX_CLIENTS + 2, daemon.proc()
        finally:
            for sock in idle:
                sock.close()
        assert daemon.status()["ok"] is True
        assert daemon.process is not None and daemon.process.poll() is None
    finally:
        daemon.stop()


def test_many_clients_at_once_all_get_answers_or_refusals(
    server: tuple[ControlServer, Owner, Path],
) -> None:
    """200 clients asking concurrently: each gets one JSON line, never a hang."""
    _control, _owner, path = server
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            got = ask(path)
        except OSError as exc:  # evicted before its line arrived: closed without answer
            got = {"ok": False, "error": repr(exc)}
        except ValueError:
            got = {"ok": False, "error": "closed without an answer"}
        with lock:
            answers.append(got)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20.0)
    assert len(answers) == 200
    assert sum(a["ok"] is True for a in answers) >= MAX_CLIENTS
