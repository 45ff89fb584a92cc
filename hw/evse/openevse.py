"""OpenEVSE controllers over RAPI serial (firmware D6.0.0+ / RAPI 5: sequence ids, XOR checks)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from hw.errors import EvseError
from hw.events import EvseStatus, PilotState
from hw.evse import rapi
from hw.evse.base import OfferedCurrent
from hw.evse.rapi import EvseState
from hw.interfaces import Clock

Listener = Callable[[], None]

# HsExpirationCheck compares `millis() - m_HsLastPulse` with `m_HsInterval * 1000`, which the
# ATmega328P computes in 16 bits: above 65 s the interval wraps (66 s times out after 464 ms).
MAX_HEARTBEAT_S = 65


class OpenEvse:
    """An EvseController for an OpenEVSE board on a serial port (default 115200 8N1).

    Theory of operation: a reader thread splits the line into frames; `$OK`/`$NK` replies are
    matched to the command by its sequence id (a reply for an older, timed-out command is
    dropped), `$AT` (state transition) and `$AB` (boot) notices call the listener set with
    `set_state_listener` (the EvsePoller reads at once). Commands:
    - 0 A: `$FS` (sleep: pilot steady +12 V, the relay opens once the EV has opened S2);
    - 6 A or more: `$SC amps V` (V: volatile, so smart-charging changes never wear the
      EEPROM) then `$FE` if the board sleeps;
    - status: `$GS` (evse state, pilot state) and `$GC` (amps the pilot advertises).
    A board that rebooted (`$AB`, or awake while 0 A is wanted) is put back where it should
    be. A sleeping board reads no pilot state (J1772EvseController::Update returns early):
    `$GS` then repeats the state from before the sleep, so the vehicle is read from vflags'
    ECVF_EV_CONNECTED (B connected, A not) - as in state 00, which a woken board shows (with
    the old pilot state) until it has debounced the new one; a disabled board reads nothing,
    so with 0 A wanted it is put to sleep instead. A fault state latches 0 A without `$FS`:
    Sleep() would replace the fault state and hide it, so the board keeps its own fault
    handling (relay open) and is put to sleep as soon as it leaves the fault.
    With `heartbeat_s` > 0 the driver arms the board's own heartbeat supervision
    (`$SY heartbeat_s 0`) and pulses it on every read; with 0 it switches it off (`$SY 0 0`)
    at first contact and after a reboot; with None it leaves it as the board has it. A
    missed pulse is acknowledged (`$SY 165`) and, as the acknowledgement restores the board's
    saved capacity, the wanted current is written again at once.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        max_current_a: float = 16.0,
        timeout_s: float = 1.0,
        retries: int = 1,
        heartbeat_s: int | None = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        if heartbeat_s is not None and not 0 <= heartbeat_s <= MAX_HEARTBEAT_S:
            raise ValueError(f"heartbeat_s must be 0-{MAX_HEARTBEAT_S} s, not {heartbeat_s}")
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.retries = retries
        self.heartbeat_s = heartbeat_s
        self._clock = clock
        self._lock = threading.RLock()
        self._replies: queue.Queue[rapi.Frame] = queue.Queue()
        self._serial: Any = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._seq = 0
        self._listener: Listener | None = None
        self._rebooted = False
        self._heartbeat_written = False
        self._closed = False
        self._board_faulted = False  # the last `$GS` showed a fault state
        self.bad_frames = 0
        self.notices = 0
        self.firmware_state: EvseState | None = None
        self._current = OfferedCurrent(max_current_a, self._write_current)
        with contextlib.suppress(EvseError):  # unreachable now: 0 A written at first contact
            self._current.reassert()

    # -- the port and its reader thread --------------------------------------------------

    def _open(self) -> None:
        if self._serial is not None:
            return
        import serial

        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0.05)
        except Exception as exc:  # SerialException, OSError: port missing or busy
            raise EvseError(f"OpenEVSE: cannot open {self.port}: {exc}") from exc
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, name="openevse-rapi", daemon=True)
        self._reader.start()

    def _drop_port(self) -> None:
        self._stop.set()
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()
        reader, self._reader = self._reader, None
        if reader is not None and reader is not threading.current_thread():
            reader.join(2)

    def _read_loop(self) -> None:
        buffer = b""
        port = self._serial
        while not self._stop.is_set() and port is not None:
            try:
                data = port.read(256)
            except Exception:  # the port vanished: the next command reopens it
                return
            buffer += data
            while b"\r" in buffer:
                raw, _, buffer = buffer.partition(b"\r")
                self._on_line(raw.decode("ascii", "replace"))

    def _on_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            frame = rapi.parse(line)
        except ValueError:
            self.bad_frames += 1
            return
        if frame.kind in ("OK", "NK"):
            self._replies.put(frame)
            return
        self.notices += 1
        if frame.kind == "AB":
            self._rebooted = True  # its volatile current and our sleep are gone
        listener = self._listener
        if listener is not None and frame.kind in ("AT", "AB"):
            listener()

    def set_state_listener(self, listener: Listener | None) -> None:
        """Call `listener()` (from the reader thread) on every `$AT` / `$AB` notice."""
        self._listener = listener

    # -- commands ------------------------------------------------------------------------

    def command(self, cmd: str, *params: object) -> rapi.Frame:
        """Send one command and return its `$OK` reply; raises EvseError on `$NK` / silence."""
        frame = self._exchange(cmd, *params)
        if frame.kind != "OK":
            raise EvseError(
                f"OpenEVSE refused ${cmd} {' '.join(map(str, params))}: "
                f"$NK {' '.join(frame.args)}".rstrip()
            )
        return frame

    def _exchange(self, cmd: str, *params: object) -> rapi.Frame:
        with self._lock:
            if self._closed:
                raise EvseError("OpenEVSE: closed")
            self._open()
            for _ in range(self.retries + 1):
                self._seq = self._seq % 255 + 1
                seq = self._seq
                try:
                    self._serial.write(rapi.encode(cmd, *params, seq=seq))
                except Exception as exc:
                    self._drop_port()
                    raise EvseError(f"OpenEVSE: {self.port} failed: {exc}") from exc
                reply = self._await(seq)
                if reply is not None:
                    return reply
            raise EvseError(f"OpenEVSE: no reply to ${cmd} within {self.timeout_s} s")

    def _await(self, seq: int) -> rapi.Frame | None:
        deadline = self._clock() + self.timeout_s
        while True:
            left = deadline - self._clock()
            if left <= 0:
                return None
            try:
                frame = self._replies.get(timeout=left)
            except queue.Empty:
                return None
            if frame.seq == seq:
                return frame
            if frame.seq is None and frame.kind == "NK":
                return None  # our command arrived corrupted (bad checksum): send again
            # else: a late reply to a command that already timed out

    def _write_current(self, amps: float) -> None:
        if amps == 0:
            if not self._board_faulted:  # asleep it would no longer report the fault
                self.command("FS")
            return
        frame = self._exchange("SC", int(amps), "V")
        if frame.kind == "NK" and (not frame.args or int(frame.args[0]) > amps):
            # $NK ampsset: clamped; refusing to raise (over temperature) keeps the old value.
            raise EvseError(f"OpenEVSE refused $SC {int(amps)} V: $NK {' '.join(frame.args)}")
        state = self._evse_state()
        if state in (EvseState.SLEEPING, EvseState.DISABLED):
            self.command("FE")

    def _evse_state(self) -> EvseState | int:
        value = self._board_state().evse
        with contextlib.suppress(ValueError):
            return EvseState(value)
        return value

    def _board_state(self) -> rapi.BoardState:
        args = self.command("GS").args
        try:
            return rapi.parse_state(args)
        except ValueError as exc:  # also from set_current_a: an EvseError, like the others
            raise EvseError(f"OpenEVSE: {exc}") from exc

    def _ev_connected(self, state: rapi.BoardState) -> bool:
        """Whether an EV is plugged in, while the pilot state is not being read (asleep)."""
        if state.vflags is not None:
            return bool(state.vflags & rapi.ECVF_EV_CONNECTED)
        return self.command("G0").args[:1] == ("1",)  # 0 not connected, 1 connected

    # -- the EvseController interface ----------------------------------------------------

    @property
    def offered_current_a(self) -> float:
        return self._current.amps

    @property
    def max_current_a(self) -> float:
        return self._current.max_current_a

    def set_current_a(self, amps: float) -> None:
        with self._lock:
            if self._closed:
                raise EvseError("OpenEVSE: closed")
            self._current.set(amps)

    def _heartbeat(self) -> None:
        """The board's heartbeat supervision as configured. The board keeps it in EEPROM, so
        with `heartbeat_s` 0 a supervision armed earlier (another host, an older config) is
        switched off at first contact, or the board would drop to 6 A one interval after
        it; firmware built without supervision answers that with `$NK`, which is fine."""
        if self.heartbeat_s is None:
            return  # leave the board's setting as it is (a probe changes nothing it keeps)
        if not self._heartbeat_written:
            if self.heartbeat_s > 0:
                # fallback 0: SetCurrentCapacity() raises it to its minimum, 6 A
                self.command("SY", self.heartbeat_s, 0)
            else:
                self._exchange("SY", 0, 0)  # interval 0: supervision off
            self._heartbeat_written = True
            self._current.pending = True  # disarming restores the saved capacity
        if self.heartbeat_s <= 0:
            return
        frame = self._exchange("SY")
        if frame.kind == "NK":  # a pulse was missed since the last acknowledgement
            # HsAckMissedPulse -> HsRestoreAmpacity(): the board goes back to its saved
            # (EEPROM) capacity, not to our volatile current, so write that again next.
            self.command("SY", 165)  # HS_ACK_COOKIE 0xA5
            self._current.pending = True

    def read_status(self) -> EvseStatus:
        with self._lock:
            if self._closed:
                raise EvseError("OpenEVSE: closed")
            try:
                if self._rebooted:
                    self._rebooted = False
                    self._heartbeat_written = False
                    self._current.pending = True
                self._heartbeat()  # before the current: an acknowledgement changes it
                self._current.reassert()
                state = self._board_state()
                if state.evse == EvseState.DISABLED and self._current.amps == 0:
                    self.command("FS")  # disabled elsewhere: asleep it shows the EV again
                    state = self._board_state()
                pilot_amps = int(self.command("GC").args[2])
                connected = None
                if state.evse in (EvseState.SLEEPING, EvseState.UNKNOWN):
                    connected = self._ev_connected(state)
            except (EvseError, IndexError, ValueError) as exc:
                self._current.latch_off()
                if isinstance(exc, EvseError):
                    raise
                raise EvseError(f"OpenEVSE: malformed reply: {exc}") from exc
            with contextlib.suppress(ValueError):
                self.firmware_state = EvseState(state.evse)
            fault = rapi.STATE_FAULTS.get(state.evse)
            faults = frozenset() if fault is None else frozenset({fault})
            asleep = state.evse in (EvseState.SLEEPING, EvseState.DISABLED)
            self._board_faulted = bool(faults)
            if faults:
                self._current.latch_off()  # 0 A wanted; no `$FS` while the fault lasts
            elif self._current.amps == 0 and not asleep:
                self._current.pending = True  # awake although 0 A is wanted: sleep again
                self._current.reassert()
                asleep = True
            if connected is not None:
                pilot = PilotState.B if connected else PilotState.A
            elif state.evse == EvseState.DISABLED:
                pilot = PilotState.F  # Disable(): the pilot is held at -12 V
            else:
                pilot = rapi.PILOT_LETTERS.get(state.pilot) or rapi.PILOT_LETTERS.get(
                    state.evse, PilotState.F
                )
            offered = 0.0 if asleep or faults else float(pilot_amps)
            return EvseStatus(self._clock(), pilot, faults, offered)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            # Leaving: `$FS` even from a fault state. Nobody reads the fault any more, and a
            # board left awake would offer its current again once the fault ends.
            self._board_faulted = False
            try:
                self._current.set(0)
            except EvseError:
                pass  # unreachable: nothing more we can do from here
            finally:
                self._closed = True
                self._drop_port()
