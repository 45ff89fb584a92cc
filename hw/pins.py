"""Build a gpiozero pin factory from its configured name, and drive mock pins on the bench."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from hw.errors import ConfigurationError

# gpiozero's own factory names (its `gpiozero_pin_factories` entry points), imported lazily:
# `import lgpio` creates a FIFO in, and chdirs to, $LG_WD (default: the current directory),
# so the daemon sets LG_WD to its runtime directory and uses absolute paths everywhere.
FACTORIES: dict[str, str] = {
    "mock": "gpiozero.pins.mock:MockFactory",
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
}


def make_pin_factory(name: str, board_file: Path | None = None) -> Any:
    """Return a new gpiozero pin factory for `name` (see FACTORIES); raise ConfigurationError.
    With `board_file`, "mock" pins keep their output levels there (hw.mock_board)."""
    if name == "mock" and board_file is not None:
        from hw.mock_board import LatchedMockFactory

        return LatchedMockFactory(board_file)
    target = FACTORIES.get(name)
    if target is None:
        known = ", ".join(sorted(FACTORIES))
        raise ConfigurationError(f"unknown gpio pin_factory {name!r}; expected one of: {known}")
    module_name, _, class_name = target.partition(":")
    try:
        factory_class = getattr(importlib.import_module(module_name), class_name)
        return factory_class()
    except Exception as exc:  # vendor errors (BadPinFactory, ImportError, OSError) stop here
        raise ConfigurationError(f"gpio pin_factory {name!r} is not usable here: {exc}") from exc


def drive_mock_pin(pin_factory: Any, pin: int | str, high: bool) -> None:
    """Drive a MockFactory input pin high or low, as a wire on the bench would."""
    mock_pin = pin_factory.pin(pin)
    if not hasattr(mock_pin, "drive_high"):
        raise ConfigurationError(f"pin {pin!r} is not a mock pin; only pin_factory 'mock' drives")
    if high:
        mock_pin.drive_high()
    else:
        mock_pin.drive_low()


def mock_pin_state(pin_factory: Any, pin: int | str) -> bool:
    """Return the level of a MockFactory pin (True = high), e.g. to show a relay output."""
    return bool(pin_factory.pin(pin).state)
