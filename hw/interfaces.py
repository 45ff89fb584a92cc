"""Small typing.Protocols for each hardware capability; real drivers and sim twins satisfy them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from hw.events import MeterSample

Post = Callable[[object], None]
"""Callback a driver calls, from any thread, with an event from `hw.events`."""

Clock = Callable[[], float]
"""Seconds on a monotonic clock (time.monotonic by default; injected in tests)."""


@runtime_checkable
class RelayOutput(Protocol):
    """A contactor relay. Starts de-energised; energise/de_energise are idempotent."""

    @property
    def energised(self) -> bool: ...

    def energise(self) -> None: ...

    def de_energise(self) -> None: ...

    def close(self) -> None:
        """De-energise, then release the pin; idempotent."""
        ...


@runtime_checkable
class EnergyMeter(Protocol):
    """An energy meter read on demand."""

    def read(self) -> MeterSample:
        """Blocking read; raises hw.errors.MeterError on failure."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class CurrentLimiter(Protocol):
    """Offers the EV a maximum current (a PWM pilot later); None means no limit offered."""

    def set_limit_a(self, amps: float | None) -> None: ...


@runtime_checkable
class PlugInput(Protocol):
    """The plug-present input; posts PlugChanged when it changes."""

    @property
    def plugged(self) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class CardReader(Protocol):
    """A card reader with its own thread; posts CardPresented, DeviceFaulted, DeviceRecovered."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 2.0) -> None: ...


@runtime_checkable
class FaultInjectable(Protocol):
    """A simulated device whose faults the bench can switch on and off."""

    def inject_fault(self, code: str) -> None: ...

    def clear_fault(self) -> None: ...
