"""MeterValueSampleInterval / ClockAlignedDataInterval changed by ChangeConfiguration take
effect at once (OCPP 1.6 §9.1.17 / §9.1.7, §5.3), not after the sample already scheduled at
the old interval; StopTxnSampledData / StopTxnAlignedData fill transactionData at those
intervals (§3.16, errata v4 3.14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.tx_readings import MAX_STOP_DATA
from hw.events import CardPresented, PlugChanged

from .rig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, config={"MeterValueSampleInterval": "600"})
    r.connect()
    r.clear()
    yield r
    r.store.close()


def _charge(rig: Rig) -> None:
    rig.meter(1_000.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))


def _contexts(rig: Rig) -> list[str]:
    return [mv["meterValue"][0]["sampledValue"][0]["context"] for mv in rig.sent("MeterValues")]


def test_a_shorter_sample_interval_applies_at_once(rig: Rig) -> None:
    _charge(rig)
    rig.advance(10)
    assert rig.answer("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"}) == {
        "status": "Accepted"
    }
    rig.advance(1.0)
    assert _contexts(rig) == ["Sample.Periodic"]
    rig.advance(3.0)
    assert _contexts(rig) == ["Sample.Periodic"] * 4


def test_a_shorter_clock_aligned_interval_applies_at_once(rig: Rig) -> None:
    rig.answer("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "900"})
    _charge(rig)
    rig.advance(0.2)
    rig.answer("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "1"})
    rig.advance(1.0)
    assert "Sample.Clock" in _contexts(rig)


def test_stop_txn_data_at_the_sample_and_aligned_intervals(rig: Rig) -> None:
    for key, value in (
        ("MeterValueSampleInterval", "10"),
        ("ClockAlignedDataInterval", "15"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
        ("StopTxnAlignedData", "Energy.Active.Import.Register,Voltage"),
    ):
        rig.answer("ChangeConfiguration", {"key": key, "value": value})
    _charge(rig)
    for step in range(6):
        rig.meter(1_000.0 + 10 * step)
        rig.advance(10)
    rig.meter(1_070.0)
    rig.event(CardPresented("1", "CAFE01"))
    [stop] = rig.sent("StopTransaction")
    contexts = [mv["sampledValue"][0]["context"] for mv in stop["transactionData"]]
    assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
    assert contexts.count("Sample.Periodic") == 6
    assert contexts.count("Sample.Clock") == 4  # 60 s at 15 s boundaries
    clock = [
        mv for mv in stop["transactionData"] if mv["sampledValue"][0]["context"] == "Sample.Clock"
    ]
    assert {sv["measurand"] for sv in clock[0]["sampledValue"]} == {
        "Energy.Active.Import.Register",
        "Voltage",
    }


def test_transaction_data_is_bounded_and_keeps_its_span(rig: Rig) -> None:
    for key, value in (
        ("MeterValueSampleInterval", "1"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
    ):
        rig.answer("ChangeConfiguration", {"key": key, "value": value})
    _charge(rig)
    rig.advance(3 * MAX_STOP_DATA)
    rig.event(CardPresented("1", "CAFE01"))
    [stop] = rig.sent("StopTransaction")
    data = stop["transactionData"]
    assert MAX_STOP_DATA // 2 <= len(data) <= MAX_STOP_DATA
    assert data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert data[-1]["sampledValue"][0]["context"] == "Transaction.End"


def test_transaction_data_taken_before_the_clock_was_known_is_stamped(tmp_path: Path) -> None:
    """A transaction started offline before any clock was known, stopped once it is: every
    transactionData entry carries a valid timestamp (§7.29 MeterValue.timestamp required)."""
    rig = Rig(
        tmp_path,
        config={
            "StopTxnSampledData": "Energy.Active.Import.Register",
            "LocalAuthorizeOffline": "true",
            "AllowOfflineTxForUnknownId": "true",
        },
    )
    rig.meter(1_000.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.cp.charging.points[1].tx is not None and not rig.cp.clock.is_set
    rig.connect()  # BootNotification.conf sets the clock
    rig.event(CardPresented("1", "CAFE01"))
    [stop] = rig.sent("StopTransaction")  # the rig validates it against the 1.6 schema
    assert all(mv["timestamp"] for mv in stop["transactionData"])
    rig.store.close()
