"""Mock GPIO whose output levels outlive the process, as a real line's level can."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

BOARD_FILE = "mock-gpio.json"  # in the daemon's state dir: {"GPIO17": true, ...}


class LatchedMockFactory(MockFactory):
    """A MockFactory whose output pins record their level in a JSON file, and start from it.

    Why: a GPIO line released by a process that died (SIGKILL, OOM) is "uncontrolled from
    the userspace perspective, and may revert to its default state" (Linux GPIO chardev
    uAPI); the Raspberry Pi kernel keeps it at its last level (pinctrl_bcm2835's
    persist_gpio_outputs, on by default there). A plain mock pin dies
    with the process, so a test could never see a relay left energised; this board keeps the
    level in `path`, so another process (`cpagent safe-off`) finds it and drives it inactive.
    Input pins are plain mock pins (the bench drives them).
    """

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(pin_class=LatchedMockPin, **kwargs)
        self.board_path = path
        self._file_lock = threading.Lock()

    def recorded(self) -> dict[str, bool]:
        return read_board(self.board_path)

    def record(self, name: str, level: bool) -> None:
        with self._file_lock:
            levels = read_board(self.board_path)
            if levels.get(name) == level:
                return
            levels[name] = level
            partial = self.board_path.with_name(self.board_path.name + ".partial")
            try:
                partial.write_text(json.dumps(levels, sort_keys=True))
                os.replace(partial, self.board_path)
            except OSError:
                pass  # no state dir (yet): the board keeps levels in memory only


class LatchedMockPin(MockPin):
    """A mock pin that, as an output, takes its recorded level and records every change."""

    def _set_function(self, value: str) -> None:
        super()._set_function(value)
        if value == "output":
            factory = self.factory
            assert isinstance(factory, LatchedMockFactory)
            level = factory.recorded().get(self.info.name)
            if level is not None:
                self._state = level  # the line still holds what the last process left
            factory.record(self.info.name, bool(self._state))

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self._function == "output":
            factory = self.factory
            assert isinstance(factory, LatchedMockFactory)
            factory.record(self.info.name, bool(value))
        return changed


def read_board(path: Path) -> dict[str, bool]:
    """The recorded output levels (empty when there is no board file yet)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): bool(v) for k, v in data.items()} if isinstance(data, dict) else {}
