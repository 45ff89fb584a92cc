"""A simulated EV and EVSE controller for tests and the bench (`driver = "sim"`)."""

from __future__ import annotations

import threading
import time

from hw.errors import EvseError
from hw.events import EvseFault, EvseStatus, PilotState
from hw.evse.base import MIN_CURRENT_A, OfferedCurrent
from hw.interfaces import Clock


class SimVehicle:
    """An EV on the end of the cable: plug it, let it ask for charge, and it draws what the
    pilot offers - never more (IEC 61851-1 Annex A: the PWM duty is the EV's limit).

    Pilot (Annex A, Table A.3): A unplugged; B plugged and not charging; C charging (D if it
    needs ventilation). An EV only closes S2 (B -> C) while a current of at least 6 A is
    offered and it wants charge. `draw_a` is min(offered, `max_draw_a`) in C/D, else 0.
    `short_pilot()` models a pilot shorted to PE (state E).
    """

    def __init__(
        self, *, max_draw_a: float = 32.0, phases: int = 1, ventilation: bool = False
    ) -> None:
        if phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, not {phases}")
        self.max_draw_a = max_draw_a
        self.phases = phases
        self.ventilation = ventilation
        self._lock = threading.Lock()
        self.plugged = False
        self.wants_charge = False
        self.shorted = False
        self.offered_a = 0.0

    def plug(self, *, wants_charge: bool = True) -> None:
        with self._lock:
            self.plugged = True
            self.wants_charge = wants_charge

    def unplug(self) -> None:
        with self._lock:
            self.plugged = False
            self.wants_charge = False

    def request_charge(self, wants: bool = True) -> None:
        """The EV asks for charge (closes S2 once offered) or is full / paused (opens S2)."""
        with self._lock:
            self.wants_charge = wants

    def short_pilot(self, shorted: bool = True) -> None:
        with self._lock:
            self.shorted = shorted

    def offer(self, amps: float) -> None:
        """What the EVSE's pilot offers now (0 = no PWM)."""
        with self._lock:
            self.offered_a = amps

    @property
    def pilot(self) -> PilotState:
        with self._lock:
            if self.shorted:
                return PilotState.E
            if not self.plugged:
                return PilotState.A
            if self.wants_charge and self.offered_a >= MIN_CURRENT_A:
                return PilotState.D if self.ventilation else PilotState.C
            return PilotState.B

    @property
    def draw_a(self) -> float:
        """Current per phase the EV draws now."""
        if self.pilot not in (PilotState.C, PilotState.D):
            return 0.0
        with self._lock:
            return min(self.offered_a, self.max_draw_a)

    def power_w(self, voltage_v: float = 230.0) -> float:
        return self.draw_a * voltage_v * self.phases


class VehicleHandles:
    """The bench's (`cpagent ctl`) handles on a simulated pilot's `vehicle`: plug, unplug,
    ask for charge or not (S2). Shared by SimEvse and the mock-pin pwm circuit."""

    vehicle: SimVehicle

    def plug(self, *, wants_charge: bool = True) -> None:
        self.vehicle.plug(wants_charge=wants_charge)

    def unplug(self) -> None:
        self.vehicle.unplug()

    def request_charge(self, wants: bool = True) -> None:
        self.vehicle.request_charge(wants)


class SimEvse(VehicleHandles):
    """An EvseController + FaultInjectable twin: the pilot of `vehicle`, no hardware.

    `inject_fault(code)` takes an EvseFault value ("ResidualCurrent", "StuckRelay", ...) and
    latches 0 A like a real controller; `clear_fault()` ends it. A shorted pilot (state E)
    reads as EvseFault.PILOT_SHORT. `plug()`, `unplug()`, `request_charge()` are the bench's
    (`cpagent ctl`) handles on the vehicle.
    """

    def __init__(
        self,
        *,
        max_current_a: float = 16.0,
        vehicle: SimVehicle | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.vehicle = vehicle or SimVehicle()
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: set[EvseFault] = set()
        self._closed = False
        self._current = OfferedCurrent(max_current_a, self._write, step_a=0.1)
        self._current.reassert()

    def _write(self, amps: float) -> None:
        if self._closed:
            raise EvseError("simulated EVSE is closed")
        self.vehicle.offer(0.0 if self._faults else amps)

    @property
    def offered_current_a(self) -> float:
        return self._current.amps

    def set_current_a(self, amps: float) -> None:
        with self._lock:
            self._current.set(amps)

    def read_status(self) -> EvseStatus:
        with self._lock:
            if self._closed:
                raise EvseError("simulated EVSE is closed")
            faults = set(self._faults)
            pilot = self.vehicle.pilot
            if pilot is PilotState.E:
                faults.add(EvseFault.PILOT_SHORT)
            if faults:
                self._current.latch_off()
            return EvseStatus(self._clock(), pilot, frozenset(faults), self.vehicle.offered_a)

    def inject_fault(self, code: str | None = None) -> None:
        fault = EvseFault(code or EvseFault.RESIDUAL_CURRENT.value)  # ValueError if unknown
        with self._lock:
            self._faults.add(fault)
            self._current.latch_off()

    def clear_fault(self) -> None:
        with self._lock:
            self._faults.clear()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._current.set(0)
            self._closed = True
