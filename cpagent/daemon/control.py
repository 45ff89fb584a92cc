"""The control socket: a Unix stream server speaking JSON lines, answered by the owner thread."""

from __future__ import annotations

import contextlib
import grp
import json
import logging
import os
import pwd
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpagent.daemon.events import ControlRequest

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
ANSWER_TIMEOUT_S = 5.0
SOCKET_MODE = 0o660
# Who may do what (README, "Security"): opening the socket (mode 0660, the daemon's user and
# group) lets a user read; every other command acts on the charger and needs the daemon's
# own user, root, or membership of `[control] ctl_group` (checked with SO_PEERCRED).
READ_COMMANDS = frozenset({"status"})


@dataclass(frozen=True, slots=True)
class Peer:
    """The credentials of the process at the other end of a client connection (unix(7))."""

    pid: int
    uid: int
    gid: int


def peer_of(conn: socket.socket) -> Peer | None:
    """SO_PEERCRED of a connected Unix socket; None where the kernel will not say."""
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return Peer(*struct.unpack("3i", raw))


def may_act(peer: Peer | None, ctl_group: str | None, own_uid: int | None = None) -> bool:
    """True when `peer` may run acting commands: our uid, root, or a member of `ctl_group`."""
    if peer is None:
        return False
    if peer.uid in (0, os.geteuid() if own_uid is None else own_uid):
        return True
    if ctl_group is None:
        return False
    try:
        group = grp.getgrnam(ctl_group)
    except KeyError:
        return False
    if peer.gid == group.gr_gid:
        return True
    try:
        return pwd.getpwuid(peer.uid).pw_name in group.gr_mem
    except KeyError:
        return False


MAX_CLIENTS = 16  # concurrent clients (one thread each); `cpagent status` needs one briefly
IDLE_TIMEOUT_S = 10.0  # a client silent this long between lines is hung up on


class ControlServerError(Exception):
    """The control socket could not be set up (path in use by a live daemon, no permission)."""


class ControlServer:
    """Accepts clients on `path`; each request line becomes a ControlRequest posted to the loop.

    Theory of operation: one accept thread, one short-lived thread per client. A client
    thread parses each line, posts it, and waits (bounded) for the owner thread's reply.
    Garbage, oversized lines and unknown shapes get `{"ok": false, "error": ...}`; nothing
    a client sends can raise out of a client thread.

    Clients are bounded, so idle connections cannot exhaust threads: at most `max_clients`
    at once, each hung up on after `idle_timeout_s` without a line. When all slots are taken,
    the client idle longest (waiting for a line, not for an answer) is hung up on to make
    room, so a pile of idle connections cannot lock `cpagent status` out; when every client
    is waiting for an answer, the new one gets one error line and is closed.
    """

    def __init__(
        self,
        path: Path,
        post: Callable[[object], None],
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        ctl_group: str | None = None,
        max_clients: int = MAX_CLIENTS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self._path = path
        self._ctl_group = ctl_group
        self._post = post
        self._answer_timeout_s = answer_timeout_s
        self._max_clients = max_clients
        self._idle_timeout_s = idle_timeout_s
        self._idle_since: dict[socket.socket, float | None] = {}  # None: a request in hand
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._clients: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        """Bind (removing a stale socket file), chmod 0660, and start accepting."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(self._path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self._path))
            os.chmod(self._path, SOCKET_MODE)
            listener.listen(64)  # a burst of `cpagent status` must not look like a dead daemon
        except OSError as exc:
            listener.close()
            raise ControlServerError(f"control socket {self._path}: {exc.strerror or exc}") from exc
        listener.settimeout(5.0)  # stop() wakes accept() at once; this only bounds a miss
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept, name="control-accept")
        self._accept_thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, wait for client threads (bounded), remove the socket file."""
        self._stopping.set()
        if self._listener is not None:
            _wake(self._path)
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        with self._lock:
            clients = list(self._clients)
        for thread in clients:
            thread.join(timeout / max(1, len(clients)))
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    return
                raise RuntimeError(f"control socket accept failed: {exc}") from exc
            if self._stopping.is_set():
                conn.close()
                return
            if not self._admit(conn):
                _refuse(conn, f"too many control clients ({self._max_clients}); try again")
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), name="control-client")
            thread.daemon = True  # a client that never sends must not block exit
            with self._lock:
                self._clients.add(thread)
            thread.start()

    def _admit(self, conn: socket.socket) -> bool:
        """Take a client slot for `conn`, hanging up on the longest-idle client if need be."""
        now = time.monotonic()
        with self._lock:
            if len(self._idle_since) >= self._max_clients:
                idle = [(since, c) for c, since in self._idle_since.items() if since is not None]
                if not idle:
                    return False
                _, oldest = min(idle, key=lambda pair: pair[0])
                del self._idle_since[oldest]
                with contextlib.suppress(OSError):
                    oldest.shutdown(socket.SHUT_RDWR)  # its thread reads EOF and ends
            self._idle_since[conn] = now
        return True

    def _set_idle(self, conn: socket.socket, idle: bool) -> bool:
        """Mark `conn` idle (waiting for a line) or busy; False once it was evicted."""
        with self._lock:
            if conn not in self._idle_since:
                return False
            self._idle_since[conn] = time.monotonic() if idle else None
        return True

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn, conn.makefile("rb") as reader:
                may = may_act(peer_of(conn), self._ctl_group)
                conn.settimeout(self._idle_timeout_s)
                while not self._stopping.is_set():
                    line = reader.readline(MAX_LINE + 1)
                    if not line or not self._set_idle(conn, False):
                        return
                    if len(line) > MAX_LINE and not line.endswith(b"\n"):
                        too_long = f"line longer than {MAX_LINE} bytes"
                        conn.sendall(_encode({"ok": False, "error": too_long}))
                        return  # cannot find the next line start reliably: hang up
                    conn.sendall(_encode(self._handle(line, may)))
                    if not self._set_idle(conn, True):
                        return
        except TimeoutError:
            log.debug("control client idle for %g s: hung up", self._idle_timeout_s)
        except OSError as exc:
            log.debug("control client went away: %s", exc)
        except Exception:
            log.exception("control client thread failed")
        finally:
            with self._lock:
                self._clients.discard(threading.current_thread())
                self._idle_since.pop(conn, None)

    def _handle(self, line: bytes, may: bool = False) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return {"ok": False, "error": "not a JSON line"}
        except RecursionError:  # the C decoder recurses once per level of nesting
            return {"ok": False, "error": "JSON nested too deeply"}
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            return {"ok": False, "error": 'expected an object with a string "cmd"'}
        if request["cmd"] not in READ_COMMANDS and not may:
            return {
                "ok": False,
                "error": f"{request['cmd']}: permission denied (acting "
                "commands need the daemon's user, root or [control] ctl_group)",
            }
        event = ControlRequest(request)
        self._post(event)
        try:
            return event.reply.result(timeout=self._answer_timeout_s)
        except FutureTimeout:
            event.reply.cancel()
            return {"ok": False, "error": "daemon did not answer in time (busy or stopping)"}


def _refuse(conn: socket.socket, error: str) -> None:
    """One error line to a client we cannot serve, then hang up (never blocks for long)."""
    with conn, contextlib.suppress(OSError):
        conn.settimeout(0.5)
        conn.sendall(_encode({"ok": False, "error": error}))


def _wake(path: Path) -> None:
    """Connect once so a blocked accept() returns now rather than at its timeout."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, contextlib.suppress(OSError):
        sock.settimeout(0.5)
        sock.connect(str(path))


def _encode(answer: dict[str, Any]) -> bytes:
    return (json.dumps(answer, separators=(",", ":"), default=str) + "\n").encode()


def _remove_stale(path: Path) -> None:
    """Remove a socket file no daemon listens on; refuse when one does."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlServerError(f"control socket {path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()
        return
    finally:
        probe.close()
    raise ControlServerError(f"control socket {path}: another cpagent is already running")
