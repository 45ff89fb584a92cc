"""A loopback TCP proxy for tests that can swallow traffic (half-open links), refuse new
connections (no route) or cut links."""

from __future__ import annotations

import contextlib
import socket
import threading
from enum import StrEnum

from tests.support.net import free_port


class LinkMode(StrEnum):
    """What the proxy does with traffic."""

    PASS = "pass"  # forwards both ways
    BLACKHOLE = "blackhole"  # connections stay open, every byte is dropped (dead NAT, cable)
    DOWN = "down"  # new connections are accepted and closed at once (no route)


class TcpProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream_port` in the current `mode`.

    `LinkMode.DOWN` keeps a client offline for as long as a test wants without it waiting out
    a connect timeout; `blackhole = True` is `mode = LinkMode.BLACKHOLE`; `cut()` resets every
    current connection (the heal of a half-open link).
    """

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.mode = LinkMode.PASS
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._accepter = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._accepter.start()

    @property
    def blackhole(self) -> bool:
        return self.mode is LinkMode.BLACKHOLE

    @blackhole.setter
    def blackhole(self, on: bool) -> None:
        self.mode = LinkMode.BLACKHOLE if on else LinkMode.PASS

    def cut(self) -> None:
        """Reset every current connection."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()
        self._accepter.join(2)
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode is LinkMode.DOWN:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                for sock in (src, dst):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return
            if self.mode is not LinkMode.PASS:
                continue  # swallowed: the sender's TCP stack saw it delivered
            try:
                dst.sendall(data)
            except OSError:
                return
