"""The TaskManager's call timer: one daemon thread calling ``tick()`` at the next deadline.

Only a TaskManager built without a clock starts one (the seed's API times calls out by
itself); the sans-I/O Session stays clock-free. With this module and task_manager.py, the
core's only thread.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Protocol


class Ticking(Protocol):
    """What the timer drives: the manager's ``tick()``, and where a failure is reported."""

    def tick(self) -> None: ...

    def _report(self, exc: BaseException) -> None: ...


class CallTimer:
    """One daemon thread calling the manager's ``tick()`` at the Session's next deadline."""

    def __init__(self, manager: weakref.ref[Ticking], clock: Callable[[], float]) -> None:
        self._manager = manager  # weak: an abandoned manager is collected, its thread ends
        self._clock = clock
        # re-entrant: the garbage collector may run the manager's finalizer (stop) on this
        # very thread while it holds the condition
        self._cond = threading.Condition(threading.RLock())
        self._deadline: float | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: float | None) -> None:
        """The Session's next deadline changed (or not); wake the thread if it is earlier."""
        with self._cond:
            old, self._deadline = self._deadline, deadline
            if self._stopped or deadline is None or deadline == old:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ocpp-call-timer", daemon=True
                )
                self._thread.start()
            elif old is None or deadline < old:
                self._cond.notify()  # a later deadline is seen when the earlier wait ends

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    deadline = self._deadline
                    if deadline is None:
                        self._cond.wait()
                        continue
                    left = deadline - self._clock()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                self._deadline = None  # the tick's drain schedules the next one
            manager = self._manager()
            if manager is None:
                return
            try:
                manager.tick()
            except Exception as exc:  # a sender/handler failure is reported, never kills us
                manager._report(exc)
            del manager
