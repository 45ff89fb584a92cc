"""Hostile WebSocket servers on 127.0.0.1, written on plain sockets (RFC 6455 by hand)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
from collections.abc import Callable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA

Behaviour = Callable[["Link"], None]


class Link:
    """One accepted connection, with the few RFC 6455 pieces a hostile server needs."""

    def __init__(self, conn: socket.socket, stopping: threading.Event) -> None:
        self.conn = conn
        self.stopping = stopping

    def read_request(self) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.conn.recv(4096)
            if not chunk:
                raise ConnectionError("client went away during the handshake")
            data += chunk
        return data

    def handshake(self, subprotocol: str | None = "ocpp1.6") -> None:
        """Complete the opening handshake (RFC 6455 §4.2.2), selecting `subprotocol` (None:
        no Sec-WebSocket-Protocol header at all)."""
        request = self.read_request()
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept
            + b"\r\n"
            + (
                b""
                if subprotocol is None
                else b"Sec-WebSocket-Protocol: " + subprotocol.encode() + b"\r\n"
            )
            + b"\r\n"
        )

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        self.conn.sendall(frame(opcode, payload, fin))

    def read_frame(self) -> tuple[int, bytes]:
        """One client frame (masked, RFC 6455 §5.3): (opcode, unmasked payload)."""
        first, second = self._exact(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", self._exact(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", self._exact(8))
        mask = self._exact(4) if second & 0x80 else b"\0\0\0\0"
        data = self._exact(length)
        return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def _exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client closed")
            data += chunk
        return data

    def hold(self) -> None:
        """Keep the connection open, reading and ignoring, until the server stops."""
        self.conn.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                if not self.conn.recv(65536):
                    return
            except TimeoutError:
                continue


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame (unmasked, RFC 6455 §5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 65536:
        head += bytes([126]) + struct.pack(">H", size)
    else:
        head += bytes([127]) + struct.pack(">Q", size)
    return head + payload


class HostileServer:
    """Accepts TCP on 127.0.0.1 and runs `behaviour` on every connection, each in a thread."""

    def __init__(self, behaviour: Behaviour, *, rcvbuf: int | None = None) -> None:
        """`rcvbuf`: SO_RCVBUF of every accepted connection (small: a peer that stops reading
        fills up fast)."""
        self._behaviour = behaviour
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:  # before listen(), so the window scale is chosen for it
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"ws://127.0.0.1:{self.port}/ocpp"
        self.stopping = threading.Event()
        self.connections = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, name="hostile-accept")

    def __enter__(self) -> HostileServer:
        self._acceptor.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self._acceptor.join(5.0)
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in threads:
            thread.join(5.0)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), name="hostile-link")
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._behaviour(Link(conn, self.stopping))
        except (OSError, ConnectionError):
            pass  # the transport hung up on us: that is often the point
        except BaseException as exc:  # noqa: BLE001 - a broken test server must show
            self.errors.append(exc)
