"""The local read-only web server: a few handler threads beside the daemon, never in its way.

Theory of operation: one listener thread sleeps in a single `select` on the listening
socket and a wake-up pair (no polling: an idle page adds no wake-ups to the daemon). It
accepts each connection and hands it to a handler thread; at most `max_threads` run at once
(the next connection waits in the listen backlog), and a client that has not sent its whole
request head within `timeout_s` is dropped (`cpagent.web.exchange`), so a busy or hostile
browser costs a bounded amount of memory and never reaches the owner thread. Handlers read
only through the two callables the daemon injects (`status`, `sessions`); those must be safe
to call from another thread (e.g. post a request to the owner's inbox and wait for its
answer with a deadline). A source that raises gives 503, not a crash. The routes and the
page, plot and metrics renderers, and h11 with `exchange`, are imported on the first request,
so a page that is on but never opened costs only this module, its listener thread and sockets.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from typing import TYPE_CHECKING
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

if TYPE_CHECKING:
    from cpagent.web.exchange import Answer
    from cpagent.web.routes import Routes

log = logging.getLogger(__name__)

BACKLOG = 16
TEXT = "text/plain; charset=utf-8"
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


class _Pages:
    """What a request gets: the password check, then the routes (imported on first use)."""

    def __init__(
        self,
        status: StatusSource,
        sessions: SessionsSource,
        page_size: int,
        refresh_s: int,
        password: str | None,
    ) -> None:
        self._status, self._sessions = status, sessions
        self._page_size, self._refresh_s, self._password = page_size, refresh_s, password
        self._routes: Routes | None = None
        self._lock = threading.Lock()

    def routes(self) -> Routes:
        with self._lock:  # two first requests at once import and build it once
            if self._routes is None:
                from cpagent.web.routes import Routes

                self._routes = Routes(
                    self._status, self._sessions, self._page_size, self._refresh_s
                )
            return self._routes

    def answer(self, method: str, target: str, authorization: str | None) -> Answer:
        url = urlsplit(target)  # origin-form, or absolute-form from a proxy (RFC 9112 §3.2)
        path, query = url.path, url.query
        if needs_password(path, self._password) and not authorised(
            authorization, self._password or ""
        ):
            challenge = f'Basic realm="{REALM}", charset="UTF-8"'  # RFC 7617 §2
            return 401, TEXT, b"password required\n", [("WWW-Authenticate", challenge)]
        code, kind, body = self.routes().reply(path, query)
        return code, kind, body, ()


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
        self._password = password or None
        self._pages = _Pages(status, sessions, page_size, refresh_s, self._password)
        self._max_threads, self._timeout_s = max_threads, timeout_s
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when `listen` asked for port 0."""
        if self._listener is None:
            raise RuntimeError("web server not started")
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def start(self) -> None:
        if self._listener is not None:
            raise RuntimeError("web server already started")
        try:
            self._listener = _bind(self.listen.host, self.listen.port)
        except OSError as exc:
            raise WebConfigError(
                f"web listen {self.listen}: cannot listen there: {exc.strerror or exc}"
            ) from exc
        try:
            self._wake = socket.socketpair()
        except OSError:
            self._listener.close()
            self._listener = None
            raise
        slots = threading.BoundedSemaphore(self._max_threads)
        self._thread = threading.Thread(
            target=self._serve, args=(self._listener, self._wake[0], slots), name="web", daemon=True
        )
        self._thread.start()
        log.info("web page on %s%s", self.url, " (password required)" if self._password else "")

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        if self._wake is not None:
            self._wake[1].send(b"x")  # ends _serve's wait at once
        if self._thread is not None:
            self._thread.join(timeout=5)
        listener.close()
        if self._wake is not None:
            for end in self._wake:
                end.close()
            self._wake = None
        log.info("web page on %s stopped", self.listen)

    def _serve(
        self, listener: socket.socket, wake: socket.socket, slots: threading.BoundedSemaphore
    ) -> None:
        """Accept until `wake` is readable; one handler thread per connection, at most
        `max_threads` at once (waiting for a free slot here is the backpressure)."""
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is wake:
                        return
                    try:
                        conn, peer = listener.accept()
                    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                        continue  # the client gave up between select and accept
                    except OSError as exc:  # e.g. EMFILE: say so, keep the listener
                        log.warning("web: accept failed: %s", exc)
                        continue
                    slots.acquire()
                    try:
                        threading.Thread(
                            target=self._handle, args=(conn, peer, slots), daemon=True
                        ).start()
                    except BaseException:
                        slots.release()
                        conn.close()
                        raise

    def _handle(
        self, conn: socket.socket, peer: tuple[str, int], slots: threading.BoundedSemaphore
    ) -> None:
        from cpagent.web.exchange import Dropped, exchange  # h11: loaded by the first request

        try:
            line, code = exchange(conn, self._pages.answer, self._timeout_s, SECURITY_HEADERS)
            log.debug("web %s: %s %d", peer[0], line, code)
        except Dropped as exc:
            log.debug("web %s: dropped: %s", peer[0], exc)
        finally:
            conn.close()
            slots.release()


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); SO_REUSEADDR so a restart can bind at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)  # accept() after select never waits
    except BaseException:
        sock.close()
        raise
    return sock
