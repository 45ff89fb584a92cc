"""Exceptions the hardware drivers raise for bad local use or a failed device operation."""

from __future__ import annotations


class HardwareError(Exception):
    """Base class of every error raised by `hw`; vendor exceptions never escape a driver.

    `code` is the OCPP 1.6 ChargePointErrorCode spelling a fault of this kind is reported as.
    """

    code = "InternalError"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigurationError(HardwareError):
    """A driver was built with settings it cannot use (unknown model, pin factory, port)."""


class MeterError(HardwareError):
    """A meter read failed after its bounded retries (timeout, CRC error, exception reply)."""

    code = "PowerMeterFailure"


class ReaderError(HardwareError):
    """A card reader's port could not be opened or read."""

    code = "ReaderFailure"


class RelayError(HardwareError):
    """A relay or its feedback input could not be driven or read."""

    code = "PowerSwitchFailure"


class EvseError(HardwareError):
    """An EVSE controller could not be reached or refused a command."""

    code = "InternalError"
