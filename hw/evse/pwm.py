"""A DIY control pilot: 1 kHz PWM on a GPIO, pilot level read through an SPI ADC (gpiozero)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from hw.errors import ConfigurationError, EvseError
from hw.events import EvseFault, EvseStatus, PilotState
from hw.evse.base import OfferedCurrent
from hw.evse.pilot import NOT_OFFERING_DUTY, PilotClassifier, current_for_duty, duty_for_current
from hw.interfaces import Clock

ADC_CHIPS = ("MCP3002", "MCP3004", "MCP3008", "MCP3202", "MCP3204", "MCP3208")

# A common front end maps the +-12 V pilot linearly onto the ADC's 0-3.3 V:
# pilot_v = adc_v * 24 / 3.3 - 12. Calibrate `adc_scale` / `adc_offset_v` for your divider.
DEFAULT_ADC_SCALE = 24.0 / 3.3
DEFAULT_ADC_OFFSET_V = -12.0

# IEC 61851-1 Annex A: the pilot is 1 kHz, and at 6 A (10 %) its high phase lasts 100 us of
# every 1 ms. A burst of samples shorter than one period can fall wholly in the -12 V phase
# and read state F: samples are taken for at least one period and a margin.
SAMPLE_WINDOW_S = 1.2e-3
MAX_SAMPLES = 500  # bounds a burst whose clock does not move


class PwmPilot:
    """An EvseController made of a PWM output (IEC 61851-1 Annex A) and an ADC.

    `pwm_pin` carries 1 kHz PWM whose duty follows Table A.8 (`duty_for_current`); 0 A is
    100 % (+12 V constant: not offering). `read_status()` reads the ADC in a burst of at
    least `samples` readings spanning at least SAMPLE_WINDOW_S (more than one PWM period,
    so a short high phase is not missed) and takes the highest reading as the pilot's high
    level (`pilot_v = adc_v * adc_scale + adc_offset_v`), classified with hysteresis
    (pilot.PilotClassifier). The burst is timed with `clock`. State E
    and F latch 0 A (faults PILOT_SHORT / PILOT_FAULT). The driver does not switch the
    contactor: with this back-end the relay driver does. When the Pi stops, the GPIO goes
    low: with the usual front end that is -12 V, state F, and every EV stops drawing.
    """

    def __init__(
        self,
        pwm_pin: int | str,
        *,
        max_current_a: float = 16.0,
        adc_chip: str = "MCP3008",
        adc_channel: int = 0,
        adc_device: int = 0,
        adc_scale: float = DEFAULT_ADC_SCALE,
        adc_offset_v: float = DEFAULT_ADC_OFFSET_V,
        samples: int = 16,
        active_high: bool = True,
        pin_factory: Any = None,
        adc: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        import gpiozero

        if samples < 1:
            raise ConfigurationError(f"samples must be at least 1, not {samples}")
        if adc is None and adc_chip.upper() not in ADC_CHIPS:
            raise ConfigurationError(f"unknown ADC {adc_chip!r}; expected one of {ADC_CHIPS}")
        self._lock = threading.Lock()
        self._clock = clock
        self._scale = adc_scale
        self._offset_v = adc_offset_v
        self._samples = samples
        self._classifier = PilotClassifier()
        self._closed = False
        self.level_v: float | None = None
        self._own_adc = adc is None
        try:
            if adc is None:
                chip = getattr(gpiozero, adc_chip.upper())
                adc = chip(channel=adc_channel, device=adc_device, pin_factory=pin_factory)
            self._adc = adc
            self._pwm = gpiozero.PWMOutputDevice(
                pwm_pin,
                active_high=active_high,
                initial_value=NOT_OFFERING_DUTY,
                frequency=1000,
                pin_factory=pin_factory,
            )
        except Exception as exc:  # gpiozero: pin in use, bad channel, SPI not available
            if self._own_adc and adc is not None:
                adc.close()
            raise ConfigurationError(f"cannot set up PWM pilot on {pwm_pin!r}: {exc}") from exc
        self._current = OfferedCurrent(max_current_a, self._write, step_a=0.1)
        self._current.reassert()

    def _write(self, amps: float) -> None:
        try:
            self._pwm.value = duty_for_current(amps)
        except Exception as exc:  # gpiozero: closed device, pin errors
            raise EvseError(f"PWM pilot: {exc}") from exc

    @property
    def offered_current_a(self) -> float:
        return self._current.amps

    @property
    def duty(self) -> float:
        return float(self._pwm.value)

    def set_current_a(self, amps: float) -> None:
        with self._lock:
            if self._closed:
                raise EvseError("PWM pilot: closed")
            self._current.set(amps)

    def read_status(self) -> EvseStatus:
        with self._lock:
            if self._closed:
                raise EvseError("PWM pilot: closed")
            try:
                high = self._high_level_v()
            except Exception as exc:  # SPI errors
                self._current.latch_off()
                raise EvseError(f"PWM pilot ADC: {exc}") from exc
            self.level_v = high * self._scale + self._offset_v
            pilot = self._classifier.feed(self.level_v)
            faults: frozenset[EvseFault] = frozenset()
            if pilot is PilotState.E:
                faults = frozenset({EvseFault.PILOT_SHORT})
            elif pilot is PilotState.F:
                faults = frozenset({EvseFault.PILOT_FAULT})
            if faults:
                self._current.latch_off()
            offered = current_for_duty(float(self._pwm.value))
            return EvseStatus(self._clock(), pilot, faults, offered)

    def _high_level_v(self) -> float:
        start = self._clock()
        high, taken = float(self._adc.voltage), 1
        while taken < self._samples or (
            self._clock() - start < SAMPLE_WINDOW_S and taken < MAX_SAMPLES
        ):
            high = max(high, float(self._adc.voltage))
            taken += 1
        return high

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(EvseError):
                self._current.set(0)
            self._pwm.close()
            if self._own_adc:
                self._adc.close()
