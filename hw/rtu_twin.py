"""A simulated RS-485 bus: pymodbus's RTU server with several unit ids on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import threading
import time
import tty
from typing import Any, Protocol

# Modbus over Serial Line V1.02 §2.5.1: an RTU character is 11 bits on the wire (start, 8 data,
# parity or a second stop bit, stop).
BITS_PER_CHAR = 11


def char_time_s(baudrate: int, bits_per_char: int = BITS_PER_CHAR) -> float:
    """Seconds one character occupies the line at `baudrate`."""
    return bits_per_char / baudrate


class PtyLink:
    """Two pseudo-terminals joined by a copying thread: a serial cable with two device paths.

    `unplug()` makes the cable drop every byte (a device pulled off the bus); `replug()` heals
    it. `corrupt_replies(n)` flips a bit in the next n chunks going to the `b` side (CRC
    errors). With `char_time_s` > 0 the link paces bytes like a half-duplex RS-485 line: each
    byte is delivered one character time after the previous one in either direction, so a
    driver sees the wire time of a real 9600 baud line.
    """

    def __init__(self, *, char_time_s: float = 0.0) -> None:
        self._m_a, self._s_a = os.openpty()
        self._m_b, self._s_b = os.openpty()
        for fd in (self._s_a, self._s_b):
            tty.setraw(fd)
        self.path_a = os.ttyname(self._s_a)
        self.path_b = os.ttyname(self._s_b)
        self.connected = True
        self.char_time_s = char_time_s
        self.bytes_carried = 0
        self._wire_free = 0.0
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

    def _pace(self, size: int) -> None:
        if self.char_time_s <= 0:
            return
        # The simulated wire, not a test wait: hold the bytes for their time on the line.
        start = max(time.monotonic(), self._wire_free)
        self._wire_free = start + size * self.char_time_s
        delay = self._wire_free - time.monotonic()
        if delay > 0:
            time.sleep(delay)

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
                self._pace(len(data))
                self.bytes_carried += len(data)
                with contextlib.suppress(OSError):
                    os.write(peer[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._m_a, self._s_a, self._m_b, self._s_b):
            with contextlib.suppress(OSError):
                os.close(fd)


class RtuTwin(Protocol):
    """A simulated device on the bus: its unit id and its pymodbus SimDevice."""

    unit: int

    def sim_device(self) -> Any: ...


class RtuBusSimulator:
    """Serves every twin in `twins` (one unit id each) on one pty: drivers open `port`.

    Requests for a unit id nobody serves get no answer at all, as on a real RS-485 bus.
    `stop_server()` powers the whole bus down; `start()` brings it back on the same port.
    """

    def __init__(
        self, twins: list[RtuTwin], *, baudrate: int = 9600, wire_timing: bool = False
    ) -> None:
        units = [twin.unit for twin in twins]
        if len(set(units)) != len(units):
            raise ValueError(f"two twins share a unit id: {units}")
        self.twins = list(twins)
        self.baudrate = baudrate
        self.link = PtyLink(char_time_s=char_time_s(baudrate) if wire_timing else 0.0)
        self.port = self.link.path_b
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        from pymodbus.server import ModbusSerialServer

        devices = [twin.sim_device() for twin in self.twins]
        served = {twin.unit for twin in self.twins}

        def only_served_units(sending: bool, pdu: Any) -> Any:
            # A unit nobody serves stays silent, as on a real bus (pymodbus 3.16's simulator
            # answers "device failure" instead, even with ignore_missing_devices).
            if not sending and pdu.dev_id not in served:
                return None
            if not sending and any(
                twin.unit == pdu.dev_id and _ignores(twin, pdu) for twin in self.twins
            ):
                return None  # a request this device's firmware does not answer
            return pdu

        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            self._server = ModbusSerialServer(
                devices,
                port=self.link.path_a,
                baudrate=self.baudrate,
                timeout=0.1,
                ignore_missing_devices=True,
                trace_pdu=only_served_units,
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

        self._thread = threading.Thread(target=run, name="rtu-bus-sim", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("simulated RTU bus did not start")

    def stop_server(self) -> None:
        """Stop answering (the devices lose power); `start()` brings them back."""
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

    def __enter__(self) -> RtuBusSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _ignores(twin: RtuTwin, pdu: Any) -> bool:
    """Whether `twin` (optionally: an `ignores(pdu)` method) stays silent on this request."""
    ignores = getattr(twin, "ignores", None)
    return bool(ignores(pdu)) if ignores is not None else False
