"""Events that hardware threads post to the daemon's owner thread (frozen, slotted dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultCode(StrEnum):
    """OCPP 1.6 ChargePointErrorCode spellings (OCPP 1.6 §7.6) that hardware faults map to."""

    POWER_METER_FAILURE = "PowerMeterFailure"
    READER_FAILURE = "ReaderFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"
    OTHER_ERROR = "OtherError"


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One meter reading. Per-phase tuples have one entry per phase the meter measures (1 or 3).

    `energy_wh` is the active import energy register (SDM630 0x0048) as the meter reported
    it (the chargepoint checks its plausibility). `timestamp` is seconds on the caller's clock
    (time.monotonic() unless a clock was injected).
    """

    timestamp: float
    energy_wh: float
    power_w: float
    voltage_v: tuple[float, ...]
    current_a: tuple[float, ...]
    frequency_hz: float | None = None


@dataclass(frozen=True, slots=True)
class PlugChanged:
    """The plug-present input changed: `plugged` is True when a cable is in the socket."""

    source: str
    plugged: bool


@dataclass(frozen=True, slots=True)
class CardPresented:
    """A card was presented to a reader (once per presentation); `id_tag` is uppercase hex."""

    source: str
    id_tag: str


@dataclass(frozen=True, slots=True)
class MeterSampled:
    """A meter poller took a sample; `request` is the read_now request it answers (None: a
    periodic sample)."""

    source: str
    sample: MeterSample
    request: int | None = None


@dataclass(frozen=True, slots=True)
class MeterReadFailed:
    """An on-demand read (read_now `request`) failed; `detail` is for humans."""

    source: str
    request: int
    detail: str


@dataclass(frozen=True, slots=True)
class DeviceFaulted:
    """A device stopped working; `code` is a FaultCode value (a str), `detail` is for humans."""

    source: str
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class DeviceRecovered:
    """A device that had faulted works again."""

    source: str


HwEvent = (
    PlugChanged | CardPresented | MeterSampled | MeterReadFailed | DeviceFaulted | DeviceRecovered
)
