"""File transfers for Firmware Management: upload and download over FTP and HTTP(S)."""

from __future__ import annotations

import base64
import contextlib
import ftplib
import http.client
import os
import re
import shutil
import socket
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit, urlunsplit

CHUNK = 64 * 1024
SCHEMES = frozenset({"ftp", "http", "https"})
MB = 1024 * 1024
DEADLINE_S = 3600.0  # default total time of one transfer ([firmware] transfer_deadline_s)
RESERVE_BYTES = 64 * MB  # default free space a download leaves ([firmware] reserve_mb)


class TransferError(Exception):
    """An upload or download failed; the message holds no credentials.

    `permanent`: retrying cannot help (e.g. an unsupported URL scheme)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def redact_url(url: str) -> str:
    """`url` with the password of its userinfo hidden, for logs and error messages."""
    return re.sub(r"(://[^/:@\s]*:)[^@/\s]*@", r"\1***@", url)


def _check(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise TransferError(
            f"unsupported URL scheme {scheme!r} in {redact_url(url)}", permanent=True
        )
    return scheme


class Deadline:
    """One transfer's total time limit: when `seconds` have passed, every socket it watches
    is shut down, which wakes any read or write blocked on it. A per-operation timeout alone
    never fires against a server that trickles a byte now and then."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline (at once if it has passed)."""
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _FTP(ftplib.FTP):
    """ftplib's client with its control and data connections watched by a Deadline."""

    def __init__(self, deadline: Deadline, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._deadline = deadline

    def connect(self, *args: Any, **kwargs: Any) -> str:
        welcome = super().connect(*args, **kwargs)
        if self.sock is not None:
            self._deadline.watch(self.sock)
        return welcome

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = super().ntransfercmd(cmd, rest)
        self._deadline.watch(conn)
        return conn, size


def _ftp(url: str, timeout_s: float, deadline: Deadline) -> tuple[ftplib.FTP, str]:
    """A logged-in passive-mode FTP session and the URL's path, percent-decoded and relative
    to the login directory as RFC 1738 §3.2.2 says (`%2F` at its start makes it absolute)."""
    parts = urlsplit(url)
    ftp = _FTP(deadline, timeout_s)
    ftp.connect(parts.hostname or "", parts.port or 21)
    try:
        ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or "anonymous@"))
        ftp.set_pasv(True)
    except BaseException:
        ftp.close()
        raise
    return ftp, unquote(parts.path.removeprefix("/"))


def _http_request(
    url: str, method: str, data: BinaryIO | None = None, headers: dict[str, str] | None = None
) -> urllib.request.Request:
    """A request without userinfo in the URL: user:password becomes Basic authorization."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    req = urllib.request.Request(clean, data=data, method=method, headers=headers or {})
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        req.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    return req


def _watched(base: type[http.client.HTTPConnection], deadline: Deadline) -> Any:
    """`base` whose socket, once connected, is watched by `deadline`."""

    class Watched(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    return Watched


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPConnection, deadline)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline) -> None:
        # HTTPS is verified against the system trust store (ssl.create_default_context).
        self._tls = ssl.create_default_context()
        super().__init__(context=self._tls)
        self._connection = _watched(http.client.HTTPSConnection, deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req, context=self._tls)


def _open(req: urllib.request.Request, timeout_s: float, deadline: Deadline) -> Any:
    opener = urllib.request.build_opener(_HttpHandler(deadline), _HttpsHandler(deadline))
    return opener.open(req, timeout=timeout_s)


def upload(
    location: str,
    path: Path,
    file_name: str,
    *,
    timeout_s: float = 60.0,
    deadline_s: float = DEADLINE_S,
) -> None:
    """Store `path` as `file_name` in the directory `location` names (OCPP 1.6 §5.8), within
    `deadline_s` in all.

    ftp://: STOR in passive mode after changing to the URL's path. http(s)://: HTTP PUT of the
    file to `location` + "/" + `file_name` (any 2xx answer is success)."""
    scheme = _check(location)
    with Deadline(deadline_s) as deadline:
        try:
            if scheme == "ftp":
                ftp, directory = _ftp(location, timeout_s, deadline)
                try:
                    if directory.rstrip("/"):
                        ftp.cwd(directory.rstrip("/"))
                    with path.open("rb") as fh:
                        ftp.storbinary(f"STOR {file_name}", fh, CHUNK)
                    ftp.quit()
                finally:
                    ftp.close()
                return
            target = location.rstrip("/") + "/" + quote(file_name)
            size = path.stat().st_size
            with path.open("rb") as fh:
                req = _http_request(
                    target,
                    "PUT",
                    fh,
                    {"Content-Type": "application/gzip", "Content-Length": str(size)},
                )
                with _open(req, timeout_s, deadline) as resp:
                    resp.read()
        except urllib.error.HTTPError as exc:
            raise TransferError(f"upload to {redact_url(location)}: HTTP {exc.code}") from None
        except (OSError, EOFError, ftplib.Error, http.client.HTTPException) as exc:
            if deadline.expired:
                raise _late("upload to", location, deadline) from None
            raise TransferError(f"upload to {redact_url(location)}: {exc}") from None


def _late(what: str, location: str, deadline: Deadline) -> TransferError:
    return TransferError(
        f"{what} {redact_url(location)}: not done within {deadline.seconds:g} s (total deadline)"
    )


def _target_name(location: str) -> str:
    name = os.path.basename(unquote(urlsplit(location).path))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")
    return name or "firmware.bin"


class _Sink:
    """Writes a download to `out`, refusing to pass `max_bytes` or the file system's room."""

    def __init__(
        self, location: str, out: BinaryIO, max_bytes: int, room: int, reserve_bytes: int
    ) -> None:
        self.location, self.out = location, out
        self.max_bytes, self.room, self.reserve_bytes = max_bytes, room, reserve_bytes
        self.written = 0

    def check_size(self, size: int | None) -> None:
        """Refuse before any byte is fetched when the announced `size` cannot fit."""
        if size is not None:
            self._check(size, f"{size} bytes")

    def __call__(self, chunk: bytes) -> None:
        self.written += len(chunk)
        self._check(self.written, f"more than {self.written - len(chunk)} bytes")
        self.out.write(chunk)

    def _check(self, size: int, what: str) -> None:
        url = redact_url(self.location)
        if size > self.max_bytes:
            raise TransferError(f"{url}: {what} is more than {self.max_bytes}", permanent=True)
        if size > self.room:
            raise TransferError(
                f"{url}: {what} would leave less than {self.reserve_bytes // MB} MiB free on "
                f"the file system ({self.room + self.reserve_bytes} bytes free)",
                permanent=True,
            )


def free_room(directory: Path, reserve_bytes: int) -> int:
    """Bytes a download into `directory` may take: free space less the reserve (>= 0)."""
    return max(0, shutil.disk_usage(directory).free - reserve_bytes)


def download(
    location: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    timeout_s: float = 60.0,
    deadline_s: float = DEADLINE_S,
    reserve_bytes: int = RESERVE_BYTES,
) -> Path:
    """Fetch `location` into `dest_dir` (streamed to disk, at most `max_bytes`, within
    `deadline_s` in all, leaving `reserve_bytes` free on the file system); the file is named
    after the URL's last path segment and appears only when complete.

    The announced size (HTTP Content-Length, FTP SIZE) is checked against both limits before
    the transfer starts, and the bytes written are counted against them while it runs, for a
    server that announces nothing or less than it sends."""
    scheme = _check(location)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / _target_name(location)
    part = final.with_name(final.name + ".part")
    part.unlink(missing_ok=True)  # a leftover of an earlier attempt is not room taken
    room = free_room(dest_dir, reserve_bytes)
    with Deadline(deadline_s) as deadline:
        try:
            with part.open("wb") as out:
                sink = _Sink(location, out, max_bytes, room, reserve_bytes)
                if scheme == "ftp":
                    ftp, file_path = _ftp(location, timeout_s, deadline)
                    try:
                        ftp.voidcmd("TYPE I")  # SIZE counts octets in binary mode (RFC 3659 §4)
                        with contextlib.suppress(ftplib.error_perm, ValueError):
                            sink.check_size(ftp.size(file_path))
                        ftp.retrbinary(f"RETR {file_path}", sink, CHUNK)
                        ftp.quit()
                    finally:
                        ftp.close()
                else:
                    with _open(_http_request(location, "GET"), timeout_s, deadline) as resp:
                        length = resp.headers.get("Content-Length")
                        if length is not None and length.isdigit():
                            sink.check_size(int(length))
                        while chunk := resp.read1(CHUNK):
                            sink(chunk)
            if deadline.expired:  # a shut-down socket can look like a clean end of file
                raise _late("download", location, deadline)
            os.replace(part, final)
            return final
        except TransferError:
            raise
        except urllib.error.HTTPError as exc:
            raise TransferError(f"download {redact_url(location)}: HTTP {exc.code}") from None
        except (OSError, EOFError, ftplib.Error, http.client.HTTPException) as exc:
            if deadline.expired:
                raise _late("download", location, deadline) from None
            raise TransferError(f"download {redact_url(location)}: {exc}") from None
        finally:
            part.unlink(missing_ok=True)
