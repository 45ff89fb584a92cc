"""Firmware Management profile (OCPP 1.6 §5.8, §5.19, §4.4, §4.5) as pure state."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cpagent.chargepoint.clock import from_wire, to_wire
from cpagent.chargepoint.commands import (
    DownloadFirmware,
    FirmwareJob,
    InstallFirmware,
    RestartRequested,
    UploadDiagnostics,
)
from cpagent.chargepoint.firmware_events import (
    DiagnosticsStatus,
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
    FirmwareStatus,
)
from cpagent.chargepoint.model import ChargerModel
from cpagent.chargepoint.ports import Host
from cpagent.chargepoint.store import Store

_log = logging.getLogger(__name__)
DEFAULT_RETRIES = 2  # when the request leaves it to the charge point: 3 attempts in all
DEFAULT_RETRY_INTERVAL_S = 60
PENDING_KEY = "firmware:update"  # store meta: an accepted UpdateFirmware not yet started
WAITING_KEY = "firmware:install"  # store meta: a downloaded image waiting for transactions
FS = FirmwareStatus
DS = DiagnosticsStatus
Payload = dict[str, Any]
OnAnswer = Callable[[Payload | None, float], None]


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """An accepted UpdateFirmware.req waiting for its retrieveDate (wall seconds)."""

    location: str
    retrieve_wall: float
    retries: int
    retry_interval_s: int


def _attempts(req: Payload) -> tuple[int, int]:
    retries = req.get("retries")
    interval = req.get("retryInterval")
    return (
        DEFAULT_RETRIES if retries is None else max(0, int(retries)),
        DEFAULT_RETRY_INTERVAL_S if interval is None else max(0, int(interval)),
    )


def _time(req: Payload, field: str) -> float | None:
    """A dateTime field as wall seconds (the core's schema check has refused bad dates)."""
    text = req.get(field)
    return from_wire(text) if text else None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "cp"


class FirmwareManagement:
    """GetDiagnostics / UpdateFirmware answers, jobs for the worker, status notifications.

    Theory of operation: GetDiagnostics.req is answered with the bundle's fileName and hands
    an `UploadDiagnostics` job out at once. UpdateFirmware.req is remembered (durably) until
    its retrieveDate, then a `DownloadFirmware` job goes out. The worker's events become
    Diagnostics/FirmwareStatusNotifications (§4.4, §4.5; sent only while online: they are not
    transaction-related, so a trigger asks for them again). Once the image is Downloaded,
    §5.19 says installation should wait for running transactions to end: no new transaction
    starts, idle connectors go Unavailable (busy ones when their session ends), and the
    `InstallFirmware` job goes out when none is running. Installed: a restart is requested
    after the notification is answered. InstallationFailed: connectors become Available again.
    TriggerMessage (§5.17) reports the job in progress, else Idle (§4.4/§4.5: Idle is only
    used in answer to a trigger).
    """

    def __init__(
        self, host: Host, store: Store, model: ChargerModel, *, boot_id: str, boot_payload: Payload
    ) -> None:
        self.host, self.store, self.model = host, store, model
        self.boot_id, self.boot_payload = boot_id, boot_payload
        self.diagnostics = DS.IDLE  # in progress, or Idle
        self.firmware = FS.IDLE
        self.pending: PendingUpdate | None = None
        self.install_path: str | None = None  # downloaded, waiting for transactions to end
        self.install_sent = False
        self._uploads = 0  # jobs handed out and not finished
        self._held: set[int] = set()  # connectors made Unavailable for the installation
        self._jobs: list[FirmwareJob] = []
        raw = store.get_meta(PENDING_KEY)
        if raw:
            self.pending = PendingUpdate(**json.loads(raw))
        self.install_path = store.get_meta(WAITING_KEY) or None

    def started(self, now: float) -> None:
        """After a restart: an image that was waiting still waits (connectors held)."""
        if self.install_path is not None:
            self._hold(now)

    # -- requests (handlers) ---------------------------------------------------------------------
    def get_diagnostics(self, req: Payload, now: float) -> Payload:
        """§5.8: the answer names the file the upload will create."""
        wall = self.host.wall(now)
        stamp = (
            to_wire(wall).replace(":", "").replace("-", "")[:15]
            if wall is not None
            else (f"{self.boot_id[:8]}-{int(now)}")
        )
        boot = self.boot_payload
        parts = [
            boot.get("chargePointModel"),
            boot.get("chargePointSerialNumber"),
            "diagnostics",
            stamp,
        ]
        file_name = _safe("-".join(str(x) for x in parts if x)) + ".tar.gz"
        retries, interval = _attempts(req)
        start, stop = _time(req, "startTime"), _time(req, "stopTime")
        self._jobs.append(
            UploadDiagnostics(req["location"], file_name, start, stop, retries, interval)
        )
        self._uploads += 1
        return {"fileName": file_name}

    def update_firmware(self, req: Payload, now: float) -> Payload:
        """§5.19: accepted (the answer has no status); downloading starts at retrieveDate."""
        if self.firmware is not FS.IDLE or self.install_path is not None:
            _log.warning("UpdateFirmware ignored: an update is already %s", self.firmware)
            return {}
        retries, interval = _attempts(req)
        self.pending = PendingUpdate(
            req["location"], from_wire(req["retrieveDate"]), retries, interval
        )
        self.store.set_meta(PENDING_KEY, json.dumps(asdict(self.pending)))
        return {}

    def trigger(self, what: str) -> None:
        """TriggerMessage accepted for a Diagnostics/FirmwareStatusNotification (§5.17)."""
        if what == "DiagnosticsStatusNotification":
            self.host.request(what, {"status": str(self.diagnostics)}, triggered=True)
        else:
            self.host.request(what, {"status": str(self.firmware)}, triggered=True)

    # -- the worker's results ------------------------------------------------------------------
    def event(self, ev: FirmwareEvent, now: float) -> None:
        if isinstance(ev, DiagnosticsUploading):
            self._diag(DS.UPLOADING, True, now)
        elif isinstance(ev, DiagnosticsUploaded | DiagnosticsUploadFailed):
            self._uploads = max(0, self._uploads - 1)
            done = DS.UPLOADED if isinstance(ev, DiagnosticsUploaded) else DS.UPLOAD_FAILED
            if isinstance(ev, DiagnosticsUploadFailed):
                _log.warning("diagnostics upload failed: %s", ev.reason)
            self._diag(done, self._uploads > 0, now)
        elif isinstance(ev, FirmwareDownloading):
            self._fw(FS.DOWNLOADING, FS.DOWNLOADING, now)
        elif isinstance(ev, FirmwareDownloaded):
            self._fw(FS.DOWNLOADED, FS.DOWNLOADED, now)
            self.install_path = ev.path
            self.install_sent = False
            self.store.set_meta(WAITING_KEY, ev.path)
            self._hold(now)
        elif isinstance(ev, FirmwareDownloadFailed):
            _log.warning("firmware download failed: %s", ev.reason)
            self._fw(FS.DOWNLOAD_FAILED, FS.IDLE, now)
        elif isinstance(ev, FirmwareInstalling):
            self._fw(FS.INSTALLING, FS.INSTALLING, now)
        elif isinstance(ev, FirmwareInstalled):
            self.install_path = None
            self.model.install_done()
            self.firmware = FS.IDLE
            self._notify("FirmwareStatusNotification", FS.INSTALLED, now, self._restart)
        elif isinstance(ev, FirmwareInstallationFailed):
            _log.warning("firmware installation failed: %s", ev.reason)
            self.install_path = None
            self._fw(FS.INSTALLATION_FAILED, FS.IDLE, now)
            self._release(now)

    # -- time ----------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        wall = self.host.wall(now)
        if self.pending is not None and wall is not None and wall >= self.pending.retrieve_wall:
            p, self.pending = self.pending, None
            self.store.set_meta(PENDING_KEY, "")
            self.firmware = FS.DOWNLOADING  # busy from now: a second update is ignored
            self._jobs.append(DownloadFirmware(p.location, p.retries, p.retry_interval_s))
        if (
            self.install_path is not None
            and not self.install_sent
            and (not self.model.in_transaction())
        ):
            self.install_sent = True
            # Forgotten once handed out: an installer that restarts cpagent must not loop.
            self.store.set_meta(WAITING_KEY, "")
            self._jobs.append(InstallFirmware(self.install_path))

    def next_deadline(self) -> float | None:
        offset = self.host.clock_offset_s
        if self.pending is None or offset is None:
            return None
        return self.pending.retrieve_wall - offset

    @property
    def blocks_charging(self) -> bool:
        """An image waits to be installed or is being installed: start no transaction."""
        return self.install_path is not None

    def drain_jobs(self) -> list[FirmwareJob]:
        out, self._jobs = self._jobs, []
        return out

    # -- helpers -------------------------------------------------------------------------------
    def _diag(self, status: DiagnosticsStatus, busy: bool, now: float) -> None:
        self.diagnostics = DS.UPLOADING if busy else DS.IDLE
        self._notify("DiagnosticsStatusNotification", status, now)

    def _fw(self, status: FirmwareStatus, current: FirmwareStatus, now: float) -> None:
        self.firmware = current
        self._notify("FirmwareStatusNotification", status, now)

    def _notify(self, action: str, status: str, now: float, then: OnAnswer | None = None) -> None:
        if self.host.online:
            self.host.request(action, {"status": str(status)}, then)
        elif then is not None:
            then(None, now)

    def _restart(self, answer: Payload | None, now: float) -> None:
        self.host.command(RestartRequested("Hard"))  # the new firmware runs after a restart

    def _hold(self, now: float) -> None:
        """Idle connectors Unavailable now, busy ones when their session ends (§5.19)."""
        self._held |= self.model.hold_for_install(now)

    def _release(self, now: float) -> None:
        self.model.release_install(self._held, now)
        self._held.clear()
