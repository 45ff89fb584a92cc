"""Our ChargePoint against the public `ocpp` package as an independent central system.

The `ocpp` package routes, validates (official 1.6 schemas) and answers on its own; the two
are joined in memory (no sockets): what our charge point sends is what the CSMS receives.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as CsmsSide
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RegistrationStatus

from cpagent.chargepoint.chargepoint import ChargePoint
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import EnergiseRelay, ReadMeter
from cpagent.chargepoint.firmware_events import (
    DiagnosticsUploaded,
    DiagnosticsUploading,
    FirmwareDownloaded,
    FirmwareDownloading,
    FirmwareInstalled,
    FirmwareInstalling,
)
from cpagent.chargepoint.store import Store
from hw.events import CardPresented, MeterSample, MeterSampled, PlugChanged


class Csms(CsmsSide):  # type: ignore[misc]
    """A central system written with the public package: records what it is told."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @on(Action.boot_notification)
    def on_boot(
        self, charge_point_vendor: str, charge_point_model: str, **kw: Any
    ) -> call_result.BootNotification:
        self.seen.append(("BootNotification", {"model": charge_point_model}))
        return call_result.BootNotification(
            current_time=to_wire(1_764_460_800.0), interval=300, status=RegistrationStatus.accepted
        )

    @on(Action.status_notification)
    def on_status(
        self, connector_id: int, error_code: str, status: str, **kw: Any
    ) -> call_result.StatusNotification:
        self.seen.append(("StatusNotification", {"connector": connector_id, "status": status}))
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        self.seen.append(("Authorize", {"id_tag": id_tag}))
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action.start_transaction)
    def on_start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw: Any
    ) -> call_result.StartTransaction:
        self.seen.append(("StartTransaction", {"meter_start": meter_start}))
        return call_result.StartTransaction(transaction_id=77, id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: list[Any], **kw: Any
    ) -> call_result.MeterValues:
        self.seen.append(("MeterValues", {"transaction_id": kw.get("transaction_id")}))
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kw: Any
    ) -> call_result.StopTransaction:
        self.seen.append(
            (
                "StopTransaction",
                {
                    "transaction_id": transaction_id,
                    "meter_stop": meter_stop,
                    "reason": kw.get("reason"),
                },
            )
        )
        return call_result.StopTransaction()

    @on(Action.firmware_status_notification)
    def on_firmware_status(self, status: str) -> call_result.FirmwareStatusNotification:
        self.seen.append(("FirmwareStatusNotification", {"status": status}))
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status(self, status: str) -> call_result.DiagnosticsStatusNotification:
        self.seen.append(("DiagnosticsStatusNotification", {"status": status}))
        return call_result.DiagnosticsStatusNotification()


class MemoryLink:
    """The CSMS's connection object: frames from our charge point in, frames to it out."""

    def __init__(self, cp: ChargePoint, clock: Any) -> None:
        self.cp = cp
        self.clock = clock
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.commands: list[Any] = []
        self.register_wh = 1234.0  # the meter, read on the chargepoint's ReadMeter commands

    async def recv(self) -> str:
        return await self.inbox.get()

    async def send(self, text: str) -> None:
        self.cp.receive(text, self.clock())
        self.flush()

    def flush(self) -> None:
        while new := self.cp.drain_commands():
            self.commands += new
            for cmd in new:
                if isinstance(cmd, ReadMeter):
                    self.cp.hw_event(
                        MeterSampled(
                            "1",
                            MeterSample(0, self.register_wh, 0.0, (230.0,), (0.0,)),
                            cmd.request,
                        ),
                        self.clock(),
                    )
        for text in self.cp.drain_frames():
            self.inbox.put_nowait(text)


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0)  # let the CSMS task run; no fixed waits


async def _session(tmp_path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    loop = asyncio.get_running_loop()
    ids = (f"id{n}" for n in itertools.count())
    store = Store.open(tmp_path / "state.db")
    cp = ChargePoint(
        store=store,
        boot_payload={"chargePointVendor": "cpagent", "chargePointModel": "interop"},
        connector_ids=[1],
        boot_id="b1",
        new_id=lambda: next(ids),
        now=loop.time(),
    )
    link = MemoryLink(cp, loop.time)
    csms = Csms("CP-1", link)
    server = asyncio.create_task(csms.start())
    commands: list[Any] = []
    try:
        cp.connected(loop.time())
        link.flush()
        await _until(lambda: sum(a == "StatusNotification" for a, _ in csms.seen) == 2)
        for ev in (
            MeterSampled("1", MeterSample(0, 1234.0, 0.0, (230.0,), (0.0,))),
            PlugChanged("1", True),
            CardPresented("1", "CAFE01"),
        ):
            cp.hw_event(ev, loop.time())
            link.flush()
        await _until(lambda: any(a == "StartTransaction" for a, _ in csms.seen))
        await _until(
            lambda: (
                cp.charging.points[1].tx is not None
                and cp.charging.points[1].tx.transaction_id == 77
            )
        )
        answer = await csms.call(call.RemoteStopTransaction(transaction_id=77))
        assert answer.status == "Accepted"
        link.flush()
        await _until(lambda: any(a == "StopTransaction" for a, _ in csms.seen))
        commands = link.commands
        answer = await csms.call(call.GetConfiguration(key=["SupportedFeatureProfiles"]))
        assert answer.configuration_key[0]["value"].startswith("Core,")
    finally:
        server.cancel()
        store.close()
    return csms.seen, commands


def test_full_session_with_the_public_ocpp_package(tmp_path: Path) -> None:
    seen, commands = asyncio.run(_session(tmp_path))
    actions = [a for a, _ in seen]
    assert actions[:1] == ["BootNotification"]
    assert ("StartTransaction", {"meter_start": 1234}) in seen
    assert (
        "StopTransaction",
        {"transaction_id": 77, "meter_stop": 1234, "reason": "Remote"},
    ) in seen
    assert EnergiseRelay(1) in commands


async def _firmware(tmp_path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[Any], str]:
    loop = asyncio.get_running_loop()
    ids = (f"id{n}" for n in itertools.count())
    store = Store.open(tmp_path / "state.db")
    cp = ChargePoint(
        store=store,
        boot_payload={"chargePointVendor": "cpagent", "chargePointModel": "interop"},
        connector_ids=[1],
        boot_id="b1",
        new_id=lambda: next(ids),
        now=loop.time(),
        firmware_management=True,
    )
    link = MemoryLink(cp, loop.time)
    csms = Csms("CP-1", link)
    server = asyncio.create_task(csms.start())
    try:
        cp.connected(loop.time())
        link.flush()
        await _until(lambda: cp.online)
        answer = await csms.call(call.GetDiagnostics(location="ftp://127.0.0.1/diag/"))
        file_name = answer.file_name
        answer = await csms.call(
            call.UpdateFirmware(
                location="http://127.0.0.1/fw.bin", retrieve_date=to_wire(1_764_460_800.0)
            )
        )
        link.flush()
        jobs = cp.drain_jobs()
        for ev in (
            DiagnosticsUploading(),
            DiagnosticsUploaded(),
            FirmwareDownloading(),
            FirmwareDownloaded("/tmp/fw.bin"),
            FirmwareInstalling(),
            FirmwareInstalled(),
        ):
            cp.firmware_event(ev, loop.time())
            link.flush()
        await _until(
            lambda: (
                sum(
                    a.endswith("StatusNotification") and a != "StatusNotification"
                    for a, _ in csms.seen
                )
                == 6
            )
        )
    finally:
        server.cancel()
        store.close()
    return csms.seen, jobs + cp.drain_jobs(), file_name


def test_firmware_management_with_the_public_ocpp_package(tmp_path: Path) -> None:
    seen, jobs, file_name = asyncio.run(_firmware(tmp_path))
    assert file_name.endswith(".tar.gz")
    assert [type(j).__name__ for j in jobs] == [
        "UploadDiagnostics",
        "DownloadFirmware",
        "InstallFirmware",
    ]
    assert [p["status"] for a, p in seen if a == "DiagnosticsStatusNotification"] == [
        "Uploading",
        "Uploaded",
    ]
    assert [p["status"] for a, p in seen if a == "FirmwareStatusNotification"] == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
