"""The thread rules both serial card readers keep: start once, stop and join, fault once."""

from __future__ import annotations

import threading

from hw.events import DeviceFaulted, FaultCode
from hw.interfaces import Post


class ReaderThread:
    """Start/stop of a reader's one thread, and DeviceFaulted("ReaderFailure") posted once
    per fault (the subclass clears `faulted` and posts DeviceRecovered when it reads again).
    Subclasses set THREAD_PREFIX, `_post`, `_source` and call `_init_thread()`; `_run` is
    the thread's body and returns once `_stop` is set."""

    THREAD_PREFIX = "reader"
    _post: Post
    _source: str

    def _init_thread(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.faulted = False

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"{self.THREAD_PREFIX}-{self._source}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _fault(self, detail: str) -> None:
        if not self.faulted:
            self.faulted = True
            self._post(DeviceFaulted(self._source, FaultCode.READER_FAILURE.value, detail))

    def _run(self) -> None:
        raise NotImplementedError
