"""Real file servers on 127.0.0.1 for the firmware tests: HTTP (http.server) and FTP (pyftpdlib)."""

from __future__ import annotations

import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

with warnings.catch_warnings():  # pyftpdlib 2.2 still imports asyncore/asynchat (3.11: deprecated)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer


@dataclass
class HttpFiles:
    """What the HTTP server serves (GET) and what it was sent (PUT), by path."""

    url: str = ""
    served: dict[str, bytes] = field(default_factory=dict)
    received: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    authorization: list[str | None] = field(default_factory=list)
    upload_status: int = 201


@contextmanager
def http_server(tls: ssl.SSLContext | None = None) -> Iterator[HttpFiles]:
    """Serves `files.served` and keeps PUT bodies; HTTPS when `tls` (a server context) is given."""
    files = HttpFiles()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
            pass

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            files.requests.append(("GET", self.path))
            body = files.served.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:  # noqa: N802
            files.requests.append(("PUT", self.path))
            files.authorization.append(self.headers.get("Authorization"))
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            if files.upload_status < 300:
                files.received[self.path] = data
            self.send_response(files.upload_status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    files.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class FtpSite:
    url: str  # ftp://user:password@127.0.0.1:port
    root: Path


@contextmanager
def ftp_server(root: Path, user: str = "cp", password: str = "s3cret") -> Iterator[FtpSite]:
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, str(root), perm="elradfmw")

    class Handler(FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.auth_failed_timeout = 0.01  # default 3 s: only slows the wrong-password test
    server = FTPServer(("127.0.0.1", 0), Handler)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.ioloop.loop(0.05, blocking=False)  # serve_forever would log each pass
        server.close_all()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield FtpSite(f"ftp://{user}:{password}@127.0.0.1:{server.address[1]}", root)
    finally:
        stop.set()
        thread.join(5)
