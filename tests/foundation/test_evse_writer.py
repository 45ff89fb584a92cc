"""The EVSE writer: the offered current is written off the owner thread, 0 A always last."""

from __future__ import annotations

import threading
import time

from cpagent.daemon.evse_writer import EvseWriter
from hw.evse.sim import SimEvse


class SlowEvse(SimEvse):
    """A controller whose writes take a while (a shared RS-485 bus), gated by the test."""

    def __init__(self) -> None:
        super().__init__(max_current_a=16.0)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def set_current_a(self, amps: float) -> None:
        if amps:
            self.entered.set()
            self.gate.wait(5)
        super().set_current_a(amps)


def _until(check: object) -> None:
    deadline = time.monotonic() + 5
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.001)  # poll interval of a condition wait


def test_offer_returns_at_once_and_the_thread_writes() -> None:
    evse = SlowEvse()
    writer = EvseWriter(evse, "connector1")
    writer.start()
    try:
        writer.offer(10.0)  # returns while the write waits for the bus
        assert evse.entered.wait(5) and evse.offered_current_a == 0.0
        evse.gate.set()
        _until(lambda: evse.offered_current_a == 10.0)
    finally:
        assert writer.stop()


def test_zero_now_wins_over_a_write_in_progress_and_one_pending() -> None:
    evse = SlowEvse()
    writer = EvseWriter(evse, "connector1")
    writer.start()
    try:
        writer.offer(10.0)
        assert evse.entered.wait(5)  # 10 A is being written
        writer.offer(16.0)  # and 16 A waits behind it
        done = threading.Event()
        threading.Thread(target=lambda: (writer.zero_now(), done.set()), daemon=True).start()
        evse.gate.set()
        assert done.wait(5)
        _until(writer.idle)
        assert evse.offered_current_a == 0.0  # 16 A was dropped, 10 A came before 0 A
    finally:
        assert writer.stop()
