"""A simulated OpenEVSE board with its EV, answering RAPI on a pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty

from hw.events import PilotState
from hw.evse import rapi
from hw.evse.rapi import EvseState
from hw.evse.sim import SimVehicle

_LETTER_STATES = {"A": EvseState.A, "B": EvseState.B, "C": EvseState.C, "D": EvseState.D}

# open_evse.h DELAY_STATE_TRANSITION: how long Update() sees a new state before taking it.
SETTLE_S = 0.25

# J1772EvseController.h: m_wVFlags bits this twin keeps, and the ones whose change sends $AT
# (ECVF_CHANGED_TEST, rapi_proc.cpp RapiSendEvseState).
ECVF_CHARGING_ON = 0x0040  # relay closed
ECVF_EV_CONNECTED = 0x0100  # valid only while the pilot is not -12 V
ECVF_CHANGED_TEST = 0x0008 | 0x0100 | 0x0010 | 0x2000 | 0x0002
# J1772EvseController.h HEARTBEAT_SUPERVISION: trigger values and the acknowledgement cookie.
HS_MISSEDPULSE_NOACK, HS_MISSEDPULSE, HS_ACK_COOKIE = 2, 1, 0xA5


class OpenEvseTwin:
    """RAPI as firmware D8 does it (open_evse rapi_proc.cpp, J1772EvseController.cpp); the
    driver opens `port`.

    `$SC amps` clamps to 6 A .. `max_hw_a` and saves to `eeprom_current_a` (what a reboot
    restores); `$SC amps V` is volatile and clamps to the saved capacity (SetCurrentCapacity:
    "temporary amps can't be > max set in EEPROM"); both answer `$NK ampsset` when clamped.
    `$FS` sleeps, `$FE` wakes, `$FD` disables. Sleep() and Disable() take over from a fault
    state, and Update() does not read the pilot state while sleeping or disabled: `$GS` then
    shows 0xFE / 0xFF and the pilot state from before; only vflags' EV-connected bit follows
    the EV while sleeping. `$SY` is HEARTBEAT_SUPERVISION (pulse, `$SY 165` ack, `$SY i c`
    arm/disarm, restores the saved capacity on ack); `miss_heartbeat()` is one elapsed
    interval without a pulse (HsExpirationCheck). A command with a bad checksum gets `$NK`
    without sequence id. State changes send `$AT`, `reboot()` sends `$AB`.
    `inject_fault(EvseState.GFCI_FAULT)` puts the board in that fault state.
    """

    def __init__(
        self,
        *,
        max_hw_a: int = 32,
        eeprom_current_a: int = 32,
        vehicle: SimVehicle | None = None,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.vehicle = vehicle or SimVehicle()
        self.settle_s = settle_s
        self._settle_until = 0.0  # woken ($FE, boot): state 00 and no PWM until then
        self.max_hw_a = max_hw_a
        self.eeprom_current_a = eeprom_current_a
        self.current_a = eeprom_current_a
        self.mode = EvseState.UNKNOWN  # UNKNOWN = awake, or SLEEPING / DISABLED
        self.fault: EvseState | None = None
        self.commands: list[str] = []
        self.firmware_version, self.rapi_version = "8.2.2", "5.1.0"  # $GV answers these
        self.heartbeat: tuple[int, int] = (0, 0)  # $SY interval, fallback (its EEPROM)
        self.heartbeat_trigger = 0  # m_HsTriggered: 0, HS_MISSEDPULSE or HS_MISSEDPULSE_NOACK
        self.heartbeat_supported = True  # False: firmware built without HEARTBEAT_SUPERVISION
        self.corrupt_replies = 0
        self.legacy_gs = False  # True: `$GS` as before D6.0.0, `state(decimal) elapsed`
        self.silent = False
        self._lock = threading.Lock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._last_at: tuple[int, int, int, int] | None = None
        self._pilot_reg = int(EvseState.UNKNOWN)  # m_PilotState: what $GS / $AT report
        self._ev_connected = False  # ECVF_EV_CONNECTED
        self._sync_vehicle()  # the board ran its loop before anyone talks to it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openevse-twin", daemon=True)
        self._thread.start()

    # -- what the board shows ------------------------------------------------------------

    def evse_state(self) -> int:
        # Sleep() / Disable() set m_EvseState whatever it was, and Update() returns early in
        # those states, so a fault is not detected again until the board is woken ($FE).
        if self.mode in (EvseState.SLEEPING, EvseState.DISABLED):
            return self.mode
        if self.fault is not None:
            return self.fault
        if self._settling():
            return EvseState.UNKNOWN
        return _LETTER_STATES.get(self.vehicle.pilot.value, EvseState.UNKNOWN)

    def _settling(self) -> bool:
        """Enable() leaves m_EvseState UNKNOWN (pilot steady +12 V, m_PilotState as before)
        until Update() has seen the new state for DELAY_STATE_TRANSITION."""
        return time.monotonic() < self._settle_until

    @property
    def max_capacity_a(self) -> int:
        """GetMaxCurrentCapacity(): the saved capacity, within 6 A .. `max_hw_a`."""
        return min(max(self.eeprom_current_a, 6), self.max_hw_a)

    def vflags(self) -> int:
        relay = ECVF_CHARGING_ON if self.vehicle.draw_a > 0 else 0
        return (ECVF_EV_CONNECTED if self._ev_connected else 0) | relay

    def _sync_vehicle(self) -> None:
        awake = self.mode == EvseState.UNKNOWN and self.fault is None and not self._settling()
        self.vehicle.offer(float(self.current_a) if awake else 0.0)
        if self.mode != EvseState.DISABLED:  # ReadPilot(): not while the pilot is -12 V
            self._ev_connected = self.vehicle.pilot is not PilotState.A
        if self.mode == EvseState.UNKNOWN and not self._settling():  # Update() has run
            live = _LETTER_STATES.get(self.vehicle.pilot.value, EvseState.UNKNOWN)
            self._pilot_reg = EvseState.UNKNOWN if self.fault is not None else live

    def _pilot_state(self) -> int:
        return self._pilot_reg

    # -- bench handles -------------------------------------------------------------------

    def inject_fault(self, state: EvseState = EvseState.GFCI_FAULT) -> None:
        with self._lock:
            self.fault = state
            self._sync_vehicle()
        self.notify()

    def clear_fault(self) -> None:
        """The fault ends (e.g. the GFCI is reset once the EV is unplugged): the board goes
        through state 00 to the pilot's state, as after Enable()."""
        with self._lock:
            if self.fault is not None and self.mode == EvseState.UNKNOWN:
                self._settle_until = time.monotonic() + self.settle_s
            self.fault = None
            self._sync_vehicle()
        self.notify()

    def miss_heartbeat(self) -> None:
        """One heartbeat interval passed without a pulse (HsExpirationCheck): the current
        drops to the fallback (SetCurrentCapacity: never below 6 A) until acknowledged."""
        with self._lock:
            interval, fallback = self.heartbeat
            if interval == 0:
                return
            if fallback < self.current_a:
                self.current_a = max(fallback, 6)
            self.heartbeat_trigger = HS_MISSEDPULSE_NOACK
            self._sync_vehicle()
        self.notify()

    def reboot(self) -> None:
        """Power-cycle: volatile current and sleep are lost; sends `$AB 00 fwrev`."""
        with self._lock:
            self.current_a = self.max_capacity_a
            self.mode = EvseState.UNKNOWN
            self._settle_until = time.monotonic() + self.settle_s
            self.heartbeat_trigger = 0
            self._sync_vehicle()
            self._send("$AB 00 8.2.2")

    def notify(self) -> None:
        """Send `$AT` if state, pilot or current changed (RapiSendEvseState)."""
        with self._lock:
            self._sync_vehicle()
            flags = self.vflags()
            now = (
                self.evse_state(),
                self._pilot_state(),
                self.current_a,
                flags & ECVF_CHANGED_TEST,
            )
            if now != self._last_at and now[0] != EvseState.UNKNOWN:
                self._last_at = now
                self._send(f"$AT {now[0]:02x} {now[1]:02x} {now[2]} {flags:04x}")

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
            self._sync_vehicle()  # the board's loop ran Update() since the last command
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
            if self.mode != EvseState.UNKNOWN:  # Enable() acts on a sleeping/disabled board
                self._settle_until = time.monotonic() + self.settle_s
            self.mode = EvseState.UNKNOWN
        elif cmd == "FD":
            self.mode = EvseState.DISABLED
        elif cmd == "SC" and len(args) in (1, 2):
            if args[1:] == ("M",):
                return False, str(self.max_hw_a)  # $SC M: the twin's maximum is fixed
            asked = int(args[0])  # any second token but M: volatile
            ceiling = self.max_capacity_a if len(args) == 2 else self.max_hw_a
            value = min(max(asked, 6), ceiling)
            self.current_a = value
            if len(args) == 1:
                self.eeprom_current_a = value
            self._sync_vehicle()
            return value == asked, str(value)
        elif cmd == "GS":
            state, pilot, flags = self.evse_state(), self._pilot_state(), self.vflags()
            if self.legacy_gs:
                return True, f"{state} 0"
            return True, f"{state:02x} 0 {pilot:02x} {flags:04x}"
        elif cmd == "GC":
            return True, f"6 {self.max_hw_a} {self.current_a} {self.max_capacity_a}"
        elif cmd == "GV":
            return True, f"{self.firmware_version} {self.rapi_version}"
        elif cmd == "SY":
            if not self.heartbeat_supported:
                return False, ""
            ok = self._heartbeat_command(args)
            interval, fallback = self.heartbeat
            return ok, f"{interval} {fallback} {self.heartbeat_trigger}"
        else:
            return False, ""
        self._sync_vehicle()
        return True, ""

    def _heartbeat_command(self, args: tuple[str, ...]) -> bool:
        """rapi_proc.cpp case 'Y' with HsPulse / HsAckMissedPulse / HeartbeatSupervision."""
        if not args:  # a pulse: $NK while a missed pulse is not acknowledged
            return self.heartbeat_trigger != HS_MISSEDPULSE_NOACK
        if len(args) == 1:  # acknowledgement: only the cookie counts
            if int(args[0]) != HS_ACK_COOKIE:
                return False
            if self.heartbeat_trigger == HS_MISSEDPULSE_NOACK:
                self._restore_ampacity()
                self.heartbeat_trigger = HS_MISSEDPULSE
            return True
        if len(args) == 2:
            interval, fallback = int(args[0]), int(args[1])
            if interval == 0:
                self._restore_ampacity()
            self.heartbeat = (interval, fallback)
            self.heartbeat_trigger = 0
            return True
        return False

    def _restore_ampacity(self) -> None:
        """HsRestoreAmpacity(): after a missed pulse, back to the saved capacity (not to the
        last volatile `$SC ... V`)."""
        if self.heartbeat_trigger:
            self.current_a = self.max_capacity_a
            self._sync_vehicle()

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
