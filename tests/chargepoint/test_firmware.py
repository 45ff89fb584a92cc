"""Firmware Management (OCPP 1.6 §5.8, §5.19) end to end against the scripted central system."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import (
    DownloadFirmware,
    EnergiseRelay,
    InstallFirmware,
    RestartRequested,
    UploadDiagnostics,
)
from cpagent.chargepoint.firmware_events import (
    DiagnosticsUploaded,
    DiagnosticsUploadFailed,
    DiagnosticsUploading,
    FirmwareDownloaded,
    FirmwareDownloadFailed,
    FirmwareDownloading,
    FirmwareEvent,
    FirmwareInstallationFailed,
    FirmwareInstalled,
    FirmwareInstalling,
)
from hw.events import CardPresented, PlugChanged

from .rig import WALL0, Rig

URL = "http://127.0.0.1:8080/fw/image.bin"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, firmware_management=True)
    r.connect()
    r.clear()
    yield r
    r.store.close()


def notifications(rig: Rig, action: str) -> list[str]:
    return [p["status"] for p in rig.sent(action)]


def update_now(rig: Rig, **extra: object) -> None:
    assert (
        rig.answer("UpdateFirmware", {"location": URL, "retrieveDate": rig.wall_text(), **extra})
        == {}
    )


def test_profile_is_offered_only_with_a_worker(rig: Rig) -> None:
    [value] = rig.answer("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})[
        "configurationKey"
    ]
    assert "FirmwareManagement" in value["value"].split(",")


def test_get_diagnostics_names_the_file_and_hands_out_the_job(rig: Rig) -> None:
    start, stop = WALL0, WALL0 + 600
    answer = rig.answer(
        "GetDiagnostics",
        {
            "location": "ftp://u:p@127.0.0.1/up/",
            "retries": 4,
            "retryInterval": 7,
            "startTime": to_wire(start),
            "stopTime": to_wire(stop),
        },
    )
    name = answer["fileName"]
    assert name.startswith("test-rig-diagnostics-") and name.endswith(".tar.gz")
    assert rig.jobs == [UploadDiagnostics("ftp://u:p@127.0.0.1/up/", name, start, stop, 4, 7)]


@pytest.mark.parametrize(
    ("events", "sent"),
    [
        ([DiagnosticsUploading(), DiagnosticsUploaded()], ["Uploading", "Uploaded"]),
        (
            [DiagnosticsUploading(), DiagnosticsUploadFailed("530 login")],
            ["Uploading", "UploadFailed"],
        ),
    ],
)
def test_diagnostics_notifications(rig: Rig, events: list[FirmwareEvent], sent: list[str]) -> None:
    rig.answer("GetDiagnostics", {"location": "http://127.0.0.1/up"})
    rig.firmware(events[0])
    assert rig.answer("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) == {
        "status": "Accepted"
    }
    for ev in events[1:]:
        rig.firmware(ev)
    assert rig.answer("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) == {
        "status": "Accepted"
    }
    # the trigger reports the job in progress, then Idle (§4.4: Idle only for triggers)
    assert notifications(rig, "DiagnosticsStatusNotification") == [
        sent[0],
        "Uploading",
        *sent[1:],
        "Idle",
    ]


def test_firmware_update_in_order_then_restart(rig: Rig) -> None:
    update_now(rig, retries=1, retryInterval=5)
    assert rig.jobs == [DownloadFirmware(URL, 1, 5)]
    rig.firmware(FirmwareDownloading())
    rig.firmware(FirmwareDownloaded("/var/lib/cpagent/firmware/image.bin"))
    assert rig.jobs[1:] == [InstallFirmware("/var/lib/cpagent/firmware/image.bin")]
    rig.firmware(FirmwareInstalling())
    assert RestartRequested("Hard") not in rig.commands
    rig.firmware(FirmwareInstalled())
    assert notifications(rig, "FirmwareStatusNotification") == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert rig.commands[-1] == RestartRequested("Hard")  # after Installed was answered
    assert rig.statuses(1) == ["Unavailable"]  # nobody may start charging meanwhile


def test_retrieve_date_in_the_future_is_a_deadline(rig: Rig) -> None:
    rig.answer("UpdateFirmware", {"location": URL, "retrieveDate": to_wire(WALL0 + rig.now + 3600)})
    rig.advance(3599)
    assert rig.jobs == []
    rig.advance(1)
    assert rig.jobs == [DownloadFirmware(URL, 2, 60)]  # defaults: 2 retries, 60 s apart


def test_a_pending_update_survives_a_restart(rig: Rig) -> None:
    rig.answer("UpdateFirmware", {"location": URL, "retrieveDate": to_wire(WALL0 + rig.now + 600)})
    rig.restart("boot-2")
    rig.connect()  # the clock comes back with BootNotification.conf
    rig.advance(599)
    assert rig.jobs == []
    rig.advance(1)
    assert rig.jobs == [DownloadFirmware(URL, 2, 60)]
    rig.advance(3600)
    assert rig.jobs == [DownloadFirmware(URL, 2, 60)]  # once only


def test_installation_waits_for_the_transaction_to_end(rig: Rig) -> None:
    rig.meter(1000.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.cp.charging.points[1].tx is not None
    update_now(rig)
    rig.firmware(FirmwareDownloading())
    rig.firmware(FirmwareDownloaded("/tmp/fw.bin"))
    assert not [j for j in rig.jobs if isinstance(j, InstallFirmware)]
    assert rig.answer("RemoteStartTransaction", {"idTag": "X", "connectorId": 1}) == {
        "status": "Rejected"
    }
    rig.event(CardPresented("1", "CAFE01"))  # the driver ends the session
    assert rig.sent("StopTransaction")
    assert rig.jobs[-1] == InstallFirmware("/tmp/fw.bin")
    rig.event(PlugChanged("1", False))
    assert rig.statuses(1)[-1] == "Unavailable"


@pytest.mark.parametrize(
    ("events", "sent"),
    [
        ([FirmwareDownloading(), FirmwareDownloadFailed("404")], ["Downloading", "DownloadFailed"]),
        (
            [
                FirmwareDownloading(),
                FirmwareDownloaded("/tmp/f"),
                FirmwareInstalling(),
                FirmwareInstallationFailed("exit 3"),
            ],
            ["Downloading", "Downloaded", "Installing", "InstallationFailed"],
        ),
    ],
)
def test_failures_are_reported_and_charging_resumes(
    rig: Rig, events: list[FirmwareEvent], sent: list[str]
) -> None:
    update_now(rig)
    for ev in events:
        rig.firmware(ev)
    assert notifications(rig, "FirmwareStatusNotification") == sent
    assert RestartRequested("Hard") not in rig.commands
    assert rig.cp.charging.points[1].connector.status == "Available"
    rig.answer("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    assert notifications(rig, "FirmwareStatusNotification")[-1] == "Idle"
    update_now(rig)  # a new update is accepted after a failure
    assert isinstance(rig.jobs[-1], DownloadFirmware)


def test_trigger_reports_idle_when_nothing_happened(rig: Rig) -> None:
    for what in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
        assert rig.answer("TriggerMessage", {"requestedMessage": what}) == {"status": "Accepted"}
        assert notifications(rig, what) == ["Idle"]


def test_installed_while_offline_still_restarts(rig: Rig) -> None:
    update_now(rig)
    rig.firmware(FirmwareDownloaded("/tmp/f"))
    rig.disconnect()
    rig.firmware(FirmwareInstalled())
    assert rig.commands[-1] == RestartRequested("Hard")


def test_no_transaction_starts_once_an_image_waits(rig: Rig) -> None:
    rig.meter(1000.0)
    rig.event(PlugChanged("1", True))  # Preparing: waiting for a card
    update_now(rig)
    rig.firmware(FirmwareDownloaded("/tmp/fw.bin"))
    assert rig.jobs[-1] == InstallFirmware("/tmp/fw.bin")
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.sent("StartTransaction") == []
    assert EnergiseRelay(1) not in rig.commands
    rig.event(PlugChanged("1", False))
    assert rig.statuses(1)[-1] == "Unavailable"


def test_an_image_waiting_for_a_transaction_survives_a_restart(rig: Rig) -> None:
    rig.meter(1000.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    update_now(rig)
    rig.firmware(FirmwareDownloaded("/var/lib/cpagent/firmware/fw.bin"))
    assert not [j for j in rig.jobs if isinstance(j, InstallFirmware)]
    rig.restart("boot-2")  # a crash mid-transaction: it ends as PowerLoss at start-up
    rig.connect()
    assert rig.jobs[-1] == InstallFirmware("/var/lib/cpagent/firmware/fw.bin")
    assert rig.cp.charging.points[1].connector.status == "Unavailable"
    rig.restart("boot-3")  # died during the installation: it is not run again
    rig.connect()
    assert rig.jobs.count(InstallFirmware("/var/lib/cpagent/firmware/fw.bin")) == 1


@pytest.mark.parametrize(
    ("action", "field"), [("UpdateFirmware", "retrieveDate"), ("GetDiagnostics", "startTime")]
)
def test_an_impossible_date_is_a_property_constraint_violation(
    rig: Rig, action: str, field: str
) -> None:
    payload = {"location": URL, field: "2026-02-30T00:00:00Z"}
    rig.cp.receive(json.dumps([2, "bad-date", action, payload]), rig.now)  # a sloppy CSMS
    [frame] = rig.cp.drain_frames()
    assert json.loads(frame)[:3] == [4, "bad-date", "PropertyConstraintViolation"]
    assert rig.cp.drain_jobs() == []


def test_a_second_update_during_one_is_ignored(rig: Rig) -> None:
    update_now(rig)
    assert (
        rig.answer("UpdateFirmware", {"location": URL + "2", "retrieveDate": rig.wall_text()}) == {}
    )  # 1.6 gives no way to refuse it
    rig.firmware(FirmwareDownloading())
    rig.answer("UpdateFirmware", {"location": URL + "3", "retrieveDate": rig.wall_text()})
    assert rig.jobs == [DownloadFirmware(URL, 2, 60)]
