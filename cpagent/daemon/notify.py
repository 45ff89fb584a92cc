"""sd_notify(3) over $NOTIFY_SOCKET: READY, STATUS, WATCHDOG and STOPPING, without libsystemd."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends datagrams to the service manager; a no-op when NOTIFY_SOCKET is unset.

    Errors are logged, never raised: the daemon must keep working under a manager that
    went away. An address starting with '@' is in the abstract namespace (sd_notify(3)).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()  # main thread sends READY, the owner thread the rest
        self._ready_sent = False
        self._watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Half of WATCHDOG_USEC (sd_watchdog_enabled(3)), or None when no watchdog is set."""
        return self._watchdog_s

    def ready(self, status: str) -> None:
        """READY=1 with a status line; sent once only."""
        with self._lock:
            if self._ready_sent:
                return
            self._ready_sent = True
        self._send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={status}")

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with self._lock:
                if self._socket is None:
                    # Non-blocking: a manager that does not read its socket (its queue is
                    # short, net.unix.max_dgram_qlen) must never stall the owner loop.
                    kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                    self._socket = socket.socket(socket.AF_UNIX, kind)
                self._socket.sendto(message.encode(), self._address)
        except BlockingIOError:
            log.debug("sd_notify queue full; dropped %r", message)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self._address, exc)


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # the watchdog is meant for another process (sd_watchdog_enabled(3))
    return int(usec) / 2_000_000
