"""Simulated relay and current limiter for the bench (`driver = "sim"`), with fault injection."""

from __future__ import annotations

import threading

from hw.events import DeviceFaulted, DeviceRecovered, FaultCode
from hw.interfaces import Post
from hw.relay import SwitchRule


class PostedFault:
    """Fault injection for a sim twin: `inject_fault` posts DeviceFaulted once, `clear_fault`
    posts DeviceRecovered once. The twin provides `_lock`, `_fault`, `_post` and `_source`."""

    DEFAULT_FAULT: str
    _lock: threading.Lock | threading.RLock
    _fault: str | None
    _post: Post
    _source: str

    def inject_fault(self, code: str | None = None) -> None:
        code = code or self.DEFAULT_FAULT
        with self._lock:
            if self._fault is not None:
                return
            self._fault = code
        self._post(DeviceFaulted(self._source, code, "injected fault"))

    def clear_fault(self) -> None:
        with self._lock:
            if self._fault is None:
                return
            self._fault = None
        self._post(DeviceRecovered(self._source))


class SimRelay(PostedFault, SwitchRule):
    """A RelayOutput twin without GPIO. An injected fault posts DeviceFaulted and, like a
    welded contact, leaves the relay state where it was until `clear_fault()`."""

    DEFAULT_FAULT = FaultCode.POWER_SWITCH_FAILURE.value

    def __init__(self, *, post: Post, source: str = "relay") -> None:
        self._post = post
        self._source = source
        self._lock = threading.Lock()
        self._energised = False
        self._closed = False
        self._fault: str | None = None
        self.switches = 0

    @property
    def energised(self) -> bool:
        with self._lock:
            return self._energised

    def _holds(self) -> bool:
        return self._fault is not None  # welded: the state stays until clear_fault()

    def _is_on(self) -> bool:
        return self._energised

    def _set(self, on: bool) -> None:
        self._energised = on
        self.switches += 1

    def close(self) -> None:
        with self._lock:
            self._energised = False
            self._closed = True


class SimCurrentLimiter:
    """A CurrentLimiter that remembers the offered limit (None = no limit offered)."""

    def __init__(self) -> None:
        self.limit_a: float | None = None
        self.history: list[float | None] = []

    def set_limit_a(self, amps: float | None) -> None:
        if amps is not None and amps < 0:
            raise ValueError(f"a current limit cannot be negative: {amps}")
        self.limit_a = amps
        self.history.append(amps)
