"""Plug-present input on a GPIO (debounced by gpiozero), posting PlugChanged on every change."""

from __future__ import annotations

import threading
from typing import Any

from hw.errors import ConfigurationError
from hw.events import PlugChanged
from hw.inputs import input_args
from hw.interfaces import Post


class GpioPlug:
    """A PlugInput on a gpiozero DigitalInputDevice; posts PlugChanged(source, plugged).

    `active_low=True`: a low level means plugged (a contact to GND, an opto-coupler's
    collector). `pull` is the internal resistor: "down" (default), "up" or "none" (hw.inputs).
    No event is posted for the state at construction: read `plugged`.
    """

    def __init__(
        self,
        pin: int | str,
        *,
        post: Post,
        source: str = "plug",
        pin_factory: Any = None,
        active_low: bool = False,
        pull: str = "down",
        bounce_time: float | None = 0.05,
    ) -> None:
        from gpiozero import DigitalInputDevice

        self._post = post
        self._source = source
        self._lock = threading.Lock()
        args = input_args(pull, active_low)
        self._invert = args.invert
        try:
            self._input = DigitalInputDevice(
                pin,
                pull_up=args.pull_up,
                active_state=args.active_state,
                bounce_time=bounce_time,
                pin_factory=pin_factory,
            )
        except Exception as exc:  # gpiozero errors: pin in use, bad pin, bad pull settings
            raise ConfigurationError(f"{source}: cannot set up plug input {pin!r}: {exc}") from exc
        self._last = self._read()
        self._input.when_activated = self._changed
        self._input.when_deactivated = self._changed

    def _read(self) -> bool:
        return bool(self._input.value) != self._invert

    @property
    def plugged(self) -> bool:
        return self._read()

    def _changed(self) -> None:
        plugged = self._read()
        with self._lock:
            if plugged == self._last:
                return
            self._last = plugged
        self._post(PlugChanged(self._source, plugged))

    def close(self) -> None:
        self._input.close()
