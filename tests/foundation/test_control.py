"""The control socket: JSON-line round trips through the owner loop, and hostile input."""

from __future__ import annotations

import json
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.daemon.client import DaemonUnavailable, request
from cpagent.daemon.control import MAX_LINE, ControlServer, ControlServerError
from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.loop import OwnerLoop

from .test_loop import Clock, RecordingApp


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """A control server whose requests a running owner loop answers."""
    path = tmp_path / "ctl.sock"
    loop = OwnerLoop(RecordingApp(Clock()))
    server = ControlServer(path, loop.post)
    server.start()
    owner = threading.Thread(target=loop.run, name="owner")
    owner.start()
    yield path
    loop.post(ShutdownRequested("test over"))
    owner.join(10.0)
    server.stop()
    assert not owner.is_alive()


def lines(path: Path, *payloads: bytes) -> list[dict[str, object]]:
    """Send raw lines on one connection; return the decoded answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10.0)
        sock.connect(str(path))
        answers = []
        with sock.makefile("rb") as reader:
            for payload in payloads:
                sock.sendall(payload)
                answers.append(json.loads(reader.readline()))
        return answers


def test_status_round_trip(served: Path) -> None:
    assert request(served, {"cmd": "status"}) == {
        "ok": True,
        "connection": "disconnected",
        "connectors": [],
        "queue_depth": 0,
        "web": None,  # no [web]: the page is off
    }


def test_socket_mode_is_0660(served: Path) -> None:
    assert stat.S_IMODE(served.stat().st_mode) == 0o660


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json\n", "not a JSON line"),
        (b"\xff\xfe\n", "not a JSON line"),
        (b"[1, 2]\n", 'expected an object with a string "cmd"'),
        (b'{"cmd": 5}\n', 'expected an object with a string "cmd"'),
        (b'{"cmd": "refuse"}\n', "no thanks"),
    ],
)
def test_garbage_gets_an_error_and_the_connection_keeps_working(
    served: Path, payload: bytes, error: str
) -> None:
    bad, good = lines(served, payload, b'{"cmd": "plug", "connector": 1}\n')
    assert bad == {"ok": False, "error": error}
    assert good == {"ok": True, "did": "plug"}


def test_oversized_line_is_refused_and_the_server_survives(served: Path) -> None:
    (answer,) = lines(served, b"x" * (MAX_LINE + 10))
    assert answer == {"ok": False, "error": f"line longer than {MAX_LINE} bytes"}
    assert request(served, {"cmd": "status"})["ok"] is True


def test_a_client_that_hangs_up_does_not_hurt(served: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(served))
        sock.sendall(b'{"cmd": "sta')
    assert request(served, {"cmd": "status"})["ok"] is True


def test_an_owner_that_does_not_answer_gives_a_timeout_error(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    server = ControlServer(path, lambda event: None, answer_timeout_s=0.2)
    server.start()
    try:
        answer = request(path, {"cmd": "status"})
    finally:
        server.stop()
    assert answer == {"ok": False, "error": "daemon did not answer in time (busy or stopping)"}
    assert not path.exists()


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    server = ControlServer(path, lambda event: None)
    server.start()
    server.stop()


def test_a_live_daemon_on_the_socket_is_not_displaced(served: Path) -> None:
    with pytest.raises(ControlServerError, match="another cpagent is already running"):
        ControlServer(served, lambda event: None).start()
    assert request(served, {"cmd": "status"})["ok"] is True


def test_a_regular_file_in_the_way_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    path.write_text("not a socket")
    with pytest.raises(ControlServerError, match="not a socket"):
        ControlServer(path, lambda event: None).start()


@pytest.mark.parametrize("kind", ["missing", "stale"])
def test_client_reports_a_missing_daemon_in_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "ctl.sock"
    if kind == "stale":
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(path))
        stale.close()
    with pytest.raises(DaemonUnavailable) as info:
        request(path, {"cmd": "status"})
    assert str(info.value).startswith("cpagent is not running")
    assert "\n" not in str(info.value)
