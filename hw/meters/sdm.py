"""Eastron SDM energy meters over Modbus RTU (pymodbus serial client): one sample in few reads."""

from __future__ import annotations

import math
import struct
import threading
import time
from collections.abc import Sequence

from hw.errors import MeterError
from hw.events import MeterSample
from hw.interfaces import Clock
from hw.meters.registers import (
    MAX_REGISTERS_PER_READ,
    Block,
    Measurand,
    RegisterMap,
    plan_blocks,
    register_map,
)
from hw.modbus_bus import BusError, BusSettings, ModbusBus


def decode_float32(high: int, low: int) -> float:
    """IEEE-754 single precision from two registers, high word first (Eastron word order)."""
    value: float = struct.unpack(">f", struct.pack(">HH", high, low))[0]
    return value


def decode_sample(
    regmap: RegisterMap, reads: Sequence[tuple[Block, Sequence[int]]], timestamp: float
) -> MeterSample:
    """Turn the register words of each planned block into a MeterSample (energy in Wh)."""
    volts = [math.nan] * regmap.phases
    amps = [math.nan] * regmap.phases
    values: dict[Measurand, float] = {}
    for block, words in reads:
        if len(words) < block.count:
            raise MeterError(f"short reply: {len(words)} of {block.count} registers")
        for reg in block.registers:
            offset = reg.address - block.start
            value = decode_float32(words[offset], words[offset + 1])
            if not math.isfinite(value):
                raise MeterError(f"register 0x{reg.address:04X} holds {value}")
            if reg.unit == "kWh":
                value *= 1000.0
            if reg.phase is not None and reg.measurand is Measurand.VOLTAGE:
                volts[reg.phase - 1] = value
            elif reg.phase is not None and reg.measurand is Measurand.CURRENT:
                amps[reg.phase - 1] = value
            else:
                values[reg.measurand] = value
    return MeterSample(
        timestamp=timestamp,
        energy_wh=values[Measurand.ENERGY_IMPORT],
        power_w=values[Measurand.POWER],
        voltage_v=tuple(volts),
        current_a=tuple(amps),
        frequency_hz=values.get(Measurand.FREQUENCY),
    )


class SdmMeter:
    """An EnergyMeter for an Eastron SDM630 / SDM120 / SDM72 on a serial Modbus RTU line.

    A read is `requests_per_sample` bulk reads (1 for the built-in maps) on `bus`, the port's
    shared hw.modbus_bus.ModbusBus (several meters and EVSE controllers on one RS-485 line);
    without one the meter opens a private bus on `port`. A silent or corrupt (CRC) reply is
    retried `retries` times, `timeout` seconds each; after that read() raises MeterError. The
    import register is reported as read: a value lower than the last one is counted in
    `energy_regressions`, not hidden (a clamped value would turn one corrupt high reading
    into the floor for every later one); judging plausibility is the chargepoint's job.
    """

    def __init__(
        self,
        model: str,
        port: str,
        *,
        unit: int = 1,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        timeout: float = 0.5,
        retries: int = 2,
        max_registers: int = MAX_REGISTERS_PER_READ,
        clock: Clock = time.monotonic,
        bus: ModbusBus | None = None,
    ) -> None:
        self.regmap = register_map(model)
        self._blocks = plan_blocks(self.regmap.registers, max_registers)
        self._unit = unit
        self._port = port
        self._clock = clock
        self._lock = threading.Lock()
        self._last_energy_wh: float | None = None
        self.energy_regressions = 0
        self.requests = 0
        self.failures = 0
        self._own_bus = bus is None
        if bus is None:
            # A private bus has no other device to protect: no dead-unit backoff.
            bus = ModbusBus(
                port,
                settings=BusSettings(baudrate, parity, stopbits),
                timeout_s=timeout,
                retries=retries,
                dead_unit_backoff_s=0.0,
            )
        self._bus = bus
        bus.register_unit(unit)

    @property
    def requests_per_sample(self) -> int:
        return len(self._blocks)

    def read(self) -> MeterSample:
        with self._lock:
            reads: list[tuple[Block, Sequence[int]]] = []
            for block in self._blocks:
                reads.append((block, self._read_block(block)))
            sample = decode_sample(self.regmap, reads, self._clock())
            return self._count_regression(sample)

    def _read_block(self, block: Block) -> list[int]:
        self.requests += 1
        try:
            return self._bus.read_input_registers(self._unit, block.start, block.count)
        except BusError as exc:
            self.failures += 1
            raise MeterError(f"{self.regmap.model} unit {self._unit}: {exc}") from exc

    def _count_regression(self, sample: MeterSample) -> MeterSample:
        last = self._last_energy_wh
        if last is not None and sample.energy_wh < last:
            self.energy_regressions += 1
        self._last_energy_wh = sample.energy_wh
        return sample

    def close(self) -> None:
        """Close a private bus; a shared one belongs to its BusRegistry."""
        with self._lock:
            if self._own_bus:
                self._bus.close()
