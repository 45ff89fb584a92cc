"""Simulated energy meter for the bench: energy integrated from the relay state and an EV load."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from hw.errors import MeterError
from hw.events import FaultCode, MeterSample
from hw.interfaces import Clock, RelayOutput


class CurrentCap(Protocol):
    """Anything with the current (A) the simulated EV may draw now (None: no cap): a
    SimCurrentLimiter, or a simulated vehicle behind an EVSE's pilot."""

    @property
    def limit_a(self) -> float | None: ...


class SimMeter:
    """An EnergyMeter whose EV draws `load_w` while `relay` is energised.

    Like a real EV behind a pilot (IEC 61851-1 Annex A), it never draws more current per
    phase than the connector's `max_current_a`, nor than `limiter.limit_a` when one is given
    (a smart-charging limit, or the current an EVSE offers): power is at most that current
    x `voltage_v` x `phases`, whatever `load_w` asks for. Energy is integrated at each read
    over the time since the previous read, with the power in effect at that read (poll often
    on the bench). `inject_fault(code)` makes reads raise MeterError with that code until
    `clear_fault()`. Without a relay the load is drawn all the time.
    """

    def __init__(
        self,
        relay: RelayOutput | None = None,
        *,
        load_w: float = 7400.0,
        phases: int = 1,
        voltage_v: float = 230.0,
        frequency_hz: float = 50.0,
        energy_wh: float = 0.0,
        limiter: CurrentCap | None = None,
        max_current_a: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, not {phases}")
        if max_current_a is not None and not max_current_a > 0:
            raise ValueError(f"max_current_a must be more than 0, not {max_current_a}")
        self._relay = relay
        self._limiter = limiter
        self._max_current_a = max_current_a
        self._phases = phases
        self._voltage_v = voltage_v
        self._frequency_hz = frequency_hz
        self._clock = clock
        self._lock = threading.Lock()
        self.load_w = load_w
        self.energy_wh = energy_wh
        self._last_t = clock()
        self._fault: str | None = None

    def set_load_w(self, watts: float) -> None:
        with self._lock:
            self._integrate()
            self.load_w = watts

    def power_w(self) -> float:
        if self._relay is not None and not self._relay.energised:
            return 0.0
        caps = [self._max_current_a, self._limiter.limit_a if self._limiter else None]
        amps = min((a for a in caps if a is not None), default=None)
        power = self.load_w
        if amps is not None:
            power = min(power, amps * self._voltage_v * self._phases)
        return max(power, 0.0)

    def _integrate(self) -> float:
        now = self._clock()
        power = self.power_w()
        self.energy_wh += power * max(now - self._last_t, 0.0) / 3600.0
        self._last_t = now
        return power

    def read(self) -> MeterSample:
        with self._lock:
            power = self._integrate()
            if self._fault is not None:
                raise MeterError(f"simulated meter fault {self._fault}", code=self._fault)
            amps = power / (self._voltage_v * self._phases)
            return MeterSample(
                timestamp=self._last_t,
                energy_wh=self.energy_wh,
                power_w=power,
                voltage_v=(self._voltage_v,) * self._phases,
                current_a=(amps,) * self._phases,
                frequency_hz=self._frequency_hz,
            )

    def inject_fault(self, code: str = FaultCode.POWER_METER_FAILURE.value) -> None:
        with self._lock:
            self._fault = code

    def clear_fault(self) -> None:
        with self._lock:
            self._fault = None

    def close(self) -> None:
        return None
