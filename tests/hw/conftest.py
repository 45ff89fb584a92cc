"""Fixtures for the hardware tests: a fresh gpiozero MockFactory and an event collector."""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from hw.evse.pilot_sim import SimClock


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pin_factory = MockFactory()
    yield pin_factory
    pin_factory.reset()


class Events:
    """Collects posted events from any thread; `wait_for` polls with a deadline."""

    def __init__(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self.seen: list[object] = []

    def post(self, event: object) -> None:
        self._queue.put(event)

    def _drain(self) -> None:
        while True:
            try:
                self.seen.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def of(self, kind: type) -> list:
        self._drain()
        return [e for e in self.seen if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[list[object]], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            if predicate(self.seen):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(queue.Empty):
                self.seen.append(self._queue.get(timeout=min(remaining, 0.05)))


@pytest.fixture
def events() -> Events:
    return Events()


class FakeClock(SimClock):
    """A settable monotonic clock, starting well above 0 (as time.monotonic does)."""

    def __init__(self, start: float = 1000.0) -> None:
        super().__init__(start)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
