"""File transfers for Firmware Management: upload and download over FTP and HTTP(S)."""

from __future__ import annotations

import base64
import ftplib
import os
import re
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlsplit, urlunsplit

CHUNK = 64 * 1024
SCHEMES = frozenset({"ftp", "http", "https"})


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
        raise TransferError(f"unsupported URL scheme {scheme!r} in {redact_url(url)}",
                            permanent=True)
    return scheme


def _ftp(url: str, timeout_s: float) -> tuple[ftplib.FTP, str]:
    """A logged-in passive-mode FTP session and the URL's path, percent-decoded and relative
    to the login directory as RFC 1738 §3.2.2 says (`%2F` at its start makes it absolute)."""
    parts = urlsplit(url)
    ftp = ftplib.FTP(timeout=timeout_s)
    ftp.connect(parts.hostname or "", parts.port or 21)
    try:
        ftp.login(unquote(parts.username or "anonymous"),
                  unquote(parts.password or "anonymous@"))
        ftp.set_pasv(True)
    except BaseException:
        ftp.close()
        raise
    return ftp, unquote(parts.path.removeprefix("/"))


def _http_request(url: str, method: str, data: BinaryIO | None = None,
                  headers: dict[str, str] | None = None) -> urllib.request.Request:
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


def _open(req: urllib.request.Request, timeout_s: float) -> Any:
    # HTTPS is verified against the system trust store (ssl.create_default_context).
    context = ssl.create_default_context() if req.type == "https" else None
    return urllib.request.urlopen(req, timeout=timeout_s, context=context)


def upload(location: str, path: Path, file_name: str, *, timeout_s: float = 60.0) -> None:
    """Store `path` as `file_name` in the directory `location` names (OCPP 1.6 §5.8).

    ftp://: STOR in passive mode after changing to the URL's path. http(s)://: HTTP PUT of the
    file to `location` + "/" + `file_name` (any 2xx answer is success)."""
    scheme = _check(location)
    try:
        if scheme == "ftp":
            ftp, directory = _ftp(location, timeout_s)
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
            req = _http_request(target, "PUT", fh, {"Content-Type": "application/gzip",
                                                    "Content-Length": str(size)})
            with _open(req, timeout_s) as resp:
                resp.read()
    except urllib.error.HTTPError as exc:
        raise TransferError(f"upload to {redact_url(location)}: HTTP {exc.code}") from None
    except (OSError, EOFError, ftplib.Error) as exc:
        raise TransferError(f"upload to {redact_url(location)}: {exc}") from None


def _target_name(location: str) -> str:
    name = os.path.basename(unquote(urlsplit(location).path))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")
    return name or "firmware.bin"


def download(location: str, dest_dir: Path, *, max_bytes: int, timeout_s: float = 60.0
             ) -> Path:
    """Fetch `location` into `dest_dir` (streamed to disk, at most `max_bytes`); the file is
    named after the URL's last path segment and appears only when complete."""
    scheme = _check(location)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / _target_name(location)
    part = final.with_name(final.name + ".part")
    written = 0
    try:
        with part.open("wb") as out:

            def sink(chunk: bytes) -> None:
                nonlocal written
                written += len(chunk)
                if written > max_bytes:
                    raise TransferError(f"{redact_url(location)}: larger than {max_bytes} bytes",
                                        permanent=True)
                out.write(chunk)

            if scheme == "ftp":
                ftp, file_path = _ftp(location, timeout_s)
                try:
                    ftp.retrbinary(f"RETR {file_path}", sink, CHUNK)
                    ftp.quit()
                finally:
                    ftp.close()
            else:
                with _open(_http_request(location, "GET"), timeout_s) as resp:
                    length = resp.headers.get("Content-Length")
                    if length is not None and length.isdigit() and int(length) > max_bytes:
                        raise TransferError(f"{redact_url(location)}: {length} bytes is more "
                                            f"than {max_bytes}", permanent=True)
                    while chunk := resp.read(CHUNK):
                        sink(chunk)
        os.replace(part, final)
        return final
    except TransferError:
        raise
    except urllib.error.HTTPError as exc:
        raise TransferError(f"download {redact_url(location)}: HTTP {exc.code}") from None
    except (OSError, EOFError, ftplib.Error) as exc:
        raise TransferError(f"download {redact_url(location)}: {exc}") from None
    finally:
        part.unlink(missing_ok=True)
