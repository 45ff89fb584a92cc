"""Commands the chargepoint hands to the hardware layer (the daemon applies them in order)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EnergiseRelay:
    """Close connector `connector_id`'s contactor (only when authorized and plugged)."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class DeEnergiseRelay:
    """Open connector `connector_id`'s contactor."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class SetCurrentLimit:
    """Offer at most `amps` per phase on the connector (None: no limit); a CurrentLimiter."""

    connector_id: int
    amps: float | None


@dataclass(frozen=True, slots=True)
class SetOfferedCurrent:
    """Offer `amps` per phase through the connector's EVSE controller's control pilot
    (IEC 61851-1 Annex A): 0 = no PWM, the EV may not draw; otherwise 6 A or more."""

    connector_id: int
    amps: float


@dataclass(frozen=True, slots=True)
class RestartRequested:
    """Reset.req was accepted and every transaction is stopped: restart the daemon.

    `kind` is the OCPP ResetType, "Hard" or "Soft" (§5.14)."""

    kind: str


@dataclass(frozen=True, slots=True)
class ReadMeter:
    """Read connector `connector_id`'s meter now (one request, on the poller's thread); the
    reading comes back as MeterSampled(..., request=`request`) or MeterReadFailed."""

    connector_id: int
    request: int


Command = (
    EnergiseRelay
    | DeEnergiseRelay
    | SetCurrentLimit
    | SetOfferedCurrent
    | RestartRequested
    | ReadMeter
)


# Firmware Management jobs (OCPP 1.6 §5.8, §5.19) go to a worker thread (cpagent.firmware), not
# to the hardware, so they come out of `ChargePoint.drain_jobs()`, apart from `Command`.
@dataclass(frozen=True, slots=True)
class UploadDiagnostics:
    """GetDiagnostics.req accepted: bundle the logs as `file_name` and upload to `location`.

    `start_wall`/`stop_wall` (POSIX seconds or None) are the requested time window; the worker
    makes `1 + retries` attempts, `retry_interval_s` apart."""

    location: str
    file_name: str
    start_wall: float | None
    stop_wall: float | None
    retries: int
    retry_interval_s: int


@dataclass(frozen=True, slots=True)
class DownloadFirmware:
    """UpdateFirmware.req's retrieveDate has come: download `location` (1 + retries attempts)."""

    location: str
    retries: int
    retry_interval_s: int


@dataclass(frozen=True, slots=True)
class InstallFirmware:
    """The downloaded image at `path` may be installed now (no transaction is running)."""

    path: str


FirmwareJob = UploadDiagnostics | DownloadFirmware | InstallFirmware
