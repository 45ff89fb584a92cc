"""Writes the current an EVSE controller offers from its own thread, off the owner loop."""

from __future__ import annotations

import logging
import threading

from hw.errors import EvseError
from hw.interfaces import EvseController

log = logging.getLogger(__name__)


class EvseWriter:
    """The owner asks (`offer`), a thread writes: a Modbus write waits for the bus (an
    EVSE-DIN's 200 ms quiet gap, a meter read in progress, retries on a silent board), and
    the owner loop must not. The newest value wins; a value not yet written is dropped when
    a newer one comes. `zero_now` (the exit paths) drops what is pending and writes 0 A at
    once on the calling thread; one lock orders it with the thread's writes, so 0 A is last.
    """

    def __init__(self, evse: EvseController, name: str) -> None:
        self._evse = evse
        self._name = name
        self._cond = threading.Condition()
        self._io = threading.Lock()
        self._wanted: float | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"evse-writer-{self._name}", daemon=True
            )
            self._thread.start()

    def offer(self, amps: float) -> None:
        with self._cond:
            self._wanted = amps
            self._cond.notify()

    def idle(self) -> bool:
        """Nothing waits to be written (for tests and the status)."""
        with self._cond:
            return self._wanted is None

    def zero_now(self) -> None:
        """Offer 0 A now, on this thread; raises EvseError if the controller cannot be told."""
        with self._io:
            with self._cond:
                self._wanted = None
            self._evse.set_current_a(0.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
            with self._io:
                with self._cond:
                    amps, self._wanted = self._wanted, None
                if amps is None:
                    continue  # zero_now came first and wrote 0 A
                try:
                    self._evse.set_current_a(amps)
                except (EvseError, ValueError) as exc:  # the driver re-asserts at its next read
                    log.error("%s: offering %g A failed: %s", self._name, amps, exc)

    def stop(self, timeout: float = 5.0) -> bool:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
