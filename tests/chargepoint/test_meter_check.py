"""Meter plausibility: a register that jumps more than the connector's maximum power allows
over the elapsed time, or goes backwards, is a meter fault (PowerMeterFailure, OCPP 1.6 §7.6,
reported by StatusNotification §4.9), never the new floor for later readings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.commands import DeEnergiseRelay
from cpagent.chargepoint.meter_check import FAULT_AFTER, MeterCheck, MeterVerdict
from hw.events import CardPresented, PlugChanged

from .rig import Rig

MAX_W = 230.0 * 32.0  # the rig's Electrical(): 230 V, 1 phase, 32 A


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, config={"MeterValueSampleInterval": "10"})
    r.connect()
    r.clear()
    yield r
    r.store.close()


def _charge(rig: Rig, wh: float) -> None:
    rig.meter(wh)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))


def _reports(rig: Rig) -> list[tuple[str, str]]:
    return [
        (p["status"], p["errorCode"])
        for p in rig.sent("StatusNotification")
        if p["connectorId"] == 1
    ]


def _energy_values(rig: Rig) -> list[str]:
    return [mv["meterValue"][0]["sampledValue"][0]["value"] for mv in rig.sent("MeterValues")]


@pytest.mark.parametrize(
    ("after_s", "rise_wh", "verdict"),
    [
        (1.0, 2.0, MeterVerdict.OK),  # 7.4 kW for 1 s is ~2 Wh
        (3600.0, 7_400.0, MeterVerdict.OK),  # an hour at full power
        (3600.0, 11_000.0, MeterVerdict.OK),  # within the 50 % margin
        (3600.0, 12_000.0, MeterVerdict.REJECTED),  # more than the connector can deliver
        (1.0, 500.0, MeterVerdict.REJECTED),  # a spike
        (1.0, -5.0, MeterVerdict.REJECTED),  # backwards
        (1.0, -0.5, MeterVerdict.OK),  # float rounding, not a regression
    ],
)
def test_plausibility_table(after_s: float, rise_wh: float, verdict: MeterVerdict) -> None:
    check = MeterCheck()
    assert check.check(1_000_000.0, 0.0, MAX_W)[0] is MeterVerdict.OK
    assert check.check(1_000_000.0 + rise_wh, after_s, MAX_W)[0] is verdict


def test_a_spike_is_dropped_and_never_the_floor(rig: Rig) -> None:
    _charge(rig, 10_000.0)
    rig.advance(5)
    rig.meter(10_010.0)
    rig.advance(1)
    rig.meter(1_010_010.0)  # a corrupt reading: +1 MWh in a second
    rig.advance(4)  # the periodic MeterValues is due (10 s)
    rig.meter(10_021.0)
    rig.advance(10)
    assert _energy_values(rig) == ["10010", "10021"]
    assert ("Charging", "PowerMeterFailure") in _reports(rig)  # reported, charging goes on
    assert _reports(rig)[-1] == ("Charging", "NoError")
    rig.registers[1] = 10_030.0
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.sent("StopTransaction")[0]["meterStop"] == 10_030


def test_a_register_that_keeps_going_backwards_faults_the_connector(rig: Rig) -> None:
    _charge(rig, 50_000.0)
    for n in range(FAULT_AFTER):
        rig.advance(1)
        rig.meter(4_000.0 + n)  # e.g. the meter was swapped or reset mid-session
    assert rig.hw_commands()[-1] == DeEnergiseRelay(1)
    [stop] = rig.sent("StopTransaction")
    assert stop["meterStop"] == 50_000 and stop["reason"] == "Other"  # the last plausible
    assert _reports(rig)[-1] == ("Faulted", "PowerMeterFailure")
    for n in range(FAULT_AFTER):
        rig.advance(1)
        rig.meter(4_010.0 + n)  # consistent readings again: a new baseline
    assert _reports(rig)[-1][1] == "NoError" and _reports(rig)[-1][0] != "Faulted"
