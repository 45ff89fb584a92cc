"""Mock GPIO whose output levels outlive the process, as a real line's level can."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

BOARD_FILE = "mock-gpio.json"  # in the daemon's state dir: {"GPIO17": true, "GPIO18": 0.1, ...}


class LatchedMockFactory(MockFactory):
    """A MockFactory whose output pins record their level in a JSON file, and start from it.

    Why: a GPIO line released by a process that died (SIGKILL, OOM) is "uncontrolled from
    the userspace perspective, and may revert to its default state" (Linux GPIO chardev
    uAPI); the Raspberry Pi kernel keeps it at its last level (pinctrl_bcm2835's
    persist_gpio_outputs, on by default there). A plain mock pin dies
    with the process, so a test could never see a relay left energised; this board keeps the
    level in `path`, so another process (`cpagent safe-off`) finds it and drives it inactive.
    Input pins are plain mock pins (the bench drives them). Every pin can do PWM (a `pwm`
    pilot on the bench), and a PWM output records its duty cycle (0.0-1.0) instead of a level.
    """

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(pin_class=LatchedMockPin, **kwargs)
        self.board_path = path
        self._file_lock = threading.Lock()

    def recorded(self) -> dict[str, bool]:
        return read_board(self.board_path)

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        """The pin `name`; one that exists is returned whatever its class (an SPI clock or
        select pin the bench's simulated ADC made is what the ADC's driver must get)."""
        if pin_class is None:
            for _header, info in self.board_info.find_pin(name):
                if info in self.pins:
                    return self.pins[info]
        return super().pin(name, pin_class, **kwargs)

    def record(self, name: str, level: bool | float) -> None:
        with self._file_lock:
            levels = _read(self.board_path)
            old = levels.get(name)
            if old is not None and type(old) is type(level) and old == level:
                return
            levels[name] = level
            partial = self.board_path.with_name(self.board_path.name + ".partial")
            try:
                partial.write_text(json.dumps(levels, sort_keys=True))
                os.replace(partial, self.board_path)
            except OSError:
                pass  # no state dir (yet): the board keeps levels in memory only


class LatchedMockPin(MockPWMPin):
    """A mock pin that, as an output, takes its recorded level and records every change
    (a PWM output: its duty cycle)."""

    def _set_function(self, value: str) -> None:
        super()._set_function(value)
        if value == "output":
            factory = self.factory
            assert isinstance(factory, LatchedMockFactory)
            level = factory.recorded().get(self.info.name)
            if level is not None:
                self._state = level  # the line still holds what the last process left
            factory.record(self.info.name, bool(self._state))

    def _set_frequency(self, value: float | None) -> None:
        if value is None and self._frequency is None:
            return  # a plain output being released keeps its level (MockPWMPin drops it)
        super()._set_frequency(value)

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self._function == "output":
            factory = self.factory
            assert isinstance(factory, LatchedMockFactory)
            pwm = self._frequency is not None
            factory.record(self.info.name, float(value) if pwm else bool(value))
        return changed


def read_board(path: Path) -> dict[str, bool]:
    """The recorded output levels (empty when there is no board file yet); a PWM output is
    high while its duty is above 0."""
    return {name: bool(value) for name, value in _read(path).items()}


def read_duties(path: Path) -> dict[str, float]:
    """The recorded outputs as duty cycles: a PWM output's duty, a plain one's 0.0 or 1.0."""
    return {name: float(value) for name, value in _read(path).items()}


def _read(path: Path) -> dict[str, bool | float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, bool | int | float)}
