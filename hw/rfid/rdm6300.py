"""RDM6300 125 kHz RFID reader on a UART (pyserial, 9600 8N1), with fault reporting and reopen."""

from __future__ import annotations

import threading
import time

import serial

from hw.events import CardPresented, DeviceRecovered
from hw.interfaces import Clock, Post
from hw.rfid.frames import PresentationFilter, Rdm6300Parser
from hw.rfid.reader_thread import ReaderThread


class Rdm6300Reader(ReaderThread):
    """A CardReader: a thread reads `port` and posts CardPresented once per presentation.

    A port that cannot be opened or fails while reading posts DeviceFaulted("ReaderFailure")
    once; the thread reopens it with exponential backoff (`backoff_s` doubling up to
    `backoff_max_s`) and posts DeviceRecovered when it opens again. `parser` holds the counts of
    good, bad and noise input.
    """

    THREAD_PREFIX = "rdm6300"

    def __init__(
        self,
        port: str,
        *,
        post: Post,
        source: str = "reader",
        gap_s: float = 1.0,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._port = port
        self._post = post
        self._source = source
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self.parser = Rdm6300Parser()
        self._filter = PresentationFilter(gap_s)
        self._init_thread()
        self.opened = threading.Event()  # set while the port is open (for tests and status)

    def _run(self) -> None:
        delay = self._backoff_s
        while not self._stop.is_set():
            try:
                port = serial.Serial(
                    self._port, baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout=0.1
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                self._fault(f"cannot open {self._port}: {exc}")
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            delay = self._backoff_s
            if self.faulted:
                self.faulted = False
                self._post(DeviceRecovered(self._source))
            self.opened.set()
            try:
                self._read_until_error(port)
            except (serial.SerialException, OSError) as exc:
                self._fault(f"{self._port} failed: {exc}")
                self._stop.wait(delay)
            finally:
                self.opened.clear()
                port.close()

    def _read_until_error(self, port: serial.Serial) -> None:
        while not self._stop.is_set():
            data = port.read(64)
            if not data:
                continue
            for id_tag in self.parser.feed(data):
                if self._filter.seen(id_tag, self._clock()):
                    self._post(CardPresented(self._source, id_tag))
