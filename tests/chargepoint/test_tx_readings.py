"""meterStart / meterStop are fresh register values taken at the event (OCPP 1.6 §4.8 / §4.10:
"meterStart: the meter value in Wh for the connector at start of the transaction"; §3.16),
and the INFO lines an operator reads for each transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.commands import DeEnergiseRelay, EnergiseRelay, ReadMeter
from hw.events import CardPresented, MeterReadFailed, PlugChanged

from .rig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, config={"MeterValueSampleInterval": "0"})
    r.connect()
    r.clear()
    yield r
    r.store.close()


def _start(rig: Rig) -> None:
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "04A1B2C3D4"))


def test_meter_start_is_read_at_the_start_even_before_the_first_sample(rig: Rig) -> None:
    """Right after boot no periodic sample has arrived: meterStart is still the register
    (never 0 because nothing was sampled yet)."""
    rig.registers[1] = 12_345_678.0
    _start(rig)
    [start] = rig.sent("StartTransaction")
    assert start["meterStart"] == 12_345_678


def test_meter_start_and_stop_are_not_the_last_periodic_sample(rig: Rig) -> None:
    """The register moved since the last periodic sample: the event's own reading counts."""
    rig.meter(1_000.0)
    rig.registers[1] = 1_004.0  # e.g. a previous session ended after the last poll
    _start(rig)
    assert rig.sent("StartTransaction")[0]["meterStart"] == 1_004
    rig.meter(1_010.0)
    rig.registers[1] = 1_017.0
    rig.event(CardPresented("1", "04A1B2C3D4"))
    assert rig.sent("StopTransaction")[0]["meterStop"] == 1_017


def test_the_relay_opens_before_the_final_reading(rig: Rig) -> None:
    _start(rig)
    rig.commands.clear()
    rig.event(CardPresented("1", "04A1B2C3D4"))
    kinds = [type(c) for c in rig.commands if isinstance(c, DeEnergiseRelay | ReadMeter)]
    assert kinds[:2] == [DeEnergiseRelay, ReadMeter]


def test_without_a_fresh_reading_the_stop_uses_the_latest_within_the_bound(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """The meter does not answer the stop's read: after 1 s the StopTransaction goes with the
    latest reading (billing data kept, a WARNING says so); the relay opened at once."""
    _start(rig)
    rig.meter(15.0)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))
    assert rig.hw_commands()[-1] == DeEnergiseRelay(1)
    assert rig.sent("StopTransaction") == []
    rig.advance(1.0)
    assert rig.sent("StopTransaction")[0]["meterStop"] == 15
    assert any(
        "no fresh meter reading" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


def test_a_failed_read_at_the_stop_does_not_wait_for_the_bound(rig: Rig) -> None:
    _start(rig)
    rig.meter(15.0)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))
    [read] = [c for c in rig.commands if isinstance(c, ReadMeter)][-1:]
    rig.event(MeterReadFailed("1", read.request, "no answer"))
    assert rig.sent("StopTransaction")[0]["meterStop"] == 15


def test_with_no_reading_at_all_the_start_waits_with_the_relay_open(rig: Rig) -> None:
    rig.answer_reads = False
    _start(rig)
    rig.advance(5)
    assert rig.sent("StartTransaction") == [] and EnergiseRelay(1) not in rig.commands
    rig.meter(700.0)  # the first reading arrives
    assert rig.sent("StartTransaction")[0]["meterStart"] == 700
    assert EnergiseRelay(1) in rig.commands


def test_transaction_begin_and_end_values_are_meter_start_and_stop(rig: Rig) -> None:
    """§3.16 / §9.1 StopTxnSampledData: the Transaction.Begin and Transaction.End sampled
    values in transactionData are the very readings of meterStart and meterStop."""
    rig.cp.settings.change("StopTxnSampledData", "Energy.Active.Import.Register")
    rig.registers[1] = 3_000.0
    _start(rig)
    rig.advance(300)
    rig.registers[1] = 3_250.0
    rig.event(CardPresented("1", "04A1B2C3D4"))
    [stop] = rig.sent("StopTransaction")
    first, last = stop["transactionData"][0], stop["transactionData"][-1]
    assert [(v["context"], v["value"]) for v in first["sampledValue"]] == [
        ("Transaction.Begin", "3000")
    ]
    assert [(v["context"], v["value"]) for v in last["sampledValue"]] == [
        ("Transaction.End", "3250")
    ]
    assert stop["meterStop"] == 3_250


def test_operators_see_each_transaction_at_info(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """One INFO line at the start (connector, id, idTag masked to its last 4, meterStart) and
    one at the stop (reason, energy delivered in kWh)."""
    caplog.set_level(logging.INFO)
    rig.registers[1] = 10_000.0
    _start(rig)
    rig.advance(3600)
    rig.registers[1] = 17_400.0
    rig.event(CardPresented("1", "04A1B2C3D4"))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    started = [m for m in lines if "transaction started" in m]
    stopped = [m for m in lines if "stopped" in m]
    assert len(started) == 1 and "connector 1" in started[0] and "meterStart 10000" in started[0]
    assert "****C3D4" in started[0] and "04A1B2C3D4" not in started[0]
    assert any("transactionId 100" in m for m in lines)
    assert len(stopped) == 1 and "(Local)" in stopped[0] and "7.400 kWh" in stopped[0]
