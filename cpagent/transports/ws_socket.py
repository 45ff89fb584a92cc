"""Socket helpers for a WebSocket link: abort, close quietly, linger, classify a failed connect."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time

import websocket as wsc

from cpagent.transports.events import LinkCause


def abort(ws: wsc.WebSocket) -> None:
    """Wake any thread blocked on the socket; safe on a closed or unconnected socket."""
    sock = ws.sock
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def linger(ws: wsc.WebSocket, seconds: float) -> None:
    """After our Close: stop writing and read, discarding, until the peer closes or `seconds`
    pass. Closing a socket with unread data resets the connection, and the reset can destroy
    our Close frame before the peer reads it (RFC 6455 §7.1.1: wait for the peer to close)."""
    sock = ws.sock
    if sock is None:
        return
    deadline = time.monotonic() + seconds
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return


def close_quietly(ws: wsc.WebSocket, status: int) -> None:
    """Send a Close with `status` and drop the socket, ignoring failures. Written directly,
    not through a writer: only for a link just opened, whose socket buffers are empty."""
    try:
        if ws.connected:
            ws.send_close(status)
    except (wsc.WebSocketException, OSError):
        pass
    abort(ws)
    ws.shutdown()


def shorten(text: str, limit: int = 200) -> str:
    """At most `limit` characters of `text`, for reasons that end up in log lines."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def connect_cause(exc: BaseException) -> LinkCause:
    """Classify a failed connection attempt (websocket-client wraps some socket errors)."""
    if isinstance(exc, ssl.SSLError):
        return LinkCause.TLS
    if isinstance(exc, ConnectionRefusedError):
        return LinkCause.REFUSED
    if isinstance(exc, socket.gaierror | wsc.WebSocketAddressException) or (
        "Host not found" in str(exc)  # websocket-client's own wording for getaddrinfo's []
    ):
        return LinkCause.DNS
    if isinstance(exc, TimeoutError | wsc.WebSocketTimeoutException):
        return LinkCause.TIMEOUT
    if isinstance(exc, OSError):
        return LinkCause.NETWORK
    return LinkCause.OTHER
