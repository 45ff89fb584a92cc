"""A mock MCP3008 on gpiozero's mock SPI bus showing a simulated pilot level (for tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockSPIDevice

from hw.evse.pwm import DEFAULT_ADC_OFFSET_V, DEFAULT_ADC_SCALE


class MockPilotAdc(MockSPIDevice):
    """The slave side of an MCP3004/3008 (datasheet §6.1): after the start bit, SGL/DIFF and
    three channel bits it clocks out a null bit and the 10-bit result, MSB first.

    Every channel reads `level_v()` - the pilot voltage - converted back through the front
    end (`pilot_v = adc_v * scale + offset_v`) and a 3.3 V reference.
    """

    def __init__(
        self,
        level_v: Callable[[], float],
        *,
        scale: float = DEFAULT_ADC_SCALE,
        offset_v: float = DEFAULT_ADC_OFFSET_V,
        vref: float = 3.3,
        pin_factory: Any = None,
        clock_pin: int = 11,
        mosi_pin: int = 10,
        miso_pin: int = 9,
        select_pin: int = 8,
    ) -> None:
        super().__init__(clock_pin, mosi_pin, miso_pin, select_pin, pin_factory=pin_factory)
        self.level_v = level_v
        self.scale = scale
        self.offset_v = offset_v
        self.vref = vref
        self.conversions = 0
        self._state = "idle"
        self.rx_buf: list[int] = []

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
                adc_v = (self.level_v() - self.offset_v) / self.scale
                code = min(max(int(adc_v / self.vref * 1024), 0), 1023)
                self.tx_word(code, 12)  # sample clock, null bit, B9..B0
                self._state = "result"
        elif self._state == "result" and not self.tx_buf:
            self._state, self.rx_buf = "idle", []
