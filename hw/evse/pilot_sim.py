"""A simulated EV behind a mock-pin PWM pilot, read through a mock MCP3008 (tests, bench)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockSPIDevice

from hw.events import EvseFault, PilotState
from hw.evse.pilot import current_for_duty
from hw.evse.pwm import DEFAULT_ADC_OFFSET_V, DEFAULT_ADC_SCALE
from hw.evse.sim import SimVehicle, VehicleHandles

# IEC 61851-1 Table A.4: the pilot's positive level in each state (E: shorted to PE).
LEVELS_V: dict[PilotState, float] = {
    PilotState.A: 12.0,
    PilotState.B: 9.0,
    PilotState.C: 6.0,
    PilotState.D: 3.0,
    PilotState.E: 0.0,
    PilotState.F: -12.0,
}
PWM_PERIOD_S = 0.001  # IEC 61851-1 Annex A: 1 kHz


class SimClock:
    """A clock that moves only when told (shared by a driver and a twin under test)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now = start_s

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# SPI0 on a Pi (BCM): SCLK, MOSI, MISO, then CE0 / CE1 by ADC device number.
SPI0_PINS = (11, 10, 9)
SPI0_SELECT = (8, 7)


class MockPilotAdc(MockSPIDevice):
    """The slave side of an MCP3004/3008 (datasheet §6.1): after the start bit, SGL/DIFF and
    three channel bits it clocks out a null bit and the 10-bit result, MSB first.

    Every channel reads `level_v()` - the pilot voltage - converted back through the front
    end (`pilot_v = adc_v * scale + offset_v`) and a 3.3 V reference. With `duty` and a
    `clock` (a SimClock) it reads the 1 kHz waveform instead (IEC 61851-1 Annex A): the
    high level during the first `duty()` of each 1 ms period, -12 V after it, and each
    conversion moves the clock on by `conversion_s` (an ADC sample is an instant, not an
    average).
    """

    def __init__(
        self,
        level_v: Callable[[], float],
        *,
        scale: float = DEFAULT_ADC_SCALE,
        offset_v: float = DEFAULT_ADC_OFFSET_V,
        vref: float = 3.3,
        pin_factory: Any = None,
        clock_pin: int = SPI0_PINS[0],
        mosi_pin: int = SPI0_PINS[1],
        miso_pin: int = SPI0_PINS[2],
        select_pin: int = SPI0_SELECT[0],
        duty: Callable[[], float] | None = None,
        clock: SimClock | None = None,
        conversion_s: float = 20e-6,
    ) -> None:
        super().__init__(clock_pin, mosi_pin, miso_pin, select_pin, pin_factory=pin_factory)
        self.level_v = level_v
        self.duty = duty
        self.clock = clock
        self.conversion_s = conversion_s
        self.scale = scale
        self.offset_v = offset_v
        self.vref = vref
        self.conversions = 0
        self._state = "idle"
        self.rx_buf: list[int] = []

    def sample_v(self) -> float:
        """The pilot voltage at this conversion's instant."""
        level = self.level_v()
        if self.duty is None or self.clock is None:
            return level
        phase = (self.clock() % PWM_PERIOD_S) / PWM_PERIOD_S
        self.clock.advance(self.conversion_s)
        return level if phase < self.duty() else LEVELS_V[PilotState.F]

    def on_start(self) -> None:
        super().on_start()
        self._state = "idle"

    def on_bit(self) -> None:
        if self._state == "idle":
            if self.rx_buf[-1]:  # start bit
                self._state, self.rx_buf = "mode", []
        elif self._state == "mode":
            self._state, self.rx_buf = "channel", []
        elif self._state == "channel":
            if len(self.rx_buf) == 3:
                self.conversions += 1
                adc_v = (self.sample_v() - self.offset_v) / self.scale
                code = min(max(int(adc_v / self.vref * 1024), 0), 1023)
                self.tx_word(code, 12)  # sample clock, null bit, B9..B0
                self._state = "result"
        elif self._state == "result" and not self.tx_buf:
            self._state, self.rx_buf = "idle", []


class SimPilotCircuit(VehicleHandles):
    """The analog side of a DIY pilot on mock pins: a SimVehicle that reads the PWM pin's
    duty as its offer (Annex A Table A.7), and a MockPilotAdc on SPI0 that reads the level
    the vehicle makes. A PWM pin held low (duty 0: the Pi stopped) is -12 V, state F.

    Make it before the PwmPilot that reads it (the ADC's clock and select pins must be the
    simulated ones). `plug()`, `unplug()`, `request_charge()`, `inject_fault()` and
    `clear_fault()` are the bench's handles (`cpagent ctl ev`); the pilot faults it can
    show are a short to PE (PilotShort, state E) and a stuck -12 V (PilotFault, state F).
    """

    FAULTS = (EvseFault.PILOT_SHORT.value, EvseFault.PILOT_FAULT.value)

    def __init__(
        self, pin_factory: Any, pwm_pin: int | str, *, adc_device: int = 0, max_draw_a: float = 32.0
    ) -> None:
        self.vehicle = SimVehicle(max_draw_a=max_draw_a)
        self._factory = pin_factory
        self._pwm_pin = pwm_pin
        self._stuck_low = False
        self.adc = MockPilotAdc(
            self.level_v, pin_factory=pin_factory, select_pin=SPI0_SELECT[adc_device]
        )

    def duty(self) -> float:
        """The PWM pin's duty cycle now (0.0 while it is not an output)."""
        return float(self._factory.pin(self._pwm_pin).state)

    def level_v(self) -> float:
        """The pilot's positive level: the vehicle's state under what the duty offers."""
        duty = self.duty()
        if duty <= 0.0 or self._stuck_low:
            return LEVELS_V[PilotState.F]
        self.vehicle.offer(current_for_duty(duty))
        return LEVELS_V[self.vehicle.pilot]

    def inject_fault(self, code: str) -> None:
        """PilotShort or PilotFault; ValueError for a fault a pilot circuit cannot show."""
        if code == EvseFault.PILOT_SHORT.value:
            self.vehicle.short_pilot(True)
        elif code == EvseFault.PILOT_FAULT.value:
            self._stuck_low = True
        else:
            raise ValueError(
                f"a simulated pwm pilot shows {' or '.join(self.FAULTS)}, not {code!r}"
            )

    def clear_fault(self) -> None:
        self.vehicle.short_pilot(False)
        self._stuck_low = False
