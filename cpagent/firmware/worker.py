"""FirmwareWorker: runs Firmware Management jobs on its own thread and posts their results."""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from cpagent.chargepoint.commands import (
    DownloadFirmware,
    FirmwareJob,
    InstallFirmware,
    UploadDiagnostics,
)
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
from cpagent.firmware.bundle import build_bundle
from cpagent.firmware.install import run_install
from cpagent.firmware.transfer import DEADLINE_S, RESERVE_BYTES, TransferError, download, upload

_log = logging.getLogger(__name__)
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024


class _Stopped(Exception):
    """stop() was called while a job waited between attempts."""


class FirmwareWorker:
    """Takes `FirmwareJob`s from `ChargePoint.drain_jobs()` (`submit`, any thread) and runs
    them one at a time on its own thread, posting cpagent.chargepoint.firmware_events.

    Diagnostics: a .tar.gz of `diagnostics_paths` (plus a redacted copy of `config_path`, and
    the systemd journal of `journal_unit` for the requested window) is uploaded to the job's
    location. Firmware: the image is downloaded into `download_dir`,
    then `install_command` (argv; "{file}" is the image's path) is run when the chargepoint
    hands out InstallFirmware; exit 0 is Installed. Transfers make 1 + retries attempts,
    `retry_interval_s` apart; each network operation and the install command time out after
    `timeout_s`, and each attempt as a whole after `deadline_s`, so a server that trickles
    cannot hold the worker (and every later job) for longer. A download leaves
    `reserve_bytes` free on the file system of `download_dir` (the state database's, by
    default): an image that would not is refused before it is fetched, or cut off as it
    passes the limit. Every failure ends in DownloadFailed / UploadFailed (OCPP 1.6 §4.4,
    §4.5).
    """

    def __init__(
        self,
        post: Callable[[object], None],
        *,
        diagnostics_paths: Sequence[str | Path],
        download_dir: str | Path,
        install_command: Sequence[str],
        timeout_s: float,
        config_path: str | Path | None = None,
        journal_unit: str | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        deadline_s: float = DEADLINE_S,
        reserve_bytes: int = RESERVE_BYTES,
    ) -> None:
        self._post = post
        self.diagnostics_paths = list(diagnostics_paths)
        self.download_dir = Path(download_dir)
        self.install_command = list(install_command)
        self.timeout_s = timeout_s
        self.config_path = config_path
        self.journal_unit = journal_unit
        self.max_download_bytes = max_download_bytes
        self.deadline_s = deadline_s
        self.reserve_bytes = reserve_bytes
        self._jobs: queue.Queue[FirmwareJob | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="firmware", daemon=True)
            self._thread.start()

    def submit(self, job: FirmwareJob) -> None:
        """Queue a job (thread-safe); jobs run in the order submitted."""
        self._jobs.put(job)

    def stop(self, timeout: float = 5.0) -> None:
        """Abandon waits between attempts, finish the running transfer's current step, join."""
        self._stop.set()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._do(job)
            except _Stopped:
                return
            except Exception as exc:  # a bug must not leave the chargepoint waiting forever
                _log.exception("firmware job %s failed", type(job).__name__)
                self._fail(job, f"internal error: {type(exc).__name__}")

    def _do(self, job: FirmwareJob) -> None:
        if isinstance(job, UploadDiagnostics):
            self._post(DiagnosticsUploading())
            with tempfile.TemporaryDirectory(prefix="cpagent-diag-") as tmp:
                bundle = build_bundle(
                    self.diagnostics_paths,
                    Path(tmp) / job.file_name,
                    config_path=self.config_path,
                    start_wall=job.start_wall,
                    stop_wall=job.stop_wall,
                    journal_unit=self.journal_unit,
                    timeout_s=self.timeout_s,
                )
                error = self._attempts(
                    job.retries,
                    job.retry_interval_s,
                    lambda: upload(
                        job.location,
                        bundle,
                        job.file_name,
                        timeout_s=self.timeout_s,
                        deadline_s=self.deadline_s,
                    ),
                )
            self._post(DiagnosticsUploadFailed(error) if error else DiagnosticsUploaded())
        elif isinstance(job, DownloadFirmware):
            self._post(FirmwareDownloading())
            got: list[Path] = []
            error = self._attempts(
                job.retries,
                job.retry_interval_s,
                lambda: got.append(
                    download(
                        job.location,
                        self.download_dir,
                        max_bytes=self.max_download_bytes,
                        timeout_s=self.timeout_s,
                        deadline_s=self.deadline_s,
                        reserve_bytes=self.reserve_bytes,
                    )
                ),
            )
            self._post(FirmwareDownloadFailed(error) if error else FirmwareDownloaded(str(got[0])))
        else:
            self._post(FirmwareInstalling())
            ok, detail = run_install(self.install_command, job.path, timeout_s=self.timeout_s)
            _log.log(logging.INFO if ok else logging.ERROR, "firmware install: %s", detail)
            Path(job.path).unlink(missing_ok=True)  # the image is not kept (SD card space)
            self._post(FirmwareInstalled() if ok else FirmwareInstallationFailed(detail))

    def _attempts(self, retries: int, interval_s: int, attempt: Callable[[], object]) -> str | None:
        """Run `attempt` until it succeeds, at most 1 + retries times: None, or the last error."""
        error = "no attempt"
        for n in range(1 + max(0, retries)):
            if n and self._stop.wait(interval_s):
                raise _Stopped
            try:
                attempt()
                return None
            except TransferError as exc:
                error = str(exc)
                _log.warning("attempt %d failed: %s", n + 1, error)
                if exc.permanent:
                    break
        return error

    def _fail(self, job: FirmwareJob, reason: str) -> None:
        if isinstance(job, UploadDiagnostics):
            self._post(DiagnosticsUploadFailed(reason))
        elif isinstance(job, DownloadFirmware):
            self._post(FirmwareDownloadFailed(reason))
        elif isinstance(job, InstallFirmware):
            self._post(FirmwareInstallationFailed(reason))
