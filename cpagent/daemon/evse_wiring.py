"""Builds a connector's EVSE controller from `[connector.evse]`, on the port's shared bus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpagent.config import ConnectorConfig
from hw.interfaces import EvseController

if TYPE_CHECKING:
    from hw.modbus_bus import BusRegistry

EVSE_DIN_BAUD = 9600
OPENEVSE_BAUD = 115200


def build_evse(conf: ConnectorConfig, buses: BusRegistry, pin_factory: Any) -> EvseController:
    """The configured driver; it offers 0 A from construction on (the safety contract).

    An EVSE-DIN board takes the one Modbus client of its port (`buses`), the same one a
    meter configured on that port uses. Raises hw.errors.HardwareError."""
    evse = conf.evse
    assert evse is not None
    if evse.driver == "sim":
        from hw.evse.sim import SimEvse, SimVehicle

        vehicle = SimVehicle(phases=conf.meter.phases if conf.meter.driver == "sim" else 1)
        return SimEvse(max_current_a=conf.max_current_a, vehicle=vehicle)
    if evse.driver == "pwm":
        from hw.evse.pwm import PwmPilot

        assert evse.pwm_pin is not None  # the config requires it for pwm
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
            evse.port, baudrate=evse.baudrate or OPENEVSE_BAUD, max_current_a=conf.max_current_a
        )
    from hw.evse.evse_din import EvseDin
    from hw.modbus_bus import BusSettings

    bus = buses.bus(evse.port, settings=BusSettings(evse.baudrate or EVSE_DIN_BAUD))
    return EvseDin(evse.port, unit=evse.unit, max_current_a=conf.max_current_a, bus=bus)


class VehicleDraw:
    """What the simulated meter's EV may draw: the simulated vehicle's current (A), which
    never exceeds what the pilot offers (`hw.evse.sim.SimVehicle.draw_a`)."""

    def __init__(self, vehicle: Any) -> None:
        self._vehicle = vehicle

    @property
    def limit_a(self) -> float | None:
        amps: float = self._vehicle.draw_a
        return amps
