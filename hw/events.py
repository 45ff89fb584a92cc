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
    """A device stopped working; `code` is a FaultCode value (a str), `detail` is for humans.

    `vendor_code` names the device's own fault (e.g. "StuckRelay") for OCPP's vendorErrorCode
    (CiString50); empty when `code` says it all.
    """

    source: str
    code: str
    detail: str
    vendor_code: str = ""


@dataclass(frozen=True, slots=True)
class DeviceRecovered:
    """A device that had faulted works again."""

    source: str


class PilotState(StrEnum):
    """The control pilot state letter of IEC 61851-1 Annex A (Table A.3), as the EV shows it.

    The voltage is the pilot's positive level measured at the EVSE.
    """

    A = "A"  # +12 V: no vehicle connected
    B = "B"  # +9 V: vehicle connected, not ready to charge (S2 open)
    C = "C"  # +6 V: vehicle ready, charging (S2 closed)
    D = "D"  # +3 V: vehicle ready, charging, ventilation required
    E = "E"  # 0 V: pilot shorted to PE, or the EVSE has no power
    F = "F"  # -12 V: EVSE not available (EVSE-side fault)


class EvseFault(StrEnum):
    """A fault an EVSE controller reports (its own codes, one spelling for every back-end)."""

    RESIDUAL_CURRENT = "ResidualCurrent"  # RCD / RDC-DD / GFCI tripped
    RCD_SELF_TEST = "RcdSelfTestFailed"
    DIODE_CHECK = "DiodeCheckFailed"  # no diode on the EV side: pilot low level not -12 V
    PILOT_SHORT = "PilotShort"  # state E
    PILOT_FAULT = "PilotFault"  # state F, or a pilot level matching no state
    VENTILATION = "VentilationRequired"  # state D on a charger that offers no ventilation
    NO_GROUND = "NoGround"
    STUCK_RELAY = "StuckRelay"
    OVER_TEMPERATURE = "OverTemperature"
    OVER_CURRENT = "OverCurrent"
    CONTROLLER_FAILURE = "ControllerFailure"  # the controller says "failure", no detail
    CONTROLLER_OFFLINE = "ControllerOffline"  # no answer from the controller


# OCPP 1.6 §7.6 ChargePointErrorCode for each fault. GroundFailure is "ground fault circuit
# interrupter has been activated": a residual-current trip. EVCommunicationError covers
# Mode 3 (pilot) problems. A missing earth is not a GFCI trip: OtherError + vendorErrorCode.
FAULT_CODES: dict[EvseFault, FaultCode] = {
    EvseFault.RESIDUAL_CURRENT: FaultCode.GROUND_FAILURE,
    EvseFault.RCD_SELF_TEST: FaultCode.OTHER_ERROR,
    EvseFault.DIODE_CHECK: FaultCode.EV_COMMUNICATION_ERROR,
    EvseFault.PILOT_SHORT: FaultCode.EV_COMMUNICATION_ERROR,
    EvseFault.PILOT_FAULT: FaultCode.EV_COMMUNICATION_ERROR,
    EvseFault.VENTILATION: FaultCode.OTHER_ERROR,
    EvseFault.NO_GROUND: FaultCode.OTHER_ERROR,
    EvseFault.STUCK_RELAY: FaultCode.POWER_SWITCH_FAILURE,
    EvseFault.OVER_TEMPERATURE: FaultCode.HIGH_TEMPERATURE,
    EvseFault.OVER_CURRENT: FaultCode.OVER_CURRENT_FAILURE,
    EvseFault.CONTROLLER_FAILURE: FaultCode.OTHER_ERROR,
    EvseFault.CONTROLLER_OFFLINE: FaultCode.INTERNAL_ERROR,
}


@dataclass(frozen=True, slots=True)
class EvseStatus:
    """One reading of an EVSE controller.

    `pilot` is the vehicle's state letter; `faults` what the controller reports now (empty:
    healthy); `offered_current_a` what the pilot offers the EV now (0: not offering).
    """

    timestamp: float
    pilot: PilotState
    faults: frozenset[EvseFault]
    offered_current_a: float


@dataclass(frozen=True, slots=True)
class PilotChanged:
    """The vehicle's pilot state changed (`pilot` is a PilotState value, e.g. "C")."""

    source: str
    pilot: str
    previous: str | None


HwEvent = (
    PlugChanged
    | CardPresented
    | MeterSampled
    | MeterReadFailed
    | DeviceFaulted
    | DeviceRecovered
    | PilotChanged
)
