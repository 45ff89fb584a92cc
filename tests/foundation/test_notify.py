"""sd_notify: messages reach a real AF_UNIX datagram socket, path or abstract address."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.daemon.notify import Notifier


class FakeManager:
    """The service manager's end: a datagram socket that collects notify messages."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(10.0)

    def receive(self) -> str:
        return self.sock.recv(4096).decode()

    def receive_until(self, prefix: str, limit: int = 200) -> list[str]:
        """Messages up to and including the first starting with `prefix`."""
        seen = []
        for _ in range(limit):
            seen.append(self.receive())
            if seen[-1].startswith(prefix):
                return seen
        raise AssertionError(f"no {prefix!r} in {seen}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[FakeManager, str]]:
    path = str(tmp_path / "notify.sock")
    fake = FakeManager(path)
    yield fake, path
    fake.close()


def test_sequence_over_a_path_socket(manager: tuple[FakeManager, str]) -> None:
    fake, path = manager
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.ready("up")
    notifier.ready("again")  # READY=1 only once
    notifier.status("connected")
    notifier.watchdog()
    notifier.stopping("bye")
    notifier.close()
    assert [fake.receive() for _ in range(4)] == [
        "READY=1\nSTATUS=up",
        "STATUS=connected",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=bye",
    ]


def test_abstract_address() -> None:
    name = f"cpagent-test-{os.getpid()}"
    fake = FakeManager(b"\0" + name.encode())
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        notifier.status("hello")
        notifier.close()
        assert fake.receive() == "STATUS=hello"
    finally:
        fake.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.ready("x")  # must not raise


def test_vanished_manager_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    notifier.status("nobody listens")
    notifier.close()


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    env: dict[str, str], interval: float | None
) -> None:
    assert Notifier(env).watchdog_interval_s == interval


@pytest.mark.timeout(30)
def test_a_manager_that_never_reads_does_not_block_the_sender(
    manager: tuple[FakeManager, str],
) -> None:
    _, path = manager
    notifier = Notifier({"NOTIFY_SOCKET": path})
    for _ in range(1000):  # far beyond the datagram queue (net.unix.max_dgram_qlen)
        notifier.watchdog()
    notifier.close()
