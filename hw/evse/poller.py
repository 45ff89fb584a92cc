"""A thread that reads an EvseController and posts pilot changes, faults and recoveries."""

from __future__ import annotations

import threading

from hw.events import (
    FAULT_CODES,
    DeviceFaulted,
    DeviceRecovered,
    EvseFault,
    EvseStatus,
    PilotChanged,
)
from hw.evse.base import primary_fault
from hw.interfaces import EvseController, Post


class EvsePoller:
    """Reads `evse` every `interval_s` seconds on its own thread (or at once after `poke()`).

    Posts PilotChanged on every change of the pilot letter (the first good read posts one with
    previous=None); DeviceFaulted(source, OCPP code, detail, vendor_code=EvseFault) when the
    most serious fault changes (a failed read is EvseFault.CONTROLLER_OFFLINE); and
    DeviceRecovered once no fault is left. The driver has already offered 0 A by then.
    A driver with `set_state_listener` (OpenEvse) gets `poke` as its listener.
    """

    def __init__(
        self, evse: EvseController, *, post: Post, source: str, interval_s: float = 1.0
    ) -> None:
        self._evse = evse
        self._post = post
        self._source = source
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.pilot: str | None = None
        self.fault: EvseFault | None = None
        self.last: EvseStatus | None = None
        self.reads = 0
        listen = getattr(evse, "set_state_listener", None)
        if callable(listen):
            listen(self.poke)  # a controller that announces changes (OpenEVSE $AT) wakes us

    @property
    def interval_s(self) -> float:
        """Seconds between reads (`[connector.evse] poll_interval_s`)."""
        return self._interval_s

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"evse-poller-{self._source}", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        """Read now instead of at the next interval (a controller announced a change)."""
        self._wake.set()

    def poll_once(self) -> None:
        """One read and its events (the thread's body; callable directly from tests)."""
        try:
            status = self._evse.read_status()
        except Exception as exc:  # EvseError, or a vendor error a driver let through
            self._fault_now(EvseFault.CONTROLLER_OFFLINE, str(exc))
            return
        self.reads += 1
        self.last = status
        fault = primary_fault(status.faults)
        if fault is not None:
            self._fault_now(fault, f"controller reports {', '.join(sorted(status.faults))}")
        elif self.fault is not None:
            self.fault = None
            self._post(DeviceRecovered(self._source))
        if status.pilot.value != self.pilot:
            previous, self.pilot = self.pilot, status.pilot.value
            self._post(PilotChanged(self._source, status.pilot.value, previous))

    def _fault_now(self, fault: EvseFault, detail: str) -> None:
        if fault == self.fault:
            return
        self.fault = fault
        self._post(
            DeviceFaulted(self._source, FAULT_CODES[fault].value, detail, vendor_code=fault.value)
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._wake.wait(self._interval_s)
            self._wake.clear()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to stop and join it for at most `timeout` s; True if it ended."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
