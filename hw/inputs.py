"""Digital input polarity and pull resistors, turned into gpiozero DigitalInputDevice settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hw.errors import ConfigurationError


class Pull(StrEnum):
    """The input's internal bias resistor (config spelling)."""

    NONE = "none"  # floating: an external resistor or a driven signal sets the idle level
    UP = "up"  # idle high: wire the contact to GND
    DOWN = "down"  # idle low: wire the contact to 3.3 V


@dataclass(frozen=True, slots=True)
class InputArgs:
    """gpiozero's `pull_up` / `active_state`, plus `invert` for what gpiozero cannot say.

    gpiozero ties polarity to the pull (pull-up means active-low) and refuses an explicit
    active_state with a pull; a pull-up input that is active-high (an open-collector sensor
    with an inverting stage) is therefore read with gpiozero's polarity and inverted by us.
    """

    pull_up: bool | None
    active_state: bool | None
    invert: bool


def input_args(pull: str, active_low: bool) -> InputArgs:
    """Settings for an input whose active level is low if `active_low`, biased by `pull`."""
    try:
        bias = Pull(pull)
    except ValueError:
        raise ConfigurationError(
            f"pull must be one of {', '.join(p.value for p in Pull)}, not {pull!r}"
        ) from None
    if bias is Pull.NONE:
        return InputArgs(None, not active_low, False)
    if bias is Pull.UP:
        return InputArgs(True, None, not active_low)
    return InputArgs(False, None, active_low)
