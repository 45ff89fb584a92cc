"""Contactor relay on a GPIO output, with optional feedback input that detects a stuck contact."""

from __future__ import annotations

import threading
import time
from typing import Any

from hw.errors import RelayError
from hw.events import DeviceFaulted, DeviceRecovered, FaultCode
from hw.inputs import input_args
from hw.interfaces import Clock, Post


def _ignore(_event: object) -> None:
    return None


class SwitchRule:
    """The switching rule every RelayOutput here keeps: refused once closed, idempotent (no
    write when already in the asked state), skipped while `_holds()` (e.g. a welded twin).
    Subclasses give `_lock`, `_closed`, `_source`, `_is_on()` and `_set(on)`."""

    _lock: threading.Lock | threading.RLock
    _closed: bool
    _source: str

    def energise(self) -> None:
        self._switch(True)

    def de_energise(self) -> None:
        self._switch(False)

    def _switch(self, on: bool) -> None:
        with self._lock:
            if self._closed:
                raise RelayError(f"{self._source}: relay is closed")
            if self._holds() or self._is_on() == on:
                return  # idempotent: no new settle window, no pin write
            self._set(on)

    def _holds(self) -> bool:
        return False

    def _is_on(self) -> bool:
        raise NotImplementedError

    def _set(self, on: bool) -> None:
        raise NotImplementedError


class GpioRelay(SwitchRule):
    """A RelayOutput on a gpiozero OutputDevice; de-energised from construction on.

    Theory of operation for the feedback input (an auxiliary contact of the contactor):
    every switch sets the expected state and a deadline `settle_s` ahead. `check()` compares
    feedback with the expected state once the deadline has passed; a disagreement posts
    DeviceFaulted(code="PowerSwitchFailure") once, agreement after a fault posts
    DeviceRecovered. `check()` runs on every feedback edge and from a timer at the deadline
    (so a welded contact, which never produces an edge, is still caught); the daemon may also
    call it at any time. Feedback polarity: by default a high level means "contact closed"
    and the input floats (an external resistor); `feedback_active_low=True` with
    `feedback_pull="up"` reads an auxiliary contact wired to GND (hw.inputs).
    """

    def __init__(
        self,
        pin: int | str,
        *,
        active_high: bool = True,
        pin_factory: Any = None,
        post: Post = _ignore,
        source: str = "relay",
        feedback_pin: int | str | None = None,
        feedback_active_low: bool = False,
        feedback_pull: str = "none",
        settle_s: float = 0.2,
        clock: Clock = time.monotonic,
    ) -> None:
        from gpiozero import DigitalInputDevice, OutputDevice

        self._post = post
        self._source = source
        self._settle_s = settle_s
        self._clock = clock
        self._lock = threading.RLock()
        self._expected = False
        self._deadline = clock() + settle_s
        self._faulted = False
        self._timer: threading.Timer | None = None
        self._closed = False
        args = input_args(feedback_pull, feedback_active_low)
        self._invert = args.invert
        try:
            self._output = OutputDevice(
                pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
            )
            self._feedback = None
            if feedback_pin is not None:
                self._feedback = DigitalInputDevice(
                    feedback_pin,
                    pull_up=args.pull_up,
                    active_state=args.active_state,
                    pin_factory=pin_factory,
                )
        except Exception as exc:  # gpiozero errors: pin in use, bad pin, no factory
            if hasattr(self, "_output"):
                self._output.close()
            raise RelayError(f"{source}: cannot set up relay on pin {pin!r}: {exc}") from exc
        if self._feedback is not None:
            self._feedback.when_activated = self._on_feedback_edge
            self._feedback.when_deactivated = self._on_feedback_edge
            self._arm_timer()

    @property
    def energised(self) -> bool:
        with self._lock:
            return not self._closed and bool(self._output.value)

    @property
    def faulted(self) -> bool:
        with self._lock:
            return self._faulted

    @property
    def feedback_closed(self) -> bool | None:
        """What the feedback input says (True = contact closed); None without feedback."""
        with self._lock:
            if self._feedback is None or self._closed:
                return None
            return bool(self._feedback.value) != self._invert

    def _is_on(self) -> bool:
        return bool(self._output.value)

    def _set(self, on: bool) -> None:
        if on:
            self._output.on()
        else:
            self._output.off()
        self._expected = on
        self._deadline = self._clock() + self._settle_s
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._feedback is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        # A little past the deadline so check() sees it as passed on a real clock.
        self._timer = threading.Timer(self._settle_s * 1.05 + 0.001, self.check)
        self._timer.daemon = True
        self._timer.start()

    def _on_feedback_edge(self) -> None:
        self.check()

    def check(self) -> bool:
        """Compare feedback with the relay after the settle time; post on change. True if OK."""
        with self._lock:
            if self._feedback is None or self._closed:
                return True
            if self._clock() < self._deadline:
                return not self._faulted
            agrees = (bool(self._feedback.value) != self._invert) == self._expected
            if not agrees and not self._faulted:
                self._faulted = True
                want = "closed" if self._expected else "open"
                self._post(
                    DeviceFaulted(
                        self._source,
                        FaultCode.POWER_SWITCH_FAILURE.value,
                        f"contactor feedback disagrees: relay commanded {want}",
                    )
                )
            elif agrees and self._faulted:
                self._faulted = False
                self._post(DeviceRecovered(self._source))
            return agrees

    def close(self) -> None:
        """De-energise, then release the pins; idempotent."""
        with self._lock:
            if self._closed:
                return
            if self._timer is not None:
                self._timer.cancel()
            try:
                self._output.off()
            finally:
                self._closed = True
                self._output.close()
                if self._feedback is not None:
                    self._feedback.close()
