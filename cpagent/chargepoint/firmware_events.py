"""Firmware Management statuses (DiagnosticsStatus, FirmwareStatus) and the worker's results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DiagnosticsStatus(StrEnum):
    """DiagnosticsStatus wire strings (the type of §4.4 DiagnosticsStatusNotification)."""

    IDLE = "Idle"
    UPLOADED = "Uploaded"
    UPLOAD_FAILED = "UploadFailed"
    UPLOADING = "Uploading"


class FirmwareStatus(StrEnum):
    """FirmwareStatus wire strings (the type of §4.5 FirmwareStatusNotification)."""

    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOADING = "Downloading"
    IDLE = "Idle"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"


@dataclass(frozen=True, slots=True)
class DiagnosticsUploading:
    """An upload attempt began (sent once per job, not per retry)."""


@dataclass(frozen=True, slots=True)
class DiagnosticsUploaded:
    """The bundle reached the server."""


@dataclass(frozen=True, slots=True)
class DiagnosticsUploadFailed:
    """Every attempt failed; `reason` is for the log (no credentials in it)."""

    reason: str


@dataclass(frozen=True, slots=True)
class FirmwareDownloading:
    """The download began."""


@dataclass(frozen=True, slots=True)
class FirmwareDownloaded:
    """The image is on disk at `path`."""

    path: str


@dataclass(frozen=True, slots=True)
class FirmwareDownloadFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class FirmwareInstalling:
    """The install command was started."""


@dataclass(frozen=True, slots=True)
class FirmwareInstalled:
    """The install command exited 0."""


@dataclass(frozen=True, slots=True)
class FirmwareInstallationFailed:
    reason: str


FirmwareEvent = (
    DiagnosticsUploading
    | DiagnosticsUploaded
    | DiagnosticsUploadFailed
    | FirmwareDownloading
    | FirmwareDownloaded
    | FirmwareDownloadFailed
    | FirmwareInstalling
    | FirmwareInstalled
    | FirmwareInstallationFailed
)
FIRMWARE_EVENTS = (
    DiagnosticsUploading,
    DiagnosticsUploaded,
    DiagnosticsUploadFailed,
    FirmwareDownloading,
    FirmwareDownloaded,
    FirmwareDownloadFailed,
    FirmwareInstalling,
    FirmwareInstalled,
    FirmwareInstallationFailed,
)
"""For `isinstance(event, FIRMWARE_EVENTS)` in the daemon's dispatch."""
