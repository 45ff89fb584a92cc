"""Firmware Management end to end: diagnostics uploads, firmware downloads and installs.

The profile is on only when `[firmware] install_command` is set (docs/foundation.md); the
first tests pin that it is off by default, the rest run a daemon with it on against real
HTTP and FTP servers on loopback (tests/firmware/servers.py).
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from tests.e2e.conftest import _daemon, boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, RESTART_EXIT, Daemon
from tests.firmware.servers import HttpFiles, ftp_server, http_server

Shared = tuple[Daemon, StrictCentralSystem]
IMAGE = b"cpagent firmware image \x00\x01\x02" * 1000
MARKER = "diagnostics-marker-7f3a"
COPY = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"


def _now() -> str:
    return datetime.now(UTC).isoformat()


# -- off by default ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_payload",
    [
        call.GetDiagnostics(location="ftp://127.0.0.1:1/diag"),
        call.UpdateFirmware(location="http://127.0.0.1:1/fw.bin", retrieve_date=_now()),
    ],
    ids=["GetDiagnostics", "UpdateFirmware"],
)
def test_without_an_install_command_firmware_requests_are_not_supported(
    shared: Shared, request_payload: object
) -> None:
    _, csms = shared
    with pytest.raises(NotSupportedError):
        csms.call(CHARGEPOINT_ID, request_payload, suppress=False)


def test_without_an_install_command_the_profile_is_not_offered(shared: Shared) -> None:
    _, csms = shared
    result = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=["SupportedFeatureProfiles"]))
    assert "FirmwareManagement" not in result.configuration_key[0]["value"].split(",")


# -- on ---------------------------------------------------------------------------------------
@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """Where the install command copies the image it was given."""
    return tmp_path / "installed.bin"


@pytest.fixture
def fw_daemon(tmp_path: Path, csms: StrictCentralSystem, installed: Path) -> Iterator[Daemon]:
    log = tmp_path / "app.log"
    log.write_text(f"something happened: {MARKER}\n")
    command = [sys.executable, "-c", COPY, "{file}", str(installed)]
    extra = (
        f"\n[firmware]\ninstall_command = {json.dumps(command)}\ntimeout_s = 10.0\n"
        f"\n[diagnostics]\npaths = [{json.dumps(str(log))}]\n"
    )
    (tmp_path / "daemon").mkdir()
    yield from _daemon(tmp_path / "daemon", csms, extra)


@pytest.fixture
def files() -> Iterator[HttpFiles]:
    with http_server() as served:
        yield served


def _statuses(csms: StrictCentralSystem, action: str) -> list[str]:
    return [p["status"] for p in csms.calls(action)]


def _bundle_text(blob: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return "".join(
            tar.extractfile(m).read().decode(errors="replace")  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        )


def test_the_profile_is_offered_with_an_install_command(
    fw_daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(fw_daemon, csms)
    result = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=["SupportedFeatureProfiles"]))
    assert "FirmwareManagement" in result.configuration_key[0]["value"].split(",")
    for requested, action in [
        ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
        ("FirmwareStatusNotification", "FirmwareStatusNotification"),
    ]:
        answer = csms.call(CHARGEPOINT_ID, call.TriggerMessage(requested_message=requested))
        assert answer.status == "Accepted"
        assert csms.wait_call(action) == {"status": "Idle"}  # §4.4/§4.5: Idle on a trigger


@pytest.mark.parametrize("scheme", ["http", "ftp"])
def test_get_diagnostics_uploads_a_bundle(
    fw_daemon: Daemon, csms: StrictCentralSystem, files: HttpFiles, tmp_path: Path, scheme: str
) -> None:
    boot(fw_daemon, csms)
    ftp_root = tmp_path / "ftp"
    ftp_root.mkdir()
    with ftp_server(ftp_root) as site:
        location = files.url + "/uploads" if scheme == "http" else site.url + "/"
        answer = csms.call(CHARGEPOINT_ID, call.GetDiagnostics(location=location))
        assert answer.file_name and answer.file_name.endswith(".tar.gz")
        csms.wait_call(
            "DiagnosticsStatusNotification",
            lambda p: p["status"] in ("Uploaded", "UploadFailed"),
            timeout=15,
        )
        assert _statuses(csms, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
        if scheme == "http":
            blob = files.received[f"/uploads/{answer.file_name}"]
        else:
            blob = (ftp_root / answer.file_name).read_bytes()
    assert MARKER in _bundle_text(blob)


def test_update_firmware_downloads_installs_and_restarts(
    fw_daemon: Daemon, csms: StrictCentralSystem, files: HttpFiles, installed: Path
) -> None:
    boot(fw_daemon, csms)
    files.served["/fw/cpagent-0.2.bin"] = IMAGE
    answer = csms.call(
        CHARGEPOINT_ID,
        call.UpdateFirmware(location=files.url + "/fw/cpagent-0.2.bin", retrieve_date=_now()),
    )
    assert answer is not None  # UpdateFirmware.conf is empty
    assert fw_daemon.wait_exit(timeout=20) == RESTART_EXIT  # Installed -> restart (§5.19)
    assert _statuses(csms, "FirmwareStatusNotification") == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert installed.read_bytes() == IMAGE
    fw_daemon.start()  # what systemd does
    fw_daemon.wait(lambda s: s["registration"] == "Accepted", what="boot after the update")
    assert len(csms.calls("BootNotification")) == 2


def test_installation_waits_for_the_running_transaction(
    fw_daemon: Daemon, csms: StrictCentralSystem, files: HttpFiles, installed: Path
) -> None:
    boot(fw_daemon, csms)
    fw_daemon.do("plug", connector=1)
    fw_daemon.do("tap", id_tag="CARD-F")
    fw_daemon.wait_connector(lambda c: c["relay"] is True, what="charging")
    files.served["/fw.bin"] = IMAGE
    csms.call(
        CHARGEPOINT_ID, call.UpdateFirmware(location=files.url + "/fw.bin", retrieve_date=_now())
    )
    csms.wait_call("FirmwareStatusNotification", lambda p: p["status"] == "Downloaded", timeout=15)
    assert fw_daemon.connector()["relay"] is True  # §5.19: not installed under a transaction
    assert not installed.exists()
    fw_daemon.do("tap", id_tag="CARD-F")
    stop = csms.wait_call("StopTransaction")
    assert stop["reason"] == "Local"
    assert fw_daemon.wait_exit(timeout=20) == RESTART_EXIT
    assert _statuses(csms, "FirmwareStatusNotification")[-2:] == ["Installing", "Installed"]
    assert installed.read_bytes() == IMAGE


def test_a_failed_download_is_reported_and_nothing_installed(
    fw_daemon: Daemon, csms: StrictCentralSystem, files: HttpFiles, installed: Path
) -> None:
    boot(fw_daemon, csms)
    csms.call(
        CHARGEPOINT_ID,
        call.UpdateFirmware(location=files.url + "/missing.bin", retrieve_date=_now(), retries=0),
    )
    csms.wait_call(
        "FirmwareStatusNotification", lambda p: p["status"] == "DownloadFailed", timeout=15
    )
    assert _statuses(csms, "FirmwareStatusNotification") == ["Downloading", "DownloadFailed"]
    assert not installed.exists()
    fw_daemon.do("plug", connector=1)  # still a working charger
    fw_daemon.do("tap", id_tag="CARD-F")
    fw_daemon.wait_connector(lambda c: c["relay"] is True, what="charging after the failure")
