"""A simulated Eastron meter: a unit on the simulated RTU bus (hw.rtu_twin), for bench and tests."""

from __future__ import annotations

import struct
import threading
from typing import Any

from hw.meters.registers import Measurand, RegisterMap, register_map
from hw.rtu_twin import PtyLink, RtuBusSimulator

__all__ = ["PtyLink", "RtuMeterSimulator", "SdmTwin", "float_words"]


def float_words(value: float) -> tuple[int, int]:
    """Two registers holding `value` as IEEE-754 float32, high word first."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


class SdmTwin:
    """An SDM register map served as one unit of an RtuBusSimulator (a meter on a shared bus).

    Set what the meter shows with `set(voltage_v=..., current_a=..., power_w=...,
    energy_wh=..., frequency_hz=...)`. `requests` counts the requests it answered.
    """

    def __init__(self, model: str = "SDM630", *, unit: int = 1) -> None:
        self.regmap: RegisterMap = register_map(model)
        self.unit = unit
        self.requests = 0
        self._words: dict[int, int] = {}
        self._lock = threading.Lock()
        self.set(voltage_v=230.0, current_a=0.0, power_w=0.0, energy_wh=0.0, frequency_hz=50.0)

    def set(
        self,
        *,
        voltage_v: float | None = None,
        current_a: float | None = None,
        power_w: float | None = None,
        energy_wh: float | None = None,
        frequency_hz: float | None = None,
    ) -> None:
        given = {
            Measurand.VOLTAGE: voltage_v,
            Measurand.CURRENT: current_a,
            Measurand.POWER: power_w,
            Measurand.FREQUENCY: frequency_hz,
            Measurand.ENERGY_IMPORT: None if energy_wh is None else energy_wh / 1000.0,
        }
        with self._lock:
            for reg in self.regmap.registers:
                value = given[reg.measurand]
                if value is not None:
                    # Per-phase values get a small per-phase offset so phases are tellable apart.
                    shown = value + (reg.phase - 1) * 0.5 if reg.phase and value else value
                    high, low = float_words(shown)
                    self._words[reg.address] = high
                    self._words[reg.address + 1] = low

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: Any,
    ) -> None:
        self.requests += 1
        with self._lock:
            for reg_address, word in self._words.items():
                index = reg_address - start_address
                if 0 <= index < len(current_registers):
                    current_registers[index] = word

    def sim_device(self) -> Any:
        from pymodbus.simulator import DataType, SimData, SimDevice

        return SimDevice(
            id=self.unit,
            simdata=[SimData(0, count=0x200, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )


class RtuMeterSimulator:
    """One simulated SDM alone on a pty bus; the driver reads `port` (a pty path).

    `set(...)` and `requests` are the SdmTwin's; `link` is the pty cable; `start()`,
    `stop_server()` (meter loses power) and `stop()` as RtuBusSimulator.
    """

    def __init__(self, model: str = "SDM630", *, unit: int = 1, baudrate: int = 9600) -> None:
        self.twin = SdmTwin(model, unit=unit)
        self.regmap = self.twin.regmap
        self.unit = unit
        self.baudrate = baudrate
        self.bus = RtuBusSimulator([self.twin], baudrate=baudrate)
        self.link = self.bus.link
        self.port = self.bus.port
        self.set = self.twin.set

    @property
    def requests(self) -> int:
        return self.twin.requests

    def start(self) -> None:
        self.bus.start()

    def stop_server(self) -> None:
        self.bus.stop_server()

    def stop(self) -> None:
        self.bus.stop()

    def __enter__(self) -> RtuMeterSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
