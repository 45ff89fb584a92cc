"""One Modbus RTU client per serial port, shared by every device on that RS-485 bus."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hw.errors import ConfigurationError, HardwareError
from hw.interfaces import Clock

Sleep = Callable[[float], None]


class BusError(HardwareError):
    """A request on the bus failed: port missing, no reply after retries, or an exception reply."""


@dataclass(frozen=True, slots=True)
class BusSettings:
    """Line settings of one serial port; two devices on one port must agree on them."""

    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1


@dataclass(slots=True)
class _Unit:
    gap_s: float = 0.0
    failures_in_row: int = 0
    down_until: float = 0.0
    requests: int = 0
    failures: int = 0
    skipped: int = 0


@dataclass(slots=True)
class BusStats:
    """Counters a bench or a status page can show."""

    requests: int = 0
    failures: int = 0
    max_wait_s: float = 0.0  # longest a request waited for the bus (other units' turns)
    units: dict[int, _Unit] = field(default_factory=dict)


class ModbusBus:
    """A pymodbus serial client behind one lock: requests from any thread are serialised.

    Theory of operation: a request waits for the bus lock, then for the quiet gap
    (`gap_s`, or the unit's own `unit_gap_s` if longer) since the end of the previous request,
    then is sent with up to `retries` retries of `timeout_s` each. A unit that failed is
    retried once per request (no retries) and, for a backoff after each failure
    (`dead_unit_backoff_s`, doubling per failure in a row up to `dead_unit_backoff_max_s`), its
    requests fail at once without touching the wire - so a dead device costs the others at
    most one `timeout_s` per backoff window, never a stall, and less the longer it stays dead.
    """

    def __init__(
        self,
        port: str,
        *,
        settings: BusSettings = BusSettings(),
        timeout_s: float = 0.5,
        retries: int = 2,
        gap_s: float = 0.0,
        dead_unit_backoff_s: float = 1.0,
        dead_unit_backoff_max_s: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        from pymodbus.client import ModbusSerialClient

        if timeout_s <= 0 or retries < 0 or gap_s < 0 or dead_unit_backoff_s < 0:
            raise ConfigurationError(
                f"{port}: timeout_s must be > 0 and retries, gap_s, backoff >= 0"
            )
        self.port = port
        self.settings = settings
        self.timeout_s = timeout_s
        self.retries = retries
        self.gap_s = gap_s
        self.dead_unit_backoff_s = dead_unit_backoff_s
        self.dead_unit_backoff_max_s = max(dead_unit_backoff_max_s, dead_unit_backoff_s)
        self.stats = BusStats()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._quiet_since = 0.0
        self._closed = False
        # Retries are ours (per unit), so pymodbus gets retries=0.
        self._client = ModbusSerialClient(
            port=port,
            baudrate=settings.baudrate,
            bytesize=8,
            parity=settings.parity,
            stopbits=settings.stopbits,
            timeout=timeout_s,
            retries=0,
            reconnect_delay=0,  # we reopen on the next request ourselves
        )

    def register_unit(self, unit: int, *, gap_s: float = 0.0) -> None:
        """Declare a device on the bus; `gap_s` is the quiet time it needs before a request."""
        if not 1 <= unit <= 247:
            raise ConfigurationError(f"{self.port}: Modbus unit must be 1-247, not {unit}")
        with self._lock:
            entry = self.stats.units.setdefault(unit, _Unit())
            entry.gap_s = max(entry.gap_s, gap_s)

    def read_input_registers(self, unit: int, address: int, count: int) -> list[int]:
        """Function 04 (Modbus Application Protocol V1.1b3 §6.4)."""
        reply = self._request(unit, "read_input_registers", address, count=count)
        return list(reply.registers)

    def read_holding_registers(self, unit: int, address: int, count: int) -> list[int]:
        """Function 03 (§6.3)."""
        reply = self._request(unit, "read_holding_registers", address, count=count)
        return list(reply.registers)

    def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        """Function 16, write multiple registers (§6.12) - what evcc and EVSE-WiFi send."""
        self._request(unit, "write_registers", address, values=list(values))

    def _request(self, unit: int, method: str, address: int, **kwargs: Any) -> Any:
        asked = self._clock()
        with self._lock:
            if self._closed:
                raise BusError(f"{self.port}: bus is closed")
            waited = self._clock() - asked
            self.stats.max_wait_s = max(self.stats.max_wait_s, waited)
            entry = self.stats.units.setdefault(unit, _Unit())
            now = self._clock()
            if now < entry.down_until:
                entry.skipped += 1
                raise BusError(
                    f"unit {unit} not answering; next try in {entry.down_until - now:.1f} s"
                )
            quiet = max(self.gap_s, entry.gap_s) - (now - self._quiet_since)
            if quiet > 0:
                self._sleep(quiet)
            tries = 1 if entry.failures_in_row else self.retries + 1
            try:
                return self._send(entry, tries, unit, method, address, **kwargs)
            finally:
                self._quiet_since = self._clock()

    def _send(
        self, entry: _Unit, tries: int, unit: int, method: str, address: int, **kwargs: Any
    ) -> Any:
        last: Exception | None = None
        for _ in range(tries):
            entry.requests += 1
            self.stats.requests += 1
            try:
                if not self._client.connected and not self._client.connect():
                    raise BusError(f"cannot open {self.port}")
                reply = getattr(self._client, method)(address, device_id=unit, **kwargs)
            except BusError:
                self._failed(entry)
                raise
            except Exception as exc:  # pymodbus/pyserial: ModbusIOException, SerialException
                last = exc
                continue
            if reply.isError():
                # The device answered: it is alive, the request was wrong. No retry.
                entry.failures += 1
                self.stats.failures += 1
                raise BusError(f"exception reply {reply}")
            entry.failures_in_row = 0
            entry.down_until = 0.0
            return reply
        self._failed(entry)
        if "No response" not in str(last):
            self._client.close()  # a port error: reopen on the next request
        raise BusError(str(last)) from last

    def _failed(self, entry: _Unit) -> None:
        entry.failures += 1
        entry.failures_in_row += 1
        self.stats.failures += 1
        if self.dead_unit_backoff_s:
            backoff = self.dead_unit_backoff_s * 2 ** min(entry.failures_in_row - 1, 16)
            entry.down_until = self._clock() + min(backoff, self.dead_unit_backoff_max_s)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._client.close()


class BusRegistry:
    """Hands out one ModbusBus per serial port: two devices configured on one port share it,
    also when one names it through a symlink (`/dev/serial/by-id/...`).

    Line settings must agree (a clear ConfigurationError otherwise); the first device's timeout
    and retries hold, the longest gap asked for wins. Built once by the daemon's wiring;
    `close()` closes every bus.
    """

    def __init__(self, **defaults: Any) -> None:
        self._defaults = defaults
        self._buses: dict[str, ModbusBus] = {}
        self._lock = threading.Lock()

    def bus(self, port: str, *, settings: BusSettings = BusSettings(), **options: Any) -> ModbusBus:
        # /dev/serial0 and /dev/ttyAMA0, or a by-id link and /dev/ttyUSB0, are one port.
        key = os.path.realpath(port)
        with self._lock:
            found = self._buses.get(key)
            if found is None:
                found = ModbusBus(port, settings=settings, **{**self._defaults, **options})
                self._buses[key] = found
                return found
            if found.settings != settings:
                raise ConfigurationError(
                    f"{port}: devices on one bus need the same line settings: "
                    f"{found.settings} vs {settings}"
                )
            found.gap_s = max(found.gap_s, options.get("gap_s", 0.0))
            return found

    @property
    def buses(self) -> dict[str, ModbusBus]:
        return dict(self._buses)

    def close(self) -> None:
        with self._lock:
            for bus in self._buses.values():
                bus.close()
            self._buses.clear()
