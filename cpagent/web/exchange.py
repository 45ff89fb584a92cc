"""One HTTP/1.1 request and its answer on an accepted socket, parsed by h11 (RFC 9112).

Theory of operation: h11 is sans-I/O, so this module owns the socket side and its limits. The
request head (request line and headers) must arrive within `MAX_HEAD` bytes, else 431; a
head h11 cannot parse is a 400; the whole head must arrive within the handler's timeout in
total (not per read), so a client that trickles a byte at a time cannot hold a handler
thread. One request per connection (`Connection: close`), as the old HTTP/1.0 server did: a
thread is freed as soon as its answer is written. A request body is never read: the page is
read-only and every method but GET and HEAD gets 405 (RFC 9110 §15.5.6, with `Allow`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence

import h11

MAX_HEAD = 16 * 1024  # request line + headers; a browser's GET is well under 2 KiB
READ_SIZE = 4096
TEXT = "text/plain; charset=utf-8"
SERVER = "cpagent-web"
ALLOWED = (b"GET", b"HEAD")

Headers = Sequence[tuple[str, str]]
Answer = tuple[int, str, bytes, Headers]
"""(status code, Content-Type, body, extra headers)."""

Respond = Callable[[str, str, str | None], Answer]
"""(method, request target, Authorization header or None) -> the answer."""

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Dropped(Exception):
    """The client went away, stalled past its deadline, or broke the protocol mid-answer."""


def http_date(now: float | None = None) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), independent of the process locale."""
    t = time.gmtime(now)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def exchange(
    sock: socket.socket, respond: Respond, timeout_s: float, common: Headers = ()
) -> tuple[str, int]:
    """Read one request from `sock`, answer it, return (request line for the log, status).
    `common` headers go on every answer, the 400, 405 and 431 ones included.

    Raises Dropped when no answer could be given (closed, timed out, reset)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    deadline = time.monotonic() + timeout_s
    try:
        request = _read_request(sock, conn, deadline)
    except h11.RemoteProtocolError as exc:
        code = exc.error_status_hint if exc.error_status_hint in (400, 431) else 400
        why = "request head too large" if code == 431 else "malformed request"
        body = f"bad request: {why}\n".encode()
        _send(sock, conn, code, TEXT, body, common, True, deadline)
        return f"({why})", code
    method = request.method.decode("ascii", "replace")
    target = request.target.decode("ascii", "replace")
    line = f"{method} {target}"
    if request.method not in ALLOWED:
        body = b"read-only: GET and HEAD only\n"
        _send(sock, conn, 405, TEXT, body, [*common, ("Allow", "GET, HEAD")], True, deadline)
        return line, 405
    auth = None
    for name, value in request.headers:
        if name == b"authorization":
            auth = value.decode("latin-1")
    code, kind, body, extra = respond(method, target, auth)
    _send(sock, conn, code, kind, body, [*common, *extra], request.method == b"GET", deadline)
    return line, code


def _read_request(sock: socket.socket, conn: h11.Connection, deadline: float) -> h11.Request:
    received = 0
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Request):
            # h11 bounds only a head still incomplete; this also refuses one that completed
            # in the read that crossed MAX_HEAD (what is left in h11's buffer is body)
            if received - len(conn.trailing_data[0]) > MAX_HEAD:
                raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
            return event
        if event is h11.NEED_DATA:
            data = _recv(sock, deadline)
            received += len(data)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.ConnectionClosed):
            raise Dropped("closed before a request")
        raise Dropped(f"unexpected {type(event).__name__} before a request")


def _recv(sock: socket.socket, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Dropped("request head not complete before the deadline")
    sock.settimeout(left)
    try:
        return sock.recv(READ_SIZE)  # b"" (closed) is fed to h11, which reports it
    except OSError as exc:  # TimeoutError is an OSError
        raise Dropped(f"reading: {exc}") from exc


def _send(
    sock: socket.socket,
    conn: h11.Connection,
    code: int,
    kind: str,
    body: bytes,
    extra: Headers,
    with_body: bool,
    deadline: float,
) -> None:
    """The answer with its length and `Connection: close`; HEAD gets the same head, no body.

    Writing gets its own timeout budget (the deadline's remainder, at least 1 s) so a
    reader that stops reading cannot hold the thread either."""
    headers = [
        ("Server", SERVER),
        ("Date", http_date()),
        ("Content-Type", kind),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *extra,
    ]
    sock.settimeout(max(1.0, deadline - time.monotonic()))
    try:
        out = conn.send(h11.Response(status_code=code, headers=headers)) or b""
        if with_body and body:
            out += conn.send(h11.Data(data=body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        sock.sendall(out)
    except h11.LocalProtocolError as exc:  # a bug in our answer: nothing sensible to send
        raise Dropped(f"answer refused by h11: {exc}") from exc
    except OSError as exc:
        raise Dropped(f"writing: {exc}") from exc
