"""Small typing.Protocols for each hardware capability; real drivers and sim twins satisfy them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from hw.events import EvseStatus, MeterSample

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


@runtime_checkable
class EvseController(Protocol):
    """An EVSE controller driving one connector's control pilot (IEC 61851-1 Annex A).

    Safety contract of every driver: it offers 0 A from construction on, on `close()`, and
    as soon as it sees a controller fault (latched: the owner must set a current again).
    """

    @property
    def offered_current_a(self) -> float:
        """What the driver last asked the controller to offer (0: charging disabled)."""
        ...

    def set_current_a(self, amps: float) -> None:
        """Offer `amps` to the EV: 0 disables; 6-80 A (IEC 61851-1 Table A.8), capped at the
        driver's `max_current_a`; anything else raises ValueError. Raises EvseError when the
        controller cannot be reached (the driver retries at the next read)."""
        ...

    def read_status(self) -> EvseStatus:
        """Blocking read of pilot state, faults and offered current; raises EvseError."""
        ...

    def close(self) -> None:
        """Offer 0 A, then release the port or pins; idempotent."""
        ...
