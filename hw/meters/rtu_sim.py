"""A simulated Eastron meter: pymodbus's RTU server on a pseudo-terminal, for bench and tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import struct
import threading
import tty
from typing import Any

from hw.meters.registers import Measurand, RegisterMap, register_map


class PtyLink:
    """Two pseudo-terminals joined by a copying thread: a serial cable with two device paths.

    `unplug()` makes the cable drop every byte (a meter pulled off the bus); `replug()` heals it.
    `corrupt_replies(n)` flips a bit in the next n chunks going to the `b` side (CRC errors).
    """

    def __init__(self) -> None:
        self._m_a, self._s_a = os.openpty()
        self._m_b, self._s_b = os.openpty()
        for fd in (self._s_a, self._s_b):
            tty.setraw(fd)
        self.path_a = os.ttyname(self._s_a)
        self.path_b = os.ttyname(self._s_b)
        self.connected = True
        self._corrupt = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-link", daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        self.connected = False

    def replug(self) -> None:
        self.connected = True

    def corrupt_replies(self, count: int) -> None:
        self._corrupt = count

    def _run(self) -> None:
        peer = {self._m_a: self._m_b, self._m_b: self._m_a}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(peer), [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue  # no side has the slave open right now
                if not self.connected:
                    continue
                if fd == self._m_a and self._corrupt > 0:
                    self._corrupt -= 1
                    data = bytes([data[0] ^ 0x01]) + data[1:]
                with contextlib.suppress(OSError):
                    os.write(peer[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._m_a, self._s_a, self._m_b, self._s_b):
            with contextlib.suppress(OSError):
                os.close(fd)


def float_words(value: float) -> tuple[int, int]:
    """Two registers holding `value` as IEEE-754 float32, high word first."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


class RtuMeterSimulator:
    """Serves an SDM register map over Modbus RTU; the driver reads `port` (a pty path).

    Set what the meter shows with `set(voltage_v=..., current_a=..., power_w=...,
    energy_wh=..., frequency_hz=...)`. `requests` counts the requests it answered.
    """

    def __init__(self, model: str = "SDM630", *, unit: int = 1, baudrate: int = 9600) -> None:
        self.regmap: RegisterMap = register_map(model)
        self.unit = unit
        self.baudrate = baudrate
        self.requests = 0
        self._words: dict[int, int] = {}
        self._lock = threading.Lock()
        self.link = PtyLink()
        self.port = self.link.path_b
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
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

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        from pymodbus.server import ModbusSerialServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        device = SimDevice(
            id=self.unit,
            simdata=[SimData(0, count=0x200, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            self._server = ModbusSerialServer(
                device, port=self.link.path_a, baudrate=self.baudrate, timeout=0.1
            )
            if await self._server.listen():
                ready.set()
            await self._server.serving

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="rtu-meter-sim", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("simulated meter did not start")

    def stop_server(self) -> None:
        """Stop answering (the meter loses power); `start()` brings it back on the same port."""
        if self._loop is not None and self._server is not None and self._thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(5)
            self._thread.join(timeout=5)
        self._thread = None
        self._server = None
        self._loop = None

    def stop(self) -> None:
        """Stop the server and close both pseudo-terminals."""
        self.stop_server()
        self.link.close()

    def __enter__(self) -> RtuMeterSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
