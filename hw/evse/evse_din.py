"""EVSE-DIN / EVSE-WB / SimpleEVSE boards over Modbus RTU, on the port's shared bus."""

from __future__ import annotations

import contextlib
import threading
import time

from hw.errors import EvseError
from hw.events import EvseStatus, PilotState
from hw.evse import evse_din_registers as regs
from hw.evse.base import OfferedCurrent
from hw.interfaces import Clock
from hw.modbus_bus import BusError, BusSettings, ModbusBus

# evcc waits 200 ms before each request to these boards (charger/evsedin.go: Delay), openWB
# 100 ms: the board's Modbus handler is slow to turn around.
DEFAULT_GAP_S = 0.2


class EvseDin:
    """An EvseController for an EV-Racing EVSE board (register map: evse_din_registers).

    `set_current_a` writes register 1000 (0 = charging disabled). Every `read_status` reads
    1000-1006 in one request (1007, the fault bits, only when 1002 reports a failure: older
    firmware has no 1007), re-writes 1000 if it is not what was asked (the board restores
    register 2000 at power-up - 32 A from the factory - so a board that rebooted behind our
    back would otherwise offer that), and latches 0 A when the board reports a failure or
    stops answering. Currents are whole amps unless register 2005 bit 7 (0.01 A) is set.
    """

    def __init__(
        self,
        port: str,
        *,
        unit: int = 1,
        max_current_a: float = 16.0,
        bus: ModbusBus | None = None,
        baudrate: int = 9600,
        timeout_s: float = 0.5,
        retries: int = 2,
        gap_s: float = DEFAULT_GAP_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self._own_bus = bus is None
        self._bus = bus or ModbusBus(
            port,
            settings=BusSettings(baudrate),
            timeout_s=timeout_s,
            retries=retries,
            dead_unit_backoff_s=0.0,
        )
        self._bus.register_unit(unit, gap_s=gap_s)
        self.port = port
        self.unit = unit
        self._clock = clock
        self._lock = threading.Lock()
        self._scale = 0  # registers per A; 0 = not learnt yet (first contact)
        self.firmware: int | None = None
        self.min_current_a: float | None = None
        self.rewrites = 0
        self._status_bits: bool | None = None  # whether the board answers 1007 (None: unknown)
        self._closed = False
        self._current = OfferedCurrent(max_current_a, self._write_current)
        # Nothing is offered before the owner decides to; if the board is not reachable yet,
        # the 0 A stays pending and is written at first contact.
        with contextlib.suppress(EvseError):
            self._current.reassert()

    @property
    def offered_current_a(self) -> float:
        return self._current.amps

    @property
    def max_current_a(self) -> float:
        return self._current.max_current_a

    def set_current_a(self, amps: float) -> None:
        with self._lock:
            if self._closed:
                raise EvseError(f"EVSE-DIN unit {self.unit}: closed")
            self._current.set(amps)

    def _learn_scale(self) -> None:
        """First contact: firmware (1005), then minimum current (2002) and 0.01 A mode (2005)."""
        if self._scale:
            return
        (firmware,) = self._read(1005, 1)
        config = self._read(2000, 6)
        self.firmware = firmware
        self.min_current_a = float(config[2])
        scale = 1
        if firmware >= regs.HUNDREDTHS_MIN_FIRMWARE and config[5] & regs.HUNDREDTHS_BIT:
            scale = 100
        self._scale = scale
        self._current.step_a = 1.0 / scale
        # The board refuses 1000 values between 0 and its minimum: offer 0 A there instead.
        self._current.min_a = max(self.min_current_a, 6.0)

    def _write_current(self, amps: float) -> None:
        self._learn_scale()
        if 0 < amps < self._current.min_a:
            amps = self._current.amps = 0.0  # learnt at this first contact
        try:
            self._bus.write_registers(self.unit, regs.CURRENT, [round(amps * self._scale)])
        except BusError as exc:
            raise EvseError(f"EVSE-DIN unit {self.unit}: {exc}") from exc

    def _read(self, address: int, count: int) -> list[int]:
        try:
            return self._bus.read_holding_registers(self.unit, address, count)
        except BusError as exc:
            raise EvseError(f"EVSE-DIN unit {self.unit}: {exc}") from exc

    def read_status(self) -> EvseStatus:
        with self._lock:
            if self._closed:
                raise EvseError(f"EVSE-DIN unit {self.unit}: closed")
            try:
                self._current.reassert()
                words = self._read(*regs.RUNTIME_BLOCK)
            except EvseError:
                self._current.latch_off()  # no control over the board: 0 A once it answers
                raise
            configured, output, vehicle, _cable, _control, firmware, _state = words
            self.firmware = firmware
            bits = 0
            if vehicle == regs.FAILURE_STATE:
                self._current.latch_off()  # first: a silent 1007 read may stall the unit
                if self._status_bits is not False:
                    try:
                        (bits,) = self._read(regs.STATUS_BITS, 1)
                        self._status_bits = True
                    except EvseError:
                        # older firmware has no 1007: the failure stays unnamed, and a
                        # board that never answered 1007 is not asked for it again
                        if self._status_bits is None:
                            self._status_bits = False
            faults = regs.decode_faults(vehicle, bits)
            if faults:
                self._current.latch_off()
            elif configured != round(self._current.amps * self._scale):
                self.rewrites += 1
                self._current.pending = True
                self._current.reassert()
            return EvseStatus(
                timestamp=self._clock(),
                pilot=regs.VEHICLE_STATES.get(vehicle, PilotState.F),
                faults=faults,
                offered_current_a=output / self._scale,
            )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._current.set(0)
            except EvseError:
                pass  # unreachable: nothing more we can do from here
            finally:
                if self._own_bus:
                    self._bus.close()
