"""A simulated OpenEVSE board with its EV, answering RAPI on a pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty

from hw.evse import rapi
from hw.evse.rapi import EvseState
from hw.evse.sim import SimVehicle

_LETTER_STATES = {"A": EvseState.A, "B": EvseState.B, "C": EvseState.C, "D": EvseState.D}


class OpenEvseTwin:
    """RAPI as rapi_proc.h describes it; the driver opens `port`.

    `$SC` clamps to min (6 A) .. `max_hw_a` and answers `$NK ampsset` when it clamped; without
    `V` the value also goes to `eeprom_current_a` (what a reboot restores). `$FS` sleeps,
    `$FE` wakes, `$FD` disables, `$GS`/`$GC`/`$SY`/`$GV` answer as the firmware does; a command
    with a bad checksum gets `$NK` without sequence id. State changes send `$AT`, `reboot()`
    sends `$AB`. `inject_fault(EvseState.GFCI_FAULT)` puts the board in that fault state.
    """

    def __init__(
        self, *, max_hw_a: int = 32, eeprom_current_a: int = 32, vehicle: SimVehicle | None = None
    ) -> None:
        self.vehicle = vehicle or SimVehicle()
        self.max_hw_a = max_hw_a
        self.eeprom_current_a = eeprom_current_a
        self.current_a = eeprom_current_a
        self.mode = EvseState.UNKNOWN  # UNKNOWN = awake, or SLEEPING / DISABLED
        self.fault: EvseState | None = None
        self.commands: list[str] = []
        self.firmware_version, self.rapi_version = "8.2.2", "5.1.0"  # $GV answers these
        self.heartbeat: tuple[int, int] = (0, 0)  # $SY interval, fallback (its EEPROM)
        self.heartbeat_supported = True  # False: firmware built without HEARTBEAT_SUPERVISION
        self.corrupt_replies = 0
        self.silent = False
        self._lock = threading.Lock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._last_at: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openevse-twin", daemon=True)
        self._thread.start()

    # -- what the board shows ------------------------------------------------------------

    def evse_state(self) -> int:
        if self.fault is not None:
            return self.fault
        if self.mode in (EvseState.SLEEPING, EvseState.DISABLED):
            return self.mode
        return _LETTER_STATES.get(self.vehicle.pilot.value, EvseState.UNKNOWN)

    def _sync_vehicle(self) -> None:
        awake = self.mode == EvseState.UNKNOWN and self.fault is None
        self.vehicle.offer(float(self.current_a) if awake else 0.0)

    def _pilot_state(self) -> int:
        return _LETTER_STATES.get(self.vehicle.pilot.value, EvseState.UNKNOWN)

    # -- bench handles -------------------------------------------------------------------

    def inject_fault(self, state: EvseState = EvseState.GFCI_FAULT) -> None:
        with self._lock:
            self.fault = state
            self._sync_vehicle()
        self.notify()

    def clear_fault(self) -> None:
        with self._lock:
            self.fault = None
            self._sync_vehicle()
        self.notify()

    def reboot(self) -> None:
        """Power-cycle: volatile current and sleep are lost; sends `$AB 00 fwrev`."""
        with self._lock:
            self.current_a = self.eeprom_current_a
            self.mode = EvseState.UNKNOWN
            self._sync_vehicle()
            self._send("$AB 00 8.2.2")

    def notify(self) -> None:
        """Send `$AT` if state, pilot or current changed (RapiSendEvseState)."""
        with self._lock:
            self._sync_vehicle()
            now = (self.evse_state(), self._pilot_state(), self.current_a)
            if now != self._last_at:
                self._last_at = now
                self._send(f"$AT {now[0]:02x} {now[1]:02x} {now[2]} 0000")

    # -- the RAPI processor --------------------------------------------------------------

    def _send(self, body: str) -> None:
        text = f"{body}^{rapi.checksum(body):02X}\r"
        if self.corrupt_replies > 0 and not body.startswith("$A"):
            self.corrupt_replies -= 1
            at = text.index("^") + 1
            digit = "0" if text[at] != "0" else "1"
            text = text[:at] + digit + text[at + 1 :]  # a broken checksum
        with contextlib.suppress(OSError):
            os.write(self._master, text.encode("ascii"))

    def _run(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.02)
            if not ready:
                self.notify()  # the board's loop sees the EV change its pilot
                continue
            try:
                buffer += os.read(self._master, 256)
            except OSError:
                continue
            while b"\r" in buffer:
                raw, _, buffer = buffer.partition(b"\r")
                self._handle(raw.decode("ascii", "replace"))

    def _handle(self, line: str) -> None:
        if self.silent:
            return
        try:
            frame = rapi.parse(line)
        except ValueError:
            with self._lock:
                self._send("$NK")
            return
        with self._lock:
            self.commands.append(" ".join([frame.kind, *frame.args]))
            ok, text = self._process(frame.kind, frame.args)
            reply = "$OK" if ok else "$NK"
            if text:
                reply += " " + text
            if frame.seq is not None:
                reply += f" :{frame.seq:02X}"
            self._send(reply)
        self.notify()

    def _process(self, cmd: str, args: tuple[str, ...]) -> tuple[bool, str]:
        if cmd == "FS":
            self.mode = EvseState.SLEEPING
        elif cmd == "FE":
            self.mode = EvseState.UNKNOWN
        elif cmd == "FD":
            self.mode = EvseState.DISABLED
        elif cmd == "SC" and args:
            asked = int(args[0])
            value = min(max(asked, 6), self.max_hw_a)
            self.current_a = value
            if len(args) == 1:
                self.eeprom_current_a = value
            return value == asked, str(value)
        elif cmd == "GS":
            return True, f"{self.evse_state():02x} 0 {self._pilot_state():02x} 0000"
        elif cmd == "GC":
            return True, f"6 {self.max_hw_a} {self.current_a} {self.max_hw_a}"
        elif cmd == "GV":
            return True, f"{self.firmware_version} {self.rapi_version}"
        elif cmd == "SY":
            if not self.heartbeat_supported:
                return False, ""
            if len(args) == 2:
                self.heartbeat = (int(args[0]), int(args[1]))
            return True, f"{self.heartbeat[0]} {self.heartbeat[1]} 0"
        else:
            return False, ""
        self._sync_vehicle()
        return True, ""

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> OpenEvseTwin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
