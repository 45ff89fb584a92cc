"""MeterValues building: sampled values per meter model, and periodic/clock-aligned schedules."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Protocol

from cpagent.chargepoint.clock import to_wire

DAY_S = 86400


class Measurand(StrEnum):
    """Measurand wire strings (OCPP 1.6 §7.31)."""

    ENERGY_ACTIVE_EXPORT_REGISTER = "Energy.Active.Export.Register"
    ENERGY_ACTIVE_IMPORT_REGISTER = "Energy.Active.Import.Register"
    ENERGY_REACTIVE_EXPORT_REGISTER = "Energy.Reactive.Export.Register"
    ENERGY_REACTIVE_IMPORT_REGISTER = "Energy.Reactive.Import.Register"
    ENERGY_ACTIVE_EXPORT_INTERVAL = "Energy.Active.Export.Interval"
    ENERGY_ACTIVE_IMPORT_INTERVAL = "Energy.Active.Import.Interval"
    ENERGY_REACTIVE_EXPORT_INTERVAL = "Energy.Reactive.Export.Interval"
    ENERGY_REACTIVE_IMPORT_INTERVAL = "Energy.Reactive.Import.Interval"
    POWER_ACTIVE_EXPORT = "Power.Active.Export"
    POWER_ACTIVE_IMPORT = "Power.Active.Import"
    POWER_OFFERED = "Power.Offered"
    POWER_REACTIVE_EXPORT = "Power.Reactive.Export"
    POWER_REACTIVE_IMPORT = "Power.Reactive.Import"
    POWER_FACTOR = "Power.Factor"
    CURRENT_IMPORT = "Current.Import"
    CURRENT_EXPORT = "Current.Export"
    CURRENT_OFFERED = "Current.Offered"
    VOLTAGE = "Voltage"
    FREQUENCY = "Frequency"
    TEMPERATURE = "Temperature"
    SOC = "SoC"
    RPM = "RPM"


class ReadingContext(StrEnum):
    """ReadingContext wire strings (OCPP 1.6 §7.35)."""

    INTERRUPTION_BEGIN = "Interruption.Begin"
    INTERRUPTION_END = "Interruption.End"
    SAMPLE_CLOCK = "Sample.Clock"
    SAMPLE_PERIODIC = "Sample.Periodic"
    TRANSACTION_BEGIN = "Transaction.Begin"
    TRANSACTION_END = "Transaction.End"
    TRIGGER = "Trigger"
    OTHER = "Other"


# What this chargepoint can report, and how (§7.31 units). Current.Offered comes from the
# smart-charging limit, not from the meter. Frequency goes without a unit: 1.6 has no
# UnitOfMeasure for it, and §7.31 (edition 2) says a Frequency value is in Hertz; it is sent
# only when the meter measures it (MeterSample.frequency_hz).
SUPPORTED_MEASURANDS = frozenset(
    {
        Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        Measurand.POWER_ACTIVE_IMPORT,
        Measurand.CURRENT_IMPORT,
        Measurand.CURRENT_OFFERED,
        Measurand.VOLTAGE,
        Measurand.FREQUENCY,
    }
)

_UNITS = {
    Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: "Wh",
    Measurand.POWER_ACTIVE_IMPORT: "W",
    Measurand.CURRENT_IMPORT: "A",
    Measurand.CURRENT_OFFERED: "A",
    Measurand.VOLTAGE: "V",
}

CURRENT_PHASES = ("L1", "L2", "L3")  # SampledValue phases of the lines (§7.34): currents, powers
_VOLTAGE_PHASES = ("L1-N", "L2-N", "L3-N")  # phase-to-neutral, as the meter reports them
PHASED = {Measurand.CURRENT_IMPORT: CURRENT_PHASES, Measurand.VOLTAGE: _VOLTAGE_PHASES}
"""Per-phase measurands and the phase labels they are reported with."""

SELECTABLE = frozenset(
    {str(m) for m in SUPPORTED_MEASURANDS}
    | {
        f"{m}.{label}"
        for m, labels in PHASED.items()
        for ph in labels
        for label in {ph, ph.split("-")[0]}
    }
)
"""What the *SampledData / *AlignedData keys accept: a measurand, or a per-phase one with
its phase (§9.1 MeterValuesSampledData: "combined with the optional phase; for instance:
Voltage.L1"; L1 and L1-N both name the phase-to-neutral voltage)."""


def _parse(name: str) -> tuple[Measurand, str | None] | None:
    """(measurand, phase or None) of a configured entry, or None if not one we know."""
    try:
        return Measurand(name), None
    except ValueError:
        pass
    base, _, phase = name.rpartition(".")
    try:
        m = Measurand(base)
    except ValueError:
        return None
    return (m, phase) if m in PHASED and phase else None


class Reading(Protocol):
    """What a meter sample provides (hw.events.MeterSample satisfies it)."""

    @property
    def energy_wh(self) -> float: ...
    @property
    def power_w(self) -> float: ...
    @property
    def voltage_v(self) -> tuple[float, ...]: ...
    @property
    def current_a(self) -> tuple[float, ...]: ...


def _fmt(x: float) -> str:
    """Decimal text without exponent or trailing zeros (SampledValue.value is a string)."""
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _value(
    measurand: Measurand, value: float, context: ReadingContext, phase: str | None = None
) -> dict[str, Any]:
    sv: dict[str, Any] = {
        "value": _fmt(value),
        "context": str(context),
        "format": "Raw",
        "measurand": str(measurand),
        "location": "Outlet",
    }
    if phase is not None:
        sv["phase"] = phase
    if measurand in _UNITS:
        sv["unit"] = _UNITS[measurand]
    return sv


def sampled_values(
    reading: Reading,
    measurands: tuple[str, ...],
    context: ReadingContext,
    offered_a: float | None = None,
) -> list[dict[str, Any]]:
    """SampledValue objects for `measurands` (in that order) from one reading.

    Per-phase measurands get one entry per phase the meter measures: a single-phase meter
    reports L1 / L1-N only, a three-phase meter L1..L3 / L1-N..L3-N (§7.34 Phase). Totals
    (energy, power) and Frequency carry no phase. Measurands not supported, or not measured by
    this meter (Frequency), are skipped.
    """
    out: list[dict[str, Any]] = []
    for name in measurands:
        parsed = _parse(name)
        if parsed is None:
            continue
        m, only = parsed
        if only is not None:  # one phase of a per-phase measurand
            values = reading.current_a if m is Measurand.CURRENT_IMPORT else reading.voltage_v
            out += [
                _value(m, x, context, p)
                for x, p in zip(values, PHASED[m], strict=False)
                if only in (p, p.split("-")[0])
            ]
        elif m is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER:
            out.append(_value(m, reading.energy_wh, context))
        elif m is Measurand.POWER_ACTIVE_IMPORT:
            out.append(_value(m, reading.power_w, context))
        elif m is Measurand.CURRENT_IMPORT:
            pairs = zip(reading.current_a, CURRENT_PHASES, strict=False)  # 1 or 3 phases
            out += [_value(m, a, context, p) for a, p in pairs]
        elif m is Measurand.VOLTAGE:
            pairs = zip(reading.voltage_v, _VOLTAGE_PHASES, strict=False)
            out += [_value(m, v, context, p) for v, p in pairs]
        elif m is Measurand.CURRENT_OFFERED and offered_a is not None:
            out.append(_value(m, offered_a, context))
        elif m is Measurand.FREQUENCY:
            hz = getattr(reading, "frequency_hz", None)  # optional: not every meter has it
            if hz is not None:
                out.append(_value(m, hz, context))
    return out


def meter_value(wall_s: float, sampled: list[dict[str, Any]]) -> dict[str, Any]:
    """One MeterValue object (§7.29) stamped with wall time `wall_s`."""
    return {"timestamp": to_wire(wall_s), "sampledValue": sampled}


def meter_values_request(
    connector_id: int, transaction_id: int | None, values: list[dict[str, Any]]
) -> dict[str, Any]:
    """MeterValues.req payload (§6.31); transactionId only when the values belong to one."""
    payload: dict[str, Any] = {"connectorId": connector_id}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    payload["meterValue"] = values
    return payload


def next_clock_aligned(wall_s: float, interval_s: int, utc_offset_s: int = 0) -> float | None:
    """The first clock-aligned boundary strictly after `wall_s`, or None when disabled (0).

    ClockAlignedDataInterval (§9.1.7) splits each day, from midnight, into intervals of that
    size; when it does not divide a day the last interval is cut short at midnight.
    `utc_offset_s` moves midnight to local time (0: midnight UTC).
    """
    if interval_s <= 0:
        return None
    local = wall_s + utc_offset_s
    day_start = math.floor(local / DAY_S) * DAY_S
    k = math.floor((local - day_start) / interval_s) + 1
    boundary = min(day_start + k * interval_s, day_start + DAY_S)
    return boundary - utc_offset_s


def next_periodic(start_s: float, now_s: float, interval_s: int) -> float | None:
    """Next MeterValueSampleInterval (§9.1.17) sample after `now_s` for a transaction that
    began at `start_s` (any one clock), or None when disabled (0)."""
    if interval_s <= 0:
        return None
    k = math.floor((now_s - start_s) / interval_s) + 1
    return start_s + max(k, 1) * interval_s
