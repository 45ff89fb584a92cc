"""The bench's mock board: output levels outlive the process, PWM outputs record their duty."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero import MCP3008, Device, OutputDevice, PWMOutputDevice

from hw.evse.pilot_sim import SimPilotCircuit
from hw.evse.pwm import PwmPilot
from hw.mock_board import LatchedMockFactory, read_board, read_duties


def test_a_pwm_output_records_its_duty_and_a_relay_its_level(tmp_path: Path) -> None:
    board = tmp_path / "mock-gpio.json"
    factory = LatchedMockFactory(board)
    relay = OutputDevice(17, initial_value=False, pin_factory=factory)
    pwm = PWMOutputDevice(18, initial_value=1.0, frequency=1000, pin_factory=factory)
    relay.on()
    pwm.value = 0.25
    assert read_duties(board) == {"GPIO17": 1.0, "GPIO18": 0.25}
    assert read_board(board) == {"GPIO17": True, "GPIO18": True}
    pwm.close()  # a released PWM line is low: what a stopped Pi leaves
    relay.off()
    assert read_duties(board) == {"GPIO17": 0.0, "GPIO18": 0.0}


def test_the_simulated_pilot_circuit_reads_the_duty_as_its_offer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = LatchedMockFactory(tmp_path / "mock-gpio.json")
    # gpiozero 2.0's software SPI makes its bus on the default factory (evse_wiring does the
    # same for the daemon's mock board)
    monkeypatch.setattr(Device, "pin_factory", factory)
    circuit = SimPilotCircuit(factory, 18)  # first: the ADC's SPI pins are its own
    adc = MCP3008(channel=0, pin_factory=factory)
    pilot = PwmPilot(18, max_current_a=16.0, adc=adc, samples=2, pin_factory=factory)
    try:
        assert pilot.read_status().pilot.value == "A"
        circuit.plug()
        assert pilot.read_status().pilot.value == "B"  # 9 V: plugged, nothing offered
        pilot.set_current_a(10.0)
        status = pilot.read_status()
        assert (status.pilot.value, status.offered_current_a) == ("C", 10.0)
        assert circuit.vehicle.draw_a == 10.0  # it could take 32 A
        circuit.inject_fault("PilotShort")
        assert pilot.read_status().pilot.value == "E"
    finally:
        pilot.close()
        adc.close()
