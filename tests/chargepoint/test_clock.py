"""The wall clock: time only moves forward within a transaction; steps apply between them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.clock import WallClock, from_wire, to_wire
from hw.events import CardPresented, PlugChanged

from .rig import WALL0, Rig

DAY = 86400.0


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.store.close()


def clock_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "cpagent.chargepoint.clock"
    ]


# (in_transaction at the second currentTime, wall at mono 200 right after it, after settle)
CASES = [
    (False, WALL0 + DAY + 200, WALL0 + DAY + 200),  # between transactions: a step at once
    (True, WALL0 + 200, WALL0 + DAY + 200),  # in a transaction: held, applied at the end
]


@pytest.mark.parametrize(("busy", "during", "after"), CASES)
def test_a_step_applies_between_transactions_only(
    busy: bool, during: float, after: float, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cpagent.chargepoint.clock")
    clock = WallClock()
    clock.set(WALL0 + 100, 100.0)  # the first currentTime always applies
    clock.set(WALL0 + DAY + 150, 150.0, in_transaction=busy)
    assert clock.wall(200.0) == during
    clock.set(WALL0 + DAY + 160, 160.0, in_transaction=busy)  # the next Heartbeat agrees
    clock.settle(in_transaction=busy)
    assert clock.wall(200.0) == during
    clock.settle(in_transaction=False)
    assert clock.wall(200.0) == after
    lines = clock_lines(caplog)
    assert lines[0][0] == logging.INFO and "clock set" in lines[0][1]
    steps = [m for _, m in lines if "stepped by +86400.0 s" in m]
    holds = [m for _, m in lines if "during a transaction" in m]
    assert len(steps) == 1 and len(holds) == (1 if busy else 0)  # each logged once


def test_a_backward_step_is_a_warning_and_jitter_is_silent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "cpagent.chargepoint.clock")
    clock = WallClock()
    clock.set(WALL0, 0.0)
    clock.set(WALL0 + 10.3, 10.0)  # 0.3 s of network delay: applied, not worth a line
    assert clock.wall(10.0) == WALL0 + 10.3
    clock.set(WALL0 + 20 - 3600, 20.0)
    assert clock.wall(20.0) == WALL0 + 20 - 3600
    assert [lvl for lvl, _ in clock_lines(caplog)] == [logging.INFO, logging.WARNING]


def test_a_heartbeat_a_day_ahead_mid_transaction_moves_none_of_its_stamps(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "cpagent.chargepoint.clock")
    rig.connect()
    rig.clear()
    rig.meter(1000.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    started = rig.now
    rig.advance(13)
    # the central system's clock steps a day ahead
    rig.script["Heartbeat"] = lambda p: {"currentTime": to_wire(WALL0 + rig.now + DAY)}
    assert rig.answer("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    assert rig.sent("Heartbeat") == [{}]
    rig.meter(1200.0)
    rig.advance(60)  # MeterValueSampleInterval: a sample after the Heartbeat answer
    rig.event(CardPresented("1", "CAFE01"))  # stop, 73 s after the start
    stopped = rig.now
    start = from_wire(rig.sent("StartTransaction")[0]["timestamp"])
    stop = from_wire(rig.sent("StopTransaction")[0]["timestamp"])
    samples = [
        from_wire(v["timestamp"]) for mv in rig.sent("MeterValues") for v in mv["meterValue"]
    ]
    assert start == pytest.approx(WALL0 + started, abs=0.01)
    assert stop - start == pytest.approx(stopped - started, abs=0.01)  # 73 s, not a day
    assert samples and all(start <= t <= stop for t in samples)
    # the transaction is over: the held step applies now, for what comes next
    assert rig.cp.wall(rig.now) == pytest.approx(WALL0 + rig.now + DAY, abs=0.01)
    rig.event(PlugChanged("1", False))
    available = [p for p in rig.sent("StatusNotification") if p["status"] == "Available"][-1]
    assert from_wire(available["timestamp"]) == pytest.approx(WALL0 + rig.now + DAY, abs=0.01)
    messages = [m for _, m in clock_lines(caplog)]
    assert sum("during a transaction" in m for m in messages) == 1
    assert sum("stepped by +86400.0 s" in m for m in messages) == 1
