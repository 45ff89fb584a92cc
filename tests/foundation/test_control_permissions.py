"""Who may do what on the control socket: reading status vs acting on the charger."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.daemon.client import request
from cpagent.daemon.control import ControlServer, Peer, may_act
from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.loop import OwnerLoop

from .test_loop import Clock, RecordingApp

NOBODY = pwd.getpwnam("nobody")
SOME_GROUP = grp.getgrgid(NOBODY.pw_gid).gr_name  # nobody's primary group (nogroup)


@pytest.mark.parametrize(
    ("peer", "ctl_group", "allowed"),
    [
        (Peer(1, 1000, 1000), None, True),  # the daemon's own user (own_uid=1000 below)
        (Peer(1, 0, 0), None, True),  # root
        (Peer(1, NOBODY.pw_uid, NOBODY.pw_gid), None, False),  # a member of the socket's group
        (Peer(1, NOBODY.pw_uid, NOBODY.pw_gid), SOME_GROUP, True),  # ctl_group, primary gid
        (Peer(1, NOBODY.pw_uid, NOBODY.pw_gid), "no-such-group-xyz", False),
        (None, SOME_GROUP, False),  # the kernel did not say who it is
    ],
)
def test_may_act(peer: Peer | None, ctl_group: str | None, allowed: bool) -> None:
    assert may_act(peer, ctl_group, own_uid=1000) is allowed


@pytest.fixture
def served() -> Iterator[Path]:
    # pytest's tmp_path is under a 0700 directory another user cannot traverse
    directory = Path(tempfile.mkdtemp(prefix="cpagent-ctl-"))
    directory.chmod(0o755)
    path = directory / "ctl.sock"
    loop = OwnerLoop(RecordingApp(Clock()))
    server = ControlServer(path, loop.post)
    server.start()
    owner = threading.Thread(target=loop.run, name="owner")
    owner.start()
    yield path
    loop.post(ShutdownRequested("test over"))
    owner.join(10.0)
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_the_daemon_user_may_act(served: Path) -> None:
    assert request(served, {"cmd": "tap", "id_tag": "X"}) == {"ok": True, "did": "tap"}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_another_user_reads_status_but_cannot_act(served: Path) -> None:
    served.chmod(0o666)  # as if nobody were in the socket's group
    status, tap = as_user(NOBODY, served, [{"cmd": "status"}, {"cmd": "tap", "id_tag": "X"}])
    assert status["ok"] is True
    assert tap == {
        "ok": False,
        "error": "tap: permission denied (acting commands need the "
        "daemon's user, root or [control] ctl_group)",
    }


def as_user(
    user: pwd.struct_passwd, path: Path, requests: list[dict[str, object]]
) -> list[dict[str, object]]:
    """Send `requests` on one connection from a forked child running as `user`."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # only os and socket calls here, then _exit: no pytest machinery
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(str(path))
                reader = sock.makefile("rb")
                out = []
                for one in requests:
                    sock.sendall(json.dumps(one).encode() + b"\n")
                    out.append(json.loads(reader.readline()))
            os.write(write_end, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(child, 0)
    answers: list[dict[str, object]] = json.loads(data)
    return answers
