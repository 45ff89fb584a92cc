"""Builds a connector's EVSE controller from `[connector.evse]`, on the port's shared bus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpagent.config import ConnectorConfig
from cpagent.config.connector_sections import EVSE_DEFAULT_BAUD
from hw.interfaces import EvseController

if TYPE_CHECKING:
    from hw.evse.pilot_sim import SimPilotCircuit
    from hw.modbus_bus import BusRegistry


def build_evse(conf: ConnectorConfig, buses: BusRegistry, pin_factory: Any) -> EvseController:
    """The configured driver; it offers 0 A from construction on (the safety contract).

    An EVSE-DIN board takes the one Modbus client of its port (`buses`), the same one a
    meter configured on that port uses. Raises hw.errors.HardwareError."""
    evse = conf.evse
    assert evse is not None
    if evse.driver == "sim":
        from hw.evse.sim import SimEvse

        # its EV draws current per phase; the simulated meter's `phases` makes it power
        return SimEvse(max_current_a=conf.max_current_a)
    if evse.driver == "pwm":
        from hw.evse.pwm import PwmPilot

        assert evse.pwm_pin is not None  # the config requires it for pwm
        _default_mock_factory(pin_factory)
        return PwmPilot(
            evse.pwm_pin,
            max_current_a=conf.max_current_a,
            adc_channel=evse.adc_channel,
            pin_factory=pin_factory,
        )
    assert evse.port is not None  # the config requires a port for evse-din and openevse
    if evse.driver == "openevse":
        from hw.evse.openevse import OpenEvse

        return OpenEvse(
            evse.port,
            baudrate=evse.baudrate or EVSE_DEFAULT_BAUD["openevse"],
            max_current_a=conf.max_current_a,
            heartbeat_s=evse.heartbeat_s,
        )
    from hw.evse.evse_din import EvseDin
    from hw.modbus_bus import BusSettings

    bus = buses.bus(evse.port, settings=BusSettings(evse.baudrate or EVSE_DEFAULT_BAUD["evse-din"]))
    return EvseDin(evse.port, unit=evse.unit, max_current_a=conf.max_current_a, bus=bus)


def build_pilot_circuit(conf: ConnectorConfig, pin_factory: Any) -> SimPilotCircuit | None:
    """On mock pins (the bench), the simulated EV and ADC a `pwm` pilot reads; made before
    the pilot (`build_evse`), which takes the ADC's pins from it. None for anything else."""
    from gpiozero.pins.mock import MockFactory

    evse = conf.evse
    if evse is None or evse.driver != "pwm" or not isinstance(pin_factory, MockFactory):
        return None
    from hw.evse.pilot_sim import SimPilotCircuit

    assert evse.pwm_pin is not None  # the config requires it for pwm
    return SimPilotCircuit(pin_factory, evse.pwm_pin, max_draw_a=32.0)


def _default_mock_factory(pin_factory: Any) -> None:
    """gpiozero 2.0's software SPI bus (all a mock board has) makes its Device on the
    default pin factory, whatever factory the ADC was given: off a Pi that is no factory at
    all, so the mock board becomes the default. A Pi's own factories use hardware SPI."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    if isinstance(pin_factory, MockFactory) and Device.pin_factory is None:
        Device.pin_factory = pin_factory


class VehicleDraw:
    """What the simulated meter's EV may draw: the simulated vehicle's current (A), which
    never exceeds what the pilot offers (`hw.evse.sim.SimVehicle.draw_a`)."""

    def __init__(self, vehicle: Any) -> None:
        self._vehicle = vehicle

    @property
    def limit_a(self) -> float | None:
        amps: float = self._vehicle.draw_a
        return amps
