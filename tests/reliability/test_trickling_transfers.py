"""Firmware Management against trickling servers and a small file system: bounded, reported."""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cpagent.chargepoint.commands import DownloadFirmware, UploadDiagnostics
from cpagent.chargepoint.firmware_events import (
    DiagnosticsUploaded,
    DiagnosticsUploadFailed,
    FirmwareDownloaded,
    FirmwareDownloadFailed,
)
from cpagent.firmware.worker import FirmwareWorker

with warnings.catch_warnings():  # pyftpdlib 2.2 still imports asyncore/asynchat (3.11)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
    from pyftpdlib.servers import FTPServer

MIB = 1024 * 1024
IMAGE = bytes(range(256)) * 4096  # 1 MiB
DEADLINE_S = 1.0  # [firmware] transfer_deadline_s in these tests; every read is far quicker
TERMINAL = (
    DiagnosticsUploaded,
    DiagnosticsUploadFailed,
    FirmwareDownloaded,
    FirmwareDownloadFailed,
)


class Worker:
    """A FirmwareWorker (per-read timeout 30 s: never the one that fires) and its events."""

    def __init__(self, tmp: Path, download_dir: Path, **options: object) -> None:
        self.events: queue.Queue[object] = queue.Queue()
        (tmp / "logs").mkdir(exist_ok=True)
        (tmp / "logs" / "cpagent.log").write_text("charging started\n")
        args: dict[str, object] = {
            "diagnostics_paths": [tmp / "logs"],
            "download_dir": download_dir,
            "install_command": ["true"],
            "timeout_s": 30.0,
            "deadline_s": DEADLINE_S,
        }
        self.worker = FirmwareWorker(self.events.put, **{**args, **options})  # type: ignore[arg-type]
        self.worker.start()

    def run(self, job: object, timeout: float = 20.0) -> object:
        """Submit `job`; its result event (the test fails if none comes by `timeout`)."""
        self.worker.submit(job)  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no result for {job} within {timeout} s: the worker is wedged"
            with contextlib.suppress(queue.Empty):
                event = self.events.get(timeout=left)
                if isinstance(event, TERMINAL):
                    return event


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    made = Worker(tmp_path, tmp_path / "download")
    yield made
    made.worker.stop()


# -- servers ---------------------------------------------------------------------------------


class Web:
    """An HTTP server on 127.0.0.1: /good serves IMAGE, /trickle sends it a byte every 20 ms
    (with its Content-Length), /unsized sends IMAGE * `unsized_mib` without a length; PUT
    to /slow reads the body a byte every 20 ms, PUT elsewhere is taken at once."""

    def __init__(self, unsized_mib: int = 1) -> None:
        self.stop = threading.Event()
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                self.send_response(200)
                if not self.path.startswith("/unsized"):
                    self.send_header("Content-Length", str(len(IMAGE)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    if self.path.startswith("/good"):
                        self.wfile.write(IMAGE)
                    elif self.path.startswith("/unsized"):
                        for _ in range(unsized_mib):
                            self.wfile.write(IMAGE)
                    else:
                        for byte in IMAGE:
                            if web.stop.wait(0.02):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()

            def do_PUT(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                with contextlib.suppress(OSError):
                    if self.path.startswith("/slow"):
                        for _ in range(length):
                            if web.stop.wait(0.02) or not self.rfile.read(1):
                                return
                    else:
                        self.rfile.read(length)
                    self.send_response(201)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def web() -> Iterator[Web]:
    server = Web()
    yield server
    server.close()


@contextlib.contextmanager
def throttled_ftp(root: Path, bytes_per_s: int) -> Iterator[str]:
    """pyftpdlib serving `root`, its data connections limited to `bytes_per_s` each way."""
    authorizer = DummyAuthorizer()
    authorizer.add_user("cp", "s3cret", str(root), perm="elradfmw")

    class Dtp(ThrottledDTPHandler):
        read_limit = write_limit = bytes_per_s

    class Handler(FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.dtp_handler = Dtp
    server = FTPServer(("127.0.0.1", 0), Handler)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.ioloop.loop(0.05, blocking=False)
        server.close_all()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield f"ftp://cp:s3cret@127.0.0.1:{server.address[1]}"
    finally:
        stop.set()
        thread.join(5)


# -- a trickling server ends in a failure report, and the next job runs ----------------------


def test_trickling_http_download_fails_at_the_deadline_and_the_next_one_runs(
    worker: Worker, web: Web
) -> None:
    failed = worker.run(DownloadFirmware(f"{web.url}/trickle/fw.bin", 0, 0))
    assert isinstance(failed, FirmwareDownloadFailed), failed
    assert "total deadline" in failed.reason
    done = worker.run(DownloadFirmware(f"{web.url}/good/fw.bin", 0, 0))
    assert isinstance(done, FirmwareDownloaded), done
    assert Path(done.path).read_bytes() == IMAGE


def test_trickling_http_upload_fails_at_the_deadline_and_the_next_one_runs(
    worker: Worker, web: Web, tmp_path: Path
) -> None:
    failed = worker.run(UploadDiagnostics(f"{web.url}/slow", "diag.tar.gz", None, None, 0, 0))
    assert isinstance(failed, DiagnosticsUploadFailed), failed
    assert "total deadline" in failed.reason
    done = worker.run(UploadDiagnostics(f"{web.url}/up", "d.tar.gz", None, None, 0, 0))
    assert isinstance(done, DiagnosticsUploaded), done


def test_trickling_ftp_download_fails_at_the_deadline_and_the_next_one_runs(
    worker: Worker, web: Web, tmp_path: Path
) -> None:
    root = tmp_path / "ftproot"
    root.mkdir()
    (root / "fw.bin").write_bytes(IMAGE)
    with throttled_ftp(root, bytes_per_s=4096) as url:
        failed = worker.run(DownloadFirmware(f"{url}/fw.bin", 0, 0))
    assert isinstance(failed, FirmwareDownloadFailed), failed
    assert "total deadline" in failed.reason
    assert isinstance(
        worker.run(DownloadFirmware(f"{web.url}/good/fw.bin", 0, 0)), FirmwareDownloaded
    )


def test_trickling_ftp_upload_fails_at_the_deadline(worker: Worker, tmp_path: Path) -> None:
    # a text log that hardly compresses (the bundle leaves binary files out)
    (tmp_path / "logs" / "big.log").write_text(base64.b64encode(os.urandom(256 * 1024)).decode())
    root = tmp_path / "ftproot"
    root.mkdir()
    with throttled_ftp(root, bytes_per_s=4096) as url:
        failed = worker.run(UploadDiagnostics(f"{url}/", "diag.tar.gz", None, None, 0, 0))
    assert isinstance(failed, DiagnosticsUploadFailed), failed
    assert "total deadline" in failed.reason


# -- a download cannot fill the file system ---------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB tmpfs (needs root and mount; skipped where neither is allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if sys.platform != "linux" or not shutil.which("mount"):
        pytest.skip("needs Linux mount")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("path", ["/good/fw.bin", "/unsized"], ids=["announced", "unannounced"])
def test_download_that_would_break_into_the_reserve_fails_and_leaves_it(
    tmp_path: Path, small_fs: Path, path: str
) -> None:
    """8 MiB file system, 6 MiB reserve: a 1 MiB image fits; 3 MiB does not, whether its size
    is announced (refused before the body is read) or not (cut off as it passes the room)."""
    web = Web(unsized_mib=3)
    worker = Worker(tmp_path, small_fs / "firmware", reserve_bytes=6 * MIB, deadline_s=30.0)
    try:
        if path == "/good/fw.bin":
            (small_fs / "filler").write_bytes(b"\0" * (MIB + MIB // 2))  # room left: 0.5 MiB
        failed = worker.run(DownloadFirmware(web.url + path, 0, 0))
        assert isinstance(failed, FirmwareDownloadFailed), failed
        assert "would leave less than 6 MiB free" in failed.reason
        assert shutil.disk_usage(small_fs).free >= 6 * MIB
        assert list((small_fs / "firmware").iterdir()) == []  # the part file is gone
        (small_fs / "filler").unlink(missing_ok=True)
        done = worker.run(DownloadFirmware(f"{web.url}/good/fw.bin", 0, 0))
        assert isinstance(done, FirmwareDownloaded), done
    finally:
        worker.worker.stop()
        web.close()


def test_ftp_size_is_checked_before_the_transfer(tmp_path: Path, small_fs: Path) -> None:
    root = tmp_path / "ftproot"
    root.mkdir()
    (root / "fw.bin").write_bytes(IMAGE * 3)
    worker = Worker(tmp_path, small_fs / "firmware", reserve_bytes=6 * MIB, deadline_s=30.0)
    try:
        with throttled_ftp(root, bytes_per_s=4096) as url:  # slow: a started RETR would show
            failed = worker.run(DownloadFirmware(f"{url}/fw.bin", 0, 0), timeout=10.0)
        assert isinstance(failed, FirmwareDownloadFailed), failed
        assert f"{3 * MIB} bytes would leave less than 6 MiB free" in failed.reason
    finally:
        worker.worker.stop()
