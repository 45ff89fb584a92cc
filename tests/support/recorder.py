"""A `post` callback that records events and lets a test wait for them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tests.support.net import wait_until

E = TypeVar("E")


class EventRecorder:
    """Pass `recorder.post` to a transport or driver; then wait on what it posted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[object] = []

    def post(self, event: object) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[object]:
        with self._lock:
            return list(self._events)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def wait_for(
        self,
        kind: type[E],
        predicate: Callable[[E], Any] = lambda _e: True,
        timeout: float = 5.0,
        count: int = 1,
    ) -> E:
        """Wait until `count` events of `kind` matching `predicate` were posted; the last."""

        def matching() -> list[E]:
            return [e for e in self.of(kind) if predicate(e)]

        wait_until(
            lambda: len(matching()) >= count,
            timeout,
            f"{count} x {kind.__name__} (got {self.events})",
        )
        return matching()[count - 1]
