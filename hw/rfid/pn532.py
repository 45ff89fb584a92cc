"""PN532 13.56 MHz reader on a UART (HSU, pyserial): polls for ISO/IEC 14443 Type A cards."""

from __future__ import annotations

import collections
import threading
import time

import serial

from hw.events import CardPresented, DeviceRecovered
from hw.interfaces import Clock, Post
from hw.rfid.frames import PresentationFilter
from hw.rfid.pn532_frames import (
    ACK,
    BRTY_106_TYPE_A,
    NACK,
    RF_CFG_MAX_RETRIES,
    SAM_NORMAL_MODE,
    WAKEUP,
    Ack,
    Command,
    ErrorFrame,
    FirmwareVersion,
    Frame,
    Information,
    Pn532FrameParser,
    Tfi,
    encode_command,
    parse_firmware_version,
    parse_targets_a,
)
from hw.rfid.reader_thread import ReaderThread

PN532_IC = 0x32  # GetFirmwareVersion's IC byte (UM0701-02 §7.2.2); a PN533 says 0x33
# RFConfiguration CfgItem 5 (UM0701-02 §7.3.1): MxRtyATR default, MxRtyPSL 1, and
# MxRtyPassiveActivation 1 instead of the default 0xFF (retry forever), so that
# InListPassiveTarget answers NbTg = 0 when no card is in the field instead of waiting.
MAX_RETRIES = bytes([RF_CFG_MAX_RETRIES, 0xFF, 0x01, 0x01])
# SAMConfiguration (§7.2.10): normal mode, virtual-card timeout 1 s (unused), use P70_IRQ.
SAM_CONFIG = bytes([SAM_NORMAL_MODE, 0x14, 0x01])
LIST_ONE_TYPE_A = bytes([0x01, BRTY_106_TYPE_A])  # §7.3.5: MaxTg = 1, BrTy = 106 kbps type A


class Pn532Error(Exception):
    """One exchange with the reader failed (no ACK or answer in time, error frame, bad answer)."""


class Pn532Reader(ReaderThread):
    """A CardReader: a thread polls the PN532 on `port` and posts CardPresented once per
    presentation, with the card UID as upper-case hex as `id_tag` (8, 14 or 20 characters).

    Start-up after each open (UM0701-02): the HSU wake-up preamble, SAMConfiguration in
    normal mode, GetFirmwareVersion (IC must be 0x32), RFConfiguration MaxRetries; then
    InListPassiveTarget (MaxTg 1, 106 kbps type A) every `poll_interval_s`. Each command waits
    for the ACK and then the answer (§6.2.2); an answer with a bad checksum is asked for again
    with a NACK, a command that times out is aborted with an ACK (§6.2.1.3-4).

    A card is reported again only after it was absent for more than `gap_s` (on `clock`).
    A port that cannot be opened or fails, a reader that does not answer the start-up, or
    `failures_to_fault` failed polls in a row post DeviceFaulted("ReaderFailure") once; the
    thread closes the port and starts over with backoff (`backoff_s` doubling up to
    `backoff_max_s`) and posts DeviceRecovered when the reader answers again. Timeouts run on
    the real monotonic clock whatever `clock` is.
    """

    THREAD_PREFIX = "pn532"

    def __init__(
        self,
        port: str,
        *,
        post: Post,
        source: str = "reader",
        baudrate: int = 115200,
        poll_interval_s: float = 0.2,
        gap_s: float = 1.0,
        ack_timeout_s: float = 0.1,
        answer_timeout_s: float = 0.5,
        failures_to_fault: int = 3,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._port_name = port
        self._post = post
        self._source = source
        self._baudrate = baudrate
        self._poll_interval_s = poll_interval_s
        self._ack_timeout_s = ack_timeout_s
        self._answer_timeout_s = answer_timeout_s
        self._failures_to_fault = failures_to_fault
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._filter = PresentationFilter(gap_s)
        self._frames: collections.deque[Frame] = collections.deque()
        self._init_thread()
        self.parser = Pn532FrameParser()
        self.firmware: FirmwareVersion | None = None
        self.ready = threading.Event()  # set while the reader is set up and being polled
        self.polls = 0  # InListPassiveTarget exchanges answered
        self.failures = 0  # exchanges that failed (timeouts, error frames, bad answers)

    # -- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        delay = self._backoff_s
        while not self._stop.is_set():
            try:
                port = serial.Serial(self._port_name, baudrate=self._baudrate, timeout=0.02)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._fault(f"cannot open {self._port_name}: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            try:
                self._session(port)
            except Pn532Error as exc:
                if not self._stop.is_set():
                    self._fault(f"PN532 on {self._port_name}: {exc}")
            except (serial.SerialException, OSError) as exc:
                if not self._stop.is_set():
                    self._fault(f"{self._port_name} failed: {exc}")
            finally:
                if self.ready.is_set():
                    delay = self._backoff_s  # it had answered: start over quickly
                self.ready.clear()
                port.close()
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff_max_s)

    def _session(self, port: serial.Serial) -> None:
        """Wake and set up the reader, then poll until stopped or it stops answering."""
        self._frames.clear()
        port.reset_input_buffer()
        port.write(WAKEUP)
        self._exchange(port, Command.SAM_CONFIGURATION, SAM_CONFIG)
        try:
            firmware = parse_firmware_version(self._exchange(port, Command.GET_FIRMWARE_VERSION))
        except ValueError as exc:
            raise Pn532Error(str(exc)) from None
        if firmware.ic != PN532_IC:
            raise Pn532Error(f"not a PN532 (GetFirmwareVersion IC 0x{firmware.ic:02X})")
        self.firmware = firmware
        self._exchange(port, Command.RF_CONFIGURATION, MAX_RETRIES)
        if self.faulted:
            self.faulted = False
            self._post(DeviceRecovered(self._source))
        self.ready.set()
        failed = 0
        while not self._stop.is_set():
            try:
                self._poll(port)
                failed = 0
            except Pn532Error as exc:
                self.failures += 1
                failed += 1
                if failed >= self._failures_to_fault:
                    raise Pn532Error(f"{failed} polls failed, last: {exc}") from None
            self._stop.wait(self._poll_interval_s)

    def _poll(self, port: serial.Serial) -> None:
        answer = self._exchange(port, Command.IN_LIST_PASSIVE_TARGET, LIST_ONE_TYPE_A)
        try:
            targets = parse_targets_a(answer)
        except ValueError as exc:
            raise Pn532Error(str(exc)) from None
        self.polls += 1
        for target in targets:
            if self._filter.seen(target.id_tag, self._clock()):
                self._post(CardPresented(self._source, target.id_tag))

    def _exchange(self, port: serial.Serial, command: int, params: bytes = b"") -> bytes:
        """Send one command; its answer's payload (after the answer code).

        UM0701-02 §6.2.2: the PN532 ACKs a command, then sends the answer. An answer that
        arrives without its ACK (the ACK was garbled) is taken; answers to other commands
        (late ones) are ignored.
        """
        self._frames.clear()
        port.write(encode_command(command, params))
        deadline = time.monotonic() + self._ack_timeout_s
        bad_before = self.parser.frames_bad
        acked = False
        nacks = 0
        while True:
            frame = self._next_frame(port, deadline, bad_before)
            if frame is None:
                if self.parser.frames_bad > bad_before:
                    bad_before = self.parser.frames_bad
                    if acked and nacks < 2:  # a garbled answer (noise before the ACK: wait on)
                        nacks += 1  # §6.2.1.4: the PN532 sends its last answer again
                        port.write(NACK)
                        deadline = time.monotonic() + self._answer_timeout_s
                    continue
                if self._stop.is_set():
                    raise Pn532Error("stopped")
                port.write(ACK)  # §6.2.1.3: abort, so that the next command is not refused
                raise Pn532Error(f"no answer to command 0x{command:02X}")
            if isinstance(frame, Ack):
                acked = True
                deadline = time.monotonic() + self._answer_timeout_s
            elif isinstance(frame, ErrorFrame):
                raise Pn532Error(f"error frame in answer to command 0x{command:02X}")
            elif (
                isinstance(frame, Information)
                and frame.tfi == Tfi.PN532_TO_HOST
                and frame.data[:1] == bytes([command + 1])
            ):
                return frame.data[1:]

    def _next_frame(self, port: serial.Serial, deadline: float, bad_before: int) -> Frame | None:
        """The next good frame; None at the deadline, on stop, or once a bad frame arrived.

        Reads before it looks at the clock, so bytes already waiting in the driver's buffer are
        taken even when this thread was not scheduled until after the deadline (a busy Pi).
        """
        while not self._frames:
            data = port.read(port.in_waiting or 1)  # at most the port's 20 ms timeout
            if data:
                self._frames.extend(self.parser.feed(data))
            if self._frames:
                break
            if (
                self.parser.frames_bad > bad_before
                or time.monotonic() >= deadline
                or self._stop.is_set()
            ):
                return None
        return self._frames.popleft()
