"""A thread that reads an EnergyMeter at an interval and posts samples, faults and recoveries."""

from __future__ import annotations

import threading

from hw.errors import HardwareError
from hw.events import DeviceFaulted, DeviceRecovered, FaultCode, MeterSampled
from hw.interfaces import EnergyMeter, Post


class MeterPoller:
    """Reads `meter` every `interval_s` seconds on its own thread.

    Posts MeterSampled for every good read; the first failed read (after the driver's own
    bounded retries) posts DeviceFaulted(code="PowerMeterFailure" unless the error names
    another code), later failures post nothing more; the first good read after a fault posts
    DeviceRecovered, then MeterSampled. Vendor exceptions other than HardwareError are treated
    as failures too, so the thread never dies.
    """

    def __init__(
        self, meter: EnergyMeter, *, post: Post, source: str, interval_s: float = 1.0
    ) -> None:
        self._meter = meter
        self._post = post
        self._source = source
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.faulted = False
        self.samples = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"meter-poller-{self._source}", daemon=True
        )
        self._thread.start()

    def poll_once(self) -> None:
        """One read and its events (the thread's body; callable directly from tests)."""
        try:
            sample = self._meter.read()
        except Exception as exc:
            if not self.faulted:
                self.faulted = True
                code = exc.code if isinstance(exc, HardwareError) else None
                self._post(
                    DeviceFaulted(
                        self._source, code or FaultCode.POWER_METER_FAILURE.value, str(exc)
                    )
                )
            return
        if self.faulted:
            self.faulted = False
            self._post(DeviceRecovered(self._source))
        self.samples += 1
        self._post(MeterSampled(self._source, sample))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self._interval_s)

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to stop and join it for at most `timeout` s; True if it ended."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
