"""The local read-only web server: a few handler threads beside the daemon, never in its way.

Theory of operation: one listener thread accepts connections and hands each to a handler
thread; at most `max_threads` run at once (the next connection waits in the listen
backlog), and a client that stalls is dropped after `timeout_s`, so a busy or hostile
browser costs a bounded amount of memory and never reaches the owner thread. Handlers read
only through the two callables the daemon injects (`status`, `sessions`); those must be
safe to call from another thread (e.g. post a request to the owner's inbox and wait for
its answer with a deadline). A source that raises gives 503, not a crash.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cpagent.web.access import (
    REALM,
    WebConfigError,
    authorised,
    check_exposure,
    needs_password,
    parse_listen,
)
from cpagent.web.data import SessionsSource, StatusSource
from cpagent.web.routes import TEXT, Routes

log = logging.getLogger(__name__)

SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "cpagent-web"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection: a thread is freed at once

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.timeout_s)  # a stalled client frees its thread

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(body=False)

    def _refuse_method(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            TEXT,
            b"read-only: GET and HEAD only\n",
            True,
            [("Allow", "GET, HEAD")],
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815

    def _serve(self, body: bool) -> None:
        url = urlsplit(self.path)
        password = self.server.password
        if needs_password(url.path, password) and not authorised(
            self.headers.get("Authorization"), password or ""
        ):
            self._send(
                HTTPStatus.UNAUTHORIZED,
                TEXT,
                b"password required\n",
                body,
                [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')],
            )
            return
        code, kind, payload = self.server.routes.reply(url.path, url.query)
        self._send(HTTPStatus(code), kind, payload, body, [])

    def _send(
        self, code: HTTPStatus, kind: str, payload: bytes, body: bool, extra: list[tuple[str, str]]
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (*SECURITY_HEADERS, *extra):
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        log.debug("web %s: " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 16

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        routes: Routes,
        password: str | None,
        max_threads: int,
        timeout_s: float,
    ) -> None:
        self.address_family = family
        self.routes, self.password, self.timeout_s = routes, password, timeout_s
        self._slots = threading.BoundedSemaphore(max_threads)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # bound the handler threads; waiting here is the backpressure
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class WebServer:
    """The read-only local page: `start()` binds and serves in background threads, `stop()`
    ends them. Raises WebConfigError from the constructor for a setting that cannot work
    (a bad `listen`, a non-loopback address without a password) and from `start()` when
    the address cannot be bound."""

    def __init__(
        self,
        listen: str,
        status: StatusSource,
        sessions: SessionsSource,
        *,
        password: str | None = None,
        page_size: int = 50,
        refresh_s: int = 5,
        max_threads: int = 4,
        timeout_s: float = 10.0,
    ) -> None:
        self.listen = parse_listen(listen)
        check_exposure(self.listen, password)
        if not 1 <= max_threads <= 64:
            raise WebConfigError(f"web max_threads {max_threads}: expected 1-64")
        if not 1 <= page_size <= 500:
            raise WebConfigError(f"web page_size {page_size}: expected 1-500")
        self._routes = Routes(status, sessions, page_size, refresh_s)
        self._password = password or None
        self._max_threads, self._timeout_s = max_threads, timeout_s
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when `listen` asked for port 0."""
        if self._server is None:
            raise RuntimeError("web server not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("web server already started")
        family = socket.AF_INET6 if ":" in self.listen.host else socket.AF_INET
        try:
            self._server = _Server(
                (self.listen.host, self.listen.port),
                family,
                self._routes,
                self._password,
                self._max_threads,
                self._timeout_s,
            )
        except OSError as exc:
            raise WebConfigError(
                f"web listen {self.listen}: cannot listen there: {exc.strerror or exc}"
            ) from exc
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=_serve, args=(self._server, self._wake[0]), name="web", daemon=True
        )
        self._thread.start()
        log.info("web page on %s%s", self.url, " (password required)" if self._password else "")

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self._wake is not None:
            self._wake[1].send(b"x")  # ends _serve's wait at once
        if self._thread is not None:
            self._thread.join(timeout=5)
        server.server_close()
        if self._wake is not None:
            for end in self._wake:
                end.close()
            self._wake = None
        log.info("web page on %s stopped", self.listen)


def _serve(server: _Server, wake: socket.socket) -> None:
    """Accept until `wake` is readable. Unlike serve_forever's 0.5 s poll this sleeps in one
    select with no timeout, so an idle page adds no wake-ups to the daemon."""
    with selectors.DefaultSelector() as selector:
        selector.register(server.socket, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj is wake:
                    return
                server.handle_request()  # readable: accepts without waiting
