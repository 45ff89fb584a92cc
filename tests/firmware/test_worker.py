"""FirmwareWorker against real HTTP and FTP servers on 127.0.0.1 and real install commands."""

from __future__ import annotations

import io
import queue
import ssl
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from cpagent.chargepoint.commands import DownloadFirmware, InstallFirmware, UploadDiagnostics
from cpagent.chargepoint.firmware_events import (
    DiagnosticsUploaded,
    DiagnosticsUploadFailed,
    DiagnosticsUploading,
    FirmwareDownloaded,
    FirmwareDownloadFailed,
    FirmwareDownloading,
    FirmwareInstallationFailed,
    FirmwareInstalled,
    FirmwareInstalling,
)
from cpagent.firmware.worker import FirmwareWorker

from .servers import FtpSite, HttpFiles, ftp_server, http_server

IMAGE = bytes(range(256)) * 4000  # ~1 MB
COPY = [sys.executable, "-c", "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"]
TERMINAL = (
    DiagnosticsUploaded,
    DiagnosticsUploadFailed,
    FirmwareDownloaded,
    FirmwareDownloadFailed,
    FirmwareInstalled,
    FirmwareInstallationFailed,
)


class Harness:
    def __init__(self, tmp: Path, **kw: object) -> None:
        self.tmp = tmp
        self.events: queue.Queue[object] = queue.Queue()
        logs = tmp / "logs"
        logs.mkdir()
        (logs / "cpagent.log").write_text("boot ok\ncharging started\n")
        (logs / "client.key").write_text("-----BEGIN PRIVATE KEY-----\n")
        self.config = tmp / "cpagent.toml"
        self.config.write_text(
            '[csms]\nurl = "wss://csms.example/ocpp"\npassword = "hunter2"\n'
            '[mqtt]\nurl = "mqtt://cp:hunter3@broker"\n'
        )
        args: dict[str, object] = {
            "diagnostics_paths": [logs, self.config, tmp / "absent.log"],
            "download_dir": tmp / "download",
            "config_path": self.config,
            "install_command": [*COPY, "{file}", str(tmp / "installed.bin")],
            "timeout_s": 10.0,
        }
        args.update(kw)
        self.worker = FirmwareWorker(self.events.put, **args)  # type: ignore[arg-type]
        self.worker.start()

    def run(self, job: object) -> list[object]:
        """Submit one job; the events it posted up to its result."""
        self.worker.submit(job)  # type: ignore[arg-type]
        got: list[object] = []
        while not got or not isinstance(got[-1], TERMINAL):
            got.append(self.events.get(timeout=30))
        return got


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.worker.stop()


@pytest.fixture
def web() -> Iterator[HttpFiles]:
    with http_server() as files:
        yield files


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[FtpSite]:
    root = tmp_path / "ftproot"
    (root / "up").mkdir(parents=True)
    with ftp_server(root) as site:
        yield site


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()
            for m in tar.getmembers()  # type: ignore[union-attr]
            if m.isfile()
        }


def check_bundle(data: bytes) -> None:
    files = members(data)
    assert any(
        n.endswith("/logs/cpagent.log") and b"charging started" in v for n, v in files.items()
    )
    assert b"hunter2" not in b"".join(files.values())  # the secret is in no member
    assert b"hunter3" not in b"".join(files.values())
    assert not any(n.endswith(("cpagent.toml", "client.key")) for n in files)
    redacted = files["config/cpagent.toml.redacted"].decode()
    assert 'password = "<redacted>"' in redacted and "csms.example" in redacted
    manifest = files["MANIFEST.txt"].decode()
    assert "missing:" in manifest and "absent.log" in manifest


def test_diagnostics_upload_over_http_put(h: Harness, web: HttpFiles) -> None:
    job = UploadDiagnostics(web.url + "/diag/", "cp-diagnostics.tar.gz", None, None, 0, 0)
    assert h.run(job) == [DiagnosticsUploading(), DiagnosticsUploaded()]
    check_bundle(web.received["/diag/cp-diagnostics.tar.gz"])


@pytest.mark.parametrize("path", ["/up", "/up/", "/%2Fup"])  # RFC 1738: %2F = absolute
def test_diagnostics_upload_over_ftp(h: Harness, ftp: FtpSite, path: str) -> None:
    job = UploadDiagnostics(ftp.url + path, "cp-diagnostics.tar.gz", None, None, 0, 0)
    assert h.run(job) == [DiagnosticsUploading(), DiagnosticsUploaded()]
    check_bundle((ftp.root / "up" / "cp-diagnostics.tar.gz").read_bytes())


def test_http_credentials_become_basic_auth(h: Harness, web: HttpFiles) -> None:
    location = web.url.replace("http://", "http://cp:pw@") + "/diag"
    h.run(UploadDiagnostics(location, "d.tar.gz", None, None, 0, 0))
    assert web.authorization == ["Basic Y3A6cHc="]  # base64("cp:pw")


def test_start_time_leaves_out_older_files(h: Harness, web: HttpFiles) -> None:
    h.run(UploadDiagnostics(web.url, "d.tar.gz", 4_000_000_000.0, None, 0, 0))  # year 2096
    files = members(web.received["/d.tar.gz"])
    assert not any(n.endswith("cpagent.log") for n in files)
    assert "before startTime" in files["MANIFEST.txt"].decode()


def test_upload_retries_then_fails(h: Harness, web: HttpFiles) -> None:
    web.upload_status = 500
    got = h.run(UploadDiagnostics(web.url + "/diag", "d.tar.gz", None, None, 2, 0))
    assert got[0] == DiagnosticsUploading() and isinstance(got[-1], DiagnosticsUploadFailed)
    assert "HTTP 500" in got[-1].reason
    assert [m for m, _ in web.requests] == ["PUT", "PUT", "PUT"]  # 1 + 2 retries


def test_ftp_failure_reason_hides_the_password(h: Harness, ftp: FtpSite) -> None:
    bad = ftp.url.replace(":s3cret@", ":wrongpass@")
    got = h.run(UploadDiagnostics(bad + "/up", "d.tar.gz", None, None, 0, 0))
    assert isinstance(got[-1], DiagnosticsUploadFailed)
    assert "wrongpass" not in got[-1].reason and "530" in got[-1].reason


@pytest.mark.parametrize("scheme", ["http", "ftp"])
def test_download_then_install(h: Harness, web: HttpFiles, ftp: FtpSite, scheme: str) -> None:
    web.served["/fw/image-1.2.bin"] = IMAGE
    (ftp.root / "image-1.2.bin").write_bytes(IMAGE)
    location = web.url + "/fw/image-1.2.bin" if scheme == "http" else ftp.url + "/image-1.2.bin"
    got = h.run(DownloadFirmware(location, 0, 0))
    path = h.tmp / "download" / "image-1.2.bin"
    assert got == [FirmwareDownloading(), FirmwareDownloaded(str(path))]
    assert path.read_bytes() == IMAGE
    assert h.run(InstallFirmware(str(path))) == [FirmwareInstalling(), FirmwareInstalled()]
    assert (h.tmp / "installed.bin").read_bytes() == IMAGE  # the command got the file
    assert not path.exists()  # not kept after installing


def test_download_404_is_retried_then_fails(h: Harness, web: HttpFiles) -> None:
    got = h.run(DownloadFirmware(web.url + "/fw/missing.bin", 1, 0))
    assert isinstance(got[-1], FirmwareDownloadFailed) and "HTTP 404" in got[-1].reason
    assert web.requests == [("GET", "/fw/missing.bin")] * 2
    assert list((h.tmp / "download").iterdir()) == []  # no partial file left


@pytest.mark.parametrize("scheme", ["http", "ftp"])
def test_download_size_cap(tmp_path: Path, web: HttpFiles, ftp: FtpSite, scheme: str) -> None:
    h = Harness(tmp_path, max_download_bytes=len(IMAGE) - 1)
    try:
        web.served["/big.bin"] = IMAGE
        (ftp.root / "big.bin").write_bytes(IMAGE)
        base = web.url if scheme == "http" else ftp.url
        got = h.run(DownloadFirmware(base + "/big.bin", 3, 0))
        assert isinstance(got[-1], FirmwareDownloadFailed)
        assert "bytes" in got[-1].reason
        assert list((tmp_path / "download").iterdir()) == []
        assert len([r for r in web.requests if r[0] == "GET"]) <= 1  # not retried
    finally:
        h.worker.stop()


def test_unsupported_scheme_fails_at_once(h: Harness) -> None:
    got = h.run(DownloadFirmware("file:///etc/passwd", 5, 3600))  # no hour-long retry waits
    assert isinstance(got[-1], FirmwareDownloadFailed) and "scheme" in got[-1].reason


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ([sys.executable, "-c", "import sys; sys.exit(3)", "{file}"], "exit 3"),
        (
            [
                sys.executable,
                "-c",
                "import sys; print('bad signature', file=sys.stderr); sys.exit(1)",
            ],
            "bad signature",
        ),
        (["/nonexistent/installer", "{file}"], "/nonexistent/installer"),
        ([sys.executable, "-c", "import time; time.sleep(60)"], "killed after"),
    ],
)
def test_install_failures(tmp_path: Path, command: list[str], reason: str) -> None:
    h = Harness(tmp_path, install_command=command, timeout_s=1.0)
    try:
        image = tmp_path / "fw.bin"
        image.write_bytes(b"x")
        got = h.run(InstallFirmware(str(image)))
        assert got[0] == FirmwareInstalling()
        assert isinstance(got[-1], FirmwareInstallationFailed) and reason in got[-1].reason
    finally:
        h.worker.stop()


def test_no_shell_is_involved(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    record = tmp_path / "argv.txt"
    dump = "import sys; open(sys.argv[1], 'w').write(repr(sys.argv[2:]))"
    hostile = [f"; touch {marker}", f"$(touch {marker})", "`id`"]
    h = Harness(
        tmp_path, install_command=[sys.executable, "-c", dump, str(record), "{file}", *hostile]
    )
    try:
        image = tmp_path / "fw bin;$(id)"
        image.write_bytes(b"payload")
        assert h.run(InstallFirmware(str(image)))[-1] == FirmwareInstalled()
        assert not marker.exists()
        assert record.read_text() == repr([str(image), *hostile])  # passed verbatim
    finally:
        h.worker.stop()


def test_stop_abandons_a_retry_wait(h: Harness, web: HttpFiles) -> None:
    h.worker.submit(DownloadFirmware(web.url + "/missing", 5, 3600))
    assert h.events.get(timeout=10) == FirmwareDownloading()
    thread = h.worker._thread
    h.worker.stop(timeout=10)
    assert thread is not None and not thread.is_alive()


@pytest.mark.parametrize(
    ("script", "member", "note"),
    [
        ('#!/bin/sh\necho "$@"\necho "mqtt://cp:hunter4@broker down"\n', True, None),
        ("#!/bin/sh\nexit 1\n", False, "journal: journalctl exit 1"),
    ],
)
def test_the_unit_journal_goes_in_for_the_window(
    tmp_path: Path,
    web: HttpFiles,
    monkeypatch: pytest.MonkeyPatch,
    script: str,
    member: bool,
    note: str | None,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "journalctl"  # a stand-in journalctl: the real one needs a systemd journal
    fake.write_text(script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    h = Harness(tmp_path, journal_unit="cpagent.service")
    try:
        h.run(UploadDiagnostics(web.url, "d.tar.gz", 1000.0, 2000.0, 0, 0))
    finally:
        h.worker.stop()
    files = members(web.received["/d.tar.gz"])
    if member:
        journal = files["journal.txt"].decode()
        assert "--unit=cpagent.service --since=@1000 --until=@2001" in journal
        assert "hunter4" not in journal and "mqtt://cp:<redacted>@broker" in journal
    else:
        assert "journal.txt" not in files and str(note) in files["MANIFEST.txt"].decode()


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[HttpFiles, Path]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with http_server(context) as files:
        files.served["/fw.bin"] = IMAGE
        yield files, ca_file


@pytest.mark.parametrize("trusted", [True, False])
def test_https_is_verified_against_the_system_trust_store(
    h: Harness, tls_site: tuple[HttpFiles, Path], monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    site, ca_file = tls_site
    if trusted:  # OpenSSL's default verify paths honour SSL_CERT_FILE: "the system store"
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    got = h.run(DownloadFirmware(site.url + "/fw.bin", 0, 0))
    if trusted:
        assert got[-1] == FirmwareDownloaded(str(h.tmp / "download" / "fw.bin"))
    else:
        assert isinstance(got[-1], FirmwareDownloadFailed)
        assert "CERTIFICATE_VERIFY_FAILED" in got[-1].reason
