"""ChargePoint + FirmwareWorker + real HTTP server: the whole Firmware Management loop."""

from __future__ import annotations

import queue
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import RestartRequested
from cpagent.chargepoint.firmware_events import FIRMWARE_EVENTS
from cpagent.firmware.worker import FirmwareWorker
from tests.firmware.servers import HttpFiles, http_server

from .rig import WALL0, Rig

COPY = [sys.executable, "-c", "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"]


class Loop:
    """The daemon's part: jobs to the worker, the worker's events back to the ChargePoint."""

    def __init__(self, tmp: Path, install_command: list[str]) -> None:
        self.rig = Rig(tmp, firmware_management=True)
        self.inbox: queue.Queue[object] = queue.Queue()
        (tmp / "cpagent.log").write_text("hello\n")
        self.worker = FirmwareWorker(
            self.inbox.put,
            diagnostics_paths=[tmp / "cpagent.log"],
            download_dir=tmp / "dl",
            install_command=install_command,
            timeout_s=10.0,
        )
        self.worker.start()
        self.rig.connect()
        self.rig.clear()

    def feed(self) -> None:
        for job in self.rig.jobs:
            self.worker.submit(job)
        self.rig.jobs.clear()

    def until(self, action: str, statuses: set[str]) -> None:
        """Pass the worker's events in until `action` has reported one of `statuses`."""
        while not statuses & {p["status"] for p in self.rig.sent(action)}:
            self.feed()
            ev = self.inbox.get(timeout=30)
            assert isinstance(ev, FIRMWARE_EVENTS)
            self.rig.firmware(ev)

    def sent(self, action: str) -> list[str]:
        return [p["status"] for p in self.rig.sent(action)]


@pytest.fixture
def web() -> Iterator[HttpFiles]:
    with http_server() as files:
        yield files


@pytest.fixture
def loop_factory(tmp_path: Path) -> Iterator[list[Loop]]:
    made: list[Loop] = []
    yield made
    for lp in made:
        lp.worker.stop()
        lp.rig.store.close()


@pytest.mark.parametrize(
    ("install", "final", "restart"),
    [
        ("copy", "Installed", True),
        ("fail", "InstallationFailed", False),
    ],
)
def test_update_firmware_from_a_web_server(
    tmp_path: Path,
    web: HttpFiles,
    loop_factory: list[Loop],
    install: str,
    final: str,
    restart: bool,
) -> None:
    command = (
        [*COPY, "{file}", str(tmp_path / "flashed")]
        if install == "copy"
        else [sys.executable, "-c", "raise SystemExit(2)"]
    )
    lp = Loop(tmp_path, command)
    loop_factory.append(lp)
    web.served["/fw/v2.bin"] = b"new firmware"
    lp.rig.answer(
        "UpdateFirmware",
        {"location": web.url + "/fw/v2.bin", "retrieveDate": to_wire(WALL0 + lp.rig.now + 60)},
    )
    lp.rig.advance(60)  # retrieveDate reached on the injected clock
    lp.until("FirmwareStatusNotification", {"Installed", "InstallationFailed", "DownloadFailed"})
    assert lp.sent("FirmwareStatusNotification") == [
        "Downloading",
        "Downloaded",
        "Installing",
        final,
    ]
    assert (RestartRequested("Hard") in lp.rig.commands) is restart
    if restart:
        assert (tmp_path / "flashed").read_bytes() == b"new firmware"


def test_get_diagnostics_to_a_web_server(
    tmp_path: Path, web: HttpFiles, loop_factory: list[Loop]
) -> None:
    lp = Loop(tmp_path, ["true"])
    loop_factory.append(lp)
    name = lp.rig.answer("GetDiagnostics", {"location": web.url + "/diag"})["fileName"]
    lp.until("DiagnosticsStatusNotification", {"Uploaded", "UploadFailed"})
    assert lp.sent("DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    assert f"/diag/{name}" in web.received


def test_download_failure_reaches_the_central_system(
    tmp_path: Path, web: HttpFiles, loop_factory: list[Loop]
) -> None:
    lp = Loop(tmp_path, ["true"])
    loop_factory.append(lp)
    lp.rig.answer(
        "UpdateFirmware",
        {
            "location": web.url + "/nope.bin",
            "retries": 1,
            "retryInterval": 0,
            "retrieveDate": lp.rig.wall_text(),
        },
    )
    lp.until("FirmwareStatusNotification", {"DownloadFailed"})
    assert lp.sent("FirmwareStatusNotification") == ["Downloading", "DownloadFailed"]
    assert len(web.requests) == 2
