"""A thread that reads an EnergyMeter at an interval, or at once on request, and posts samples."""

from __future__ import annotations

import queue
import threading

from hw.errors import HardwareError
from hw.events import DeviceFaulted, DeviceRecovered, FaultCode, MeterReadFailed, MeterSampled
from hw.interfaces import EnergyMeter, Post


class MeterPoller:
    """Reads `meter` every `interval_s` seconds on its own thread.

    Posts MeterSampled for every good read; the first failed read (after the driver's own
    bounded retries) posts DeviceFaulted(code="PowerMeterFailure" unless the error names
    another code), later failures post nothing more; the first good read after a fault posts
    DeviceRecovered, then MeterSampled. Vendor exceptions other than HardwareError are treated
    as failures too, so the thread never dies.

    `read_now(request)` (any thread, never blocks) asks for one read as soon as the read in
    progress, if any, is done; its sample is posted as MeterSampled(..., request=request),
    so the owner knows the reading was taken after it asked (e.g. after opening the relay).
    A failed on-demand read posts MeterReadFailed(source, request) as well.
    """

    def __init__(
        self, meter: EnergyMeter, *, post: Post, source: str, interval_s: float = 1.0
    ) -> None:
        self._meter = meter
        self._post = post
        self._source = source
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._requests: queue.SimpleQueue[int | None] = queue.SimpleQueue()
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

    def read_now(self, request: int) -> None:
        """Ask for one read at once; answered by an event carrying `request` (thread-safe)."""
        self._requests.put(request)

    def poll_once(self, request: int | None = None) -> None:
        """One read and its events (the thread's body; callable directly from tests)."""
        try:
            sample = self._meter.read()
        except Exception as exc:
            if request is not None:
                self._post(MeterReadFailed(self._source, request, str(exc)))
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
        self._post(MeterSampled(self._source, sample, request))

    def _run(self) -> None:
        request: int | None = None
        while not self._stop.is_set():
            self.poll_once(request)
            try:  # the next periodic read, unless a read_now request comes first
                request = self._requests.get(timeout=self._interval_s)
            except queue.Empty:
                request = None

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to stop and join it for at most `timeout` s; True if it ended."""
        self._stop.set()
        self._requests.put(None)  # wake the thread from its wait
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
