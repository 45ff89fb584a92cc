"""meterStart / meterStop are fresh register values taken at the event (OCPP 1.6 §4.8 / §4.10:
"meterStart: the meter value in Wh for the connector at start of the transaction"; §3.16),
and the INFO lines an operator reads for each transaction."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.commands import DeEnergiseRelay, EnergiseRelay, ReadMeter
from cpagent.chargepoint.store import QueuedMessage
from hw.events import CardPresented, MeterReadFailed, MeterSample, MeterSampled, PlugChanged

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


# -- the stop is durable at once, held for its reading (OCPP 1.6 §4.10, §3.7) ----------------
def _answer_read(rig: Rig, energy_wh: float) -> None:
    """The meter answers the last ReadMeter asked for with register `energy_wh`."""
    [read] = [c for c in rig.commands if isinstance(c, ReadMeter)][-1:]
    rig.registers[1] = energy_wh
    rig.event(
        MeterSampled("1", MeterSample(rig.now, energy_wh, 0.0, (230.0,), (0.0,)), read.request)
    )


def _queued_stops(rig: Rig) -> list[QueuedMessage]:
    return [m for m in rig.store.outbox() if m.action == "StopTransaction"]


def _history(rig: Rig) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(rig.store.path)  # another connection: what is committed
    try:
        return db.execute("SELECT stop_reason, meter_stop_wh FROM history").fetchall()
    finally:
        db.close()


def test_the_stop_is_queued_at_once_held_and_released_patched_by_its_reading(rig: Rig) -> None:
    """In the step that ends the transaction the StopTransaction.req is in the durable queue
    (reason, idTag, time, the latest reading), not sent; the stop's reading patches meterStop
    and the Transaction.End value (§7.36) in the queue and the history, then it goes."""
    rig.cp.settings.change("StopTxnSampledData", "Energy.Active.Import.Register")
    rig.registers[1] = 3_000.0
    _start(rig)
    rig.advance(60)
    rig.meter(3_100.0)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))  # Local stop; the read is not answered yet
    [held] = _queued_stops(rig)
    assert held.held and rig.sent("StopTransaction") == []
    assert (held.payload["reason"], held.payload["idTag"]) == ("Local", "04A1B2C3D4")
    assert held.payload["meterStop"] == 3_100 and held.payload["timestamp"] == rig.wall_text()
    assert _history(rig) == [("Local", 3_100.0)]
    rig.advance(0.5)  # within the bound: still held
    assert rig.sent("StopTransaction") == []
    _answer_read(rig, 3_104.0)
    [stop] = rig.sent("StopTransaction")
    assert stop["meterStop"] == 3_104 and stop["reason"] == "Local"
    end = stop["transactionData"][-1]["sampledValue"]
    assert [(v["context"], v["value"]) for v in end] == [("Transaction.End", "3104")]
    assert _history(rig) == [("Local", 3_104.0)]
    assert rig.store.outbox() == []


def test_meter_values_queued_before_a_held_stop_still_go_first(rig: Rig) -> None:
    """§3.7: transaction messages in order. Offline, samples were queued; the held Stop
    behind them does not stop them, and it goes only once its reading is in."""
    rig.cp.settings.change("MeterValueSampleInterval", "10")
    _start(rig)
    rig.disconnect()
    rig.advance(25)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))
    rig.received.clear()
    rig.connect()
    assert rig.sent("MeterValues") and rig.sent("StopTransaction") == []
    _answer_read(rig, 0.0)
    assert rig.actions()[-1] == "StopTransaction"
    assert rig.actions().count("StopTransaction") == 1


def test_a_crash_before_the_stop_reading_keeps_reason_and_id_tag(rig: Rig) -> None:
    """The process dies between the stop and its reading: the held Stop goes after the restart
    with its own reason and idTag (not PowerLoss), once, with the register read then."""
    rig.registers[1] = 5_000.0
    _start(rig)
    rig.meter(5_020.0)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))
    rig.restart("boot-2")  # nothing was sent: the read never answered
    assert rig.sent("StopTransaction") == []
    rig.answer_reads = True
    rig.registers[1] = 5_026.0
    rig.restart("boot-3")  # the register is read at this start
    rig.connect()
    rig.advance(2)
    [stop] = rig.sent("StopTransaction")
    assert (stop["reason"], stop["idTag"], stop["meterStop"]) == ("Local", "04A1B2C3D4", 5_026)
    assert _history(rig) == [("Local", 5_026.0)]
    assert rig.store.outbox() == []


def test_after_a_crash_an_implausible_register_leaves_the_queued_meter_stop(rig: Rig) -> None:
    """The register read at the restart went backwards (a replaced meter): the Stop keeps the
    reading it was queued with (meter_check's rule, as for a PowerLoss stop)."""
    rig.registers[1] = 5_000.0
    _start(rig)
    rig.meter(5_020.0)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))
    rig.answer_reads = True
    rig.registers[1] = 12.0
    rig.restart("boot-2")
    rig.connect()
    rig.advance(2)
    [stop] = rig.sent("StopTransaction")
    assert (stop["reason"], stop["meterStop"]) == ("Local", 5_020)


def test_after_a_crash_a_silent_meter_releases_the_stop_within_the_bound(rig: Rig) -> None:
    rig.registers[1] = 5_000.0
    _start(rig)
    rig.meter(5_020.0)
    rig.answer_reads = False
    rig.event(CardPresented("1", "04A1B2C3D4"))
    rig.restart("boot-2")
    rig.connect()
    assert rig.sent("StopTransaction") == []
    rig.advance(1.0)
    [stop] = rig.sent("StopTransaction")
    assert (stop["reason"], stop["meterStop"]) == ("Local", 5_020)
