"""Client side of the control socket: one JSON-line request, one answer, clear errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = Path("/run/cpagent/control.sock")


class DaemonUnavailable(Exception):
    """No daemon answers on the socket; the message is one line for people."""


def request(path: Path, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send `message` to the daemon at `path`; return its answer or raise DaemonUnavailable."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise DaemonUnavailable(_connect_error(path, exc)) from None
        try:
            sock.sendall((json.dumps(message) + "\n").encode())
            with sock.makefile("rb") as reader:
                line = reader.readline()
        except TimeoutError:
            raise DaemonUnavailable(f"cpagent at {path} did not answer in {timeout:g} s") from None
        except OSError as exc:
            raise DaemonUnavailable(f"cpagent at {path} hung up: {exc.strerror or exc}") from None
        if not line:
            raise DaemonUnavailable(f"cpagent at {path} closed the connection without answering")
        try:
            answer = json.loads(line)
        except ValueError:
            raise DaemonUnavailable(f"cpagent at {path} sent a garbled answer") from None
        if not isinstance(answer, dict):
            raise DaemonUnavailable(f"cpagent at {path} sent a garbled answer")
        return answer
    finally:
        sock.close()


def _connect_error(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"cpagent is not running (no control socket at {path})"
    if isinstance(exc, ConnectionRefusedError):
        return f"cpagent is not running (nothing listens on {path})"
    if isinstance(exc, PermissionError):
        return f"permission denied on {path} (run as root or join the cpagent group)"
    return f"cannot reach cpagent at {path}: {exc.strerror or exc}"
