"""A simulated EVSE-DIN board with its EV: one unit on the simulated RTU bus (hw.rtu_twin)."""

from __future__ import annotations

import threading
from typing import Any

from hw.evse import evse_din_registers as regs
from hw.evse.sim import SimVehicle


class EvseDinTwin:
    """Serves the EVSE-DIN holding registers 1000-1007 and 2000-2017 as unit `unit`.

    Behaves as the datasheet describes: 1000 accepts 0 or min (2002)..80 A (else exception 03,
    illegal data value), read-only registers refuse writes, 1002/1001/1006 follow the vehicle
    (`vehicle`: plug, request charge, draws the offered current), `reboot()` copies 2000 into
    1000 as the board does at power-up, `inject_fault(bits)` sets 1007 bits and state 5.
    `hundredths=True` models firmware >= 17 with register 2005 bit 7 set. 1006 is 1 (steady
    12 V, no vehicle), 2 (PWM: a vehicle and 1000 >= 2002) or 3 (off: 1000 = 0, or a failure).
    `status_register=False` models older firmware (a SimpleEVSE at firmware 10): it has no
    1007 and does not answer a read that includes it (esphome-evse-wallbox issue #12).
    """

    def __init__(
        self,
        *,
        unit: int = 2,
        firmware: int = 18,
        boot_current_a: int = 32,
        min_current_a: int = 6,
        hundredths: bool = False,
        vehicle: SimVehicle | None = None,
        status_register: bool = True,
    ) -> None:
        self.unit = unit
        self.status_register = status_register
        self.vehicle = vehicle or SimVehicle()
        self.scale = 100 if hundredths else 1
        self._lock = threading.Lock()
        self._fault_bits = 0
        self.requests = 0
        self.writes: list[int] = []  # values written to 1000, in order
        self._regs: dict[int, int] = {r.address: 0 for r in regs.REGISTERS}
        self._regs.update(
            {
                1005: firmware,
                1003: 32,
                2000: boot_current_a * self.scale,
                2001: 1,
                2002: min_current_a,
                2005: (regs.HUNDREDTHS_BIT if hundredths else 0) | 8192,
            }
        )
        self.reboot()

    @property
    def configured_a(self) -> float:
        with self._lock:
            return self._regs[1000] / self.scale

    def reboot(self) -> None:
        """Power-cycle the board: register 1000 starts at register 2000's value."""
        with self._lock:
            self._regs[1000] = self._regs[2000]

    def inject_fault(self, bits: int) -> None:
        """Set register 1007 fault bits (e.g. 1 << 5 RCD check error) and state 5."""
        with self._lock:
            self._fault_bits = bits

    def clear_fault(self) -> None:
        with self._lock:
            self._fault_bits = 0

    def _refresh(self) -> None:
        offered = self._regs[1000] / self.scale
        failed = bool(self._fault_bits)
        self.vehicle.offer(0.0 if failed else offered)
        if failed:
            state = regs.FAILURE_STATE
        else:
            state = {"A": 1, "B": 2, "C": 3, "D": 4}.get(self.vehicle.pilot.value, 5)
        self._regs[1002] = state
        self._regs[1001] = round(self.vehicle.offered_a * self.scale)
        if failed or offered < regs_min(self._regs):
            self._regs[1006] = 3  # off: steady 12 V
        else:  # PWM only towards a vehicle
            self._regs[1006] = 1 if self.vehicle.pilot.value == "A" else 2
        relay = 1 if self.vehicle.draw_a > 0 else 0
        self._regs[1007] = self._fault_bits | relay

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: Any,
    ) -> Any:
        from pymodbus.constants import ExcCodes

        with self._lock:
            self.requests += 1
            if set_values:
                for offset, value in enumerate(set_values):
                    target = address + offset
                    if target == regs.CURRENT:
                        amps = value / self.scale
                        if value != 0 and not regs_min(self._regs) <= amps <= 80:
                            return ExcCodes.ILLEGAL_VALUE
                        self.writes.append(value)
                    else:
                        known = regs.BY_ADDRESS.get(target)
                        if known is None or not known.writable:
                            return ExcCodes.ILLEGAL_ADDRESS
                    self._regs[target] = int(value)
            self._refresh()
            for reg_address, word in self._regs.items():
                index = reg_address - start_address
                if 0 <= index < len(current_registers):
                    current_registers[index] = word
            if set_values:  # what is written is what we decided, not pymodbus
                set_values[:] = [self._regs[address + i] for i in range(len(set_values))]
        return None

    def ignores(self, pdu: Any) -> bool:
        """Stay silent on a read that includes 1007 when the firmware has no such register."""
        if self.status_register or getattr(pdu, "function_code", None) != 3:
            return False
        start, count = int(pdu.address), int(getattr(pdu, "count", 1))
        if start <= regs.STATUS_BITS < start + count:
            with self._lock:
                self.requests += 1
            return True
        return False

    def sim_device(self) -> Any:
        from pymodbus.simulator import DataType, SimData, SimDevice

        return SimDevice(
            id=self.unit,
            simdata=[
                SimData(1000, count=8, values=0, datatype=DataType.REGISTERS),
                SimData(2000, count=18, values=0, datatype=DataType.REGISTERS),
            ],
            action=self._action,
        )


def regs_min(words: dict[int, int]) -> int:
    """The board's minimum current (register 2002)."""
    return words[2002]
