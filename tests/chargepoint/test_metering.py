"""MeterValues building (OCPP 1.6 §6.31, §7.29-7.31) and sampling schedules (§9.1.7, §9.1.17)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cpagent.chargepoint.clock import from_wire, to_wire
from cpagent.chargepoint.metering import (
    ReadingContext,
    meter_value,
    meter_values_request,
    next_clock_aligned,
    next_periodic,
    sampled_values,
)
from cpagent.chargepoint.settings import ConfigurationStatus, FeatureProfile, Settings
from hw.events import MeterSample

from .schemas import validate

ONE_PHASE = MeterSample(0.0, 12345.6, 7360.0, (230.1,), (32.0,))
THREE_PHASE = MeterSample(0.0, 99000.0, 22000.0, (230.0, 231.0, 229.5), (16.0, 15.5, 16.2))
ALL = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "Current.Offered",
)


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        (
            ONE_PHASE,
            [
                ("Energy.Active.Import.Register", None, "Wh", "12345.6"),
                ("Power.Active.Import", None, "W", "7360"),
                ("Current.Import", "L1", "A", "32"),
                ("Voltage", "L1-N", "V", "230.1"),
                ("Current.Offered", None, "A", "16"),
            ],
        ),
        (
            THREE_PHASE,
            [
                ("Energy.Active.Import.Register", None, "Wh", "99000"),
                ("Power.Active.Import", None, "W", "22000"),
                ("Current.Import", "L1", "A", "16"),
                ("Current.Import", "L2", "A", "15.5"),
                ("Current.Import", "L3", "A", "16.2"),
                ("Voltage", "L1-N", "V", "230"),
                ("Voltage", "L2-N", "V", "231"),
                ("Voltage", "L3-N", "V", "229.5"),
                ("Current.Offered", None, "A", "16"),
            ],
        ),
    ],
)
def test_measurand_unit_phase_per_meter_model(
    reading: MeterSample, expected: list[tuple[str, str | None, str, str]]
) -> None:
    values = sampled_values(reading, ALL, ReadingContext.SAMPLE_PERIODIC, offered_a=16.0)
    got = [(v["measurand"], v.get("phase"), v["unit"], v["value"]) for v in values]
    assert got == expected
    assert {v["context"] for v in values} == {"Sample.Periodic"}
    payload = meter_values_request(1, 42, [meter_value(1_764_460_800.0, values)])
    validate("MeterValues", payload)


@pytest.mark.parametrize("context", list(ReadingContext))
def test_every_context_validates(context: ReadingContext) -> None:
    values = sampled_values(ONE_PHASE, ("Energy.Active.Import.Register",), context)
    validate("MeterValues", meter_values_request(0, None, [meter_value(0.0, values)]))
    assert values[0]["context"] == str(context)


def test_unsupported_and_unknown_measurands_are_skipped() -> None:
    values = sampled_values(
        ONE_PHASE, ("SoC", "Bogus", "Current.Offered", "Voltage"), ReadingContext.TRIGGER
    )
    assert [v["measurand"] for v in values] == ["Voltage"]  # no offered limit given


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("now", "interval", "expected"),
    [
        ("2026-11-30T10:07:13", 900, "2026-11-30T10:15:00"),
        ("2026-11-30T10:15:00", 900, "2026-11-30T10:30:00"),  # strictly after
        ("2026-11-30T23:59:59", 900, "2026-12-01T00:00:00"),
        ("2026-11-30T23:50:00", 7000, "2026-12-01T00:00:00"),  # last interval cut at midnight
        ("2026-11-30T00:00:00.5", 1, "2026-11-30T00:00:01"),
    ],
)
def test_clock_aligned_boundaries(now: str, interval: int, expected: str) -> None:
    assert next_clock_aligned(_t(now), interval) == _t(expected)


def test_clock_aligned_local_midnight_and_disabled() -> None:
    # UTC+1: local midnight is 23:00 UTC; a 7000 s grid restarts there.
    assert next_clock_aligned(_t("2026-11-30T22:50:00"), 7000, 3600) == _t("2026-11-30T23:00:00")
    assert next_clock_aligned(_t("2026-11-30T22:50:00"), 0) is None


@pytest.mark.parametrize(
    ("start", "now", "interval", "expected"),
    [
        (100.0, 100.0, 60, 160.0),
        (100.0, 159.9, 60, 160.0),
        (100.0, 160.0, 60, 220.0),
        (100.0, 90.0, 60, 160.0),
        (100.0, 500.0, 0, None),
    ],
)
def test_periodic_schedule(start: float, now: float, interval: int, expected: float | None) -> None:
    assert next_periodic(start, now, interval) == expected


@pytest.mark.parametrize("wall", [0.0, 1.234, 1_764_460_800.999])
def test_wire_time_round_trips_to_the_millisecond(wall: float) -> None:
    text = to_wire(wall)
    assert text.endswith("Z") and abs(from_wire(text) - wall) < 0.001


@pytest.mark.parametrize(
    ("hz", "expected"),
    [
        (
            49.98,
            [
                {
                    "value": "49.98",
                    "context": "Sample.Periodic",
                    "format": "Raw",
                    "measurand": "Frequency",
                    "location": "Outlet",
                }
            ],
        ),  # no unit: Hertz (§7.31)
        (None, []),  # a meter without a frequency register: nothing, not a made-up value
    ],
)
def test_frequency_only_when_the_meter_measures_it(
    hz: float | None, expected: list[dict[str, str]]
) -> None:
    reading = MeterSample(0.0, 1.0, 0.0, (230.0,), (0.0,), frequency_hz=hz)
    values = sampled_values(reading, ("Frequency",), ReadingContext.SAMPLE_PERIODIC)
    assert values == expected
    if values:
        validate("MeterValues", meter_values_request(1, None, [meter_value(0.0, values)]))


def test_a_measurand_with_its_phase_reports_that_phase_only() -> None:
    """§9.1 MeterValuesSampledData: "the Measurand is combined with the optional phase; for
    instance: Voltage.L1" - accepted by ChangeConfiguration and honoured."""
    settings = Settings([FeatureProfile.CORE], 1)
    assert settings.change("MeterValuesSampledData", "Voltage.L1,Current.Import.L3") == (
        ConfigurationStatus.ACCEPTED
    )
    assert settings.change("MeterValuesSampledData", "Energy.Active.Import.Register.L1") == (
        ConfigurationStatus.REJECTED
    )
    values = sampled_values(
        THREE_PHASE, settings.get_list("MeterValuesSampledData"), ReadingContext.SAMPLE_PERIODIC
    )
    assert [(v["measurand"], v["phase"]) for v in values] == [
        ("Voltage", "L1-N"),
        ("Current.Import", "L3"),
    ]
    validate("MeterValues", meter_values_request(1, 1, [meter_value(0.0, values)]))
