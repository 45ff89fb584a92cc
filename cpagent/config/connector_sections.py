"""`[[connector]]` with its meter and evse tables as dataclasses, and shared value ranges."""

from __future__ import annotations

from dataclasses import dataclass

from cpagent.config.rules import key

METER_DRIVERS = ("sdm630", "sdm120", "sdm72", "sim")
EVSE_DRIVERS = ("evse-din", "openevse", "pwm", "sim")
PULLS = ("up", "down", "none")
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
EVSE_DEFAULT_BAUD = {"evse-din": 9600, "openevse": 115200}  # the boards' factory speeds
GPIO = {"minimum": 0, "maximum": 53, "range_name": "a BCM GPIO number"}
MODBUS_UNIT = {"minimum": 1, "maximum": 247, "range_name": "a Modbus address"}
POSITIVE = {"above": 0}


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """`[connector.meter]`: the connector's energy meter (Modbus RTU, or simulated)."""

    driver: str = key("sim", "the meter model", choices=METER_DRIVERS)
    port: str | None = key(
        None,
        "serial device of the RS-485 adapter; meters and EVSE-DIN "
        "controllers may share it with different units",
        required_for=METER_DRIVERS[:-1],
    )
    unit: int = key(1, "Modbus address", **MODBUS_UNIT)
    baudrate: int = key(9600, "serial speed", choices=BAUDRATES)
    poll_interval_s: float = key(
        5.0,
        "seconds between reads (a transaction's start and stop read the meter at once)",
        **POSITIVE,
    )
    phases: int = key(
        1,
        "phases the simulated EV draws on (its power is at most `max_current_a` x 230 V x "
        "phases); a real meter's phases come from its model",
        choices=(1, 3),
        only_for=("sim",),
    )


@dataclass(frozen=True, slots=True)
class EvseConfig:
    """`[connector.evse]`: the EVSE controller driving the control pilot (IEC 61851-1)."""

    driver: str = key(
        doc="`evse-din`: EVSE-DIN / EVSE-WB / SimpleEVSE on Modbus RTU; "
        "`openevse`: OpenEVSE over RAPI serial; `pwm`: a 1 kHz PWM pilot on a "
        "GPIO read back through an MCP3008 ADC; `sim`: a simulated EV + EVSE",
        choices=EVSE_DRIVERS,
    )
    port: str | None = key(
        None,
        "serial device (evse-din: may be the meter's RS-485 bus, "
        "with another unit; openevse: its own port)",
        required_for=("evse-din", "openevse"),
        only_for=("evse-din", "openevse"),
    )
    unit: int = key(1, "the board's Modbus address", only_for=("evse-din",), **MODBUS_UNIT)
    baudrate: int | None = key(
        None,
        "serial speed",
        choices=BAUDRATES,
        only_for=("evse-din", "openevse"),
        default_doc=", ".join(f"{driver} {baud}" for driver, baud in EVSE_DEFAULT_BAUD.items()),
    )
    pwm_pin: int | None = key(
        None,
        "BCM GPIO of the 1 kHz pilot PWM output",
        required_for=("pwm",),
        only_for=("pwm",),
        **GPIO,
    )
    adc_channel: int = key(
        0,
        "the MCP3008 channel reading the pilot's high level",
        only_for=("pwm",),
        minimum=0,
        maximum=7,
    )
    poll_interval_s: float = key(
        1.0,
        "seconds between reads of the pilot state and faults (a plug-in or a fault is seen "
        "up to this late)",
        **POSITIVE,
    )
    heartbeat_s: int = key(
        0,
        "seconds the board waits for cpagent before it falls back to 6 A by itself (RAPI "
        "`$SY`, pulsed at every read; at least twice `poll_interval_s`); 0: supervision off, "
        "and switched off on the board",
        only_for=("openevse",),
        minimum=0,
        # open_evse HsExpirationCheck: `sinceLastPulse > (m_HsInterval * 1000)` is computed
        # in 16 bits on the board's ATmega328P, so intervals above 65 s wrap (66 s: 464 ms)
        maximum=65,
    )


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """`[[connector]]`: one outlet; connector ids are 1-based in file order (OCPP 1.6 §3.4)."""

    relay_pin: int | None = key(
        None,
        "BCM GPIO driving the contactor relay",
        required_unless="evse",
        default_doc="required without `[connector.evse]`",
        **GPIO,
    )
    relay_active_high: bool = key(True, "false for active-low relay boards")
    plug_pin: int | None = key(None, "BCM GPIO of the plug-present input", **GPIO)
    max_current_a: float = key(16.0, "the most current offered to the EV", **POSITIVE)
    relay_feedback_pin: int | None = key(
        None, "BCM GPIO reading the contactor's auxiliary contact (welded/stuck detection)", **GPIO
    )
    plug_active_low: bool = key(False, "true when a low level on `plug_pin` means plugged")
    plug_pull: str = key(
        "down", "`plug_pin`'s pull resistor (`none`: an external one)", choices=PULLS
    )
    relay_feedback_active_low: bool = key(
        False, "true when the auxiliary contact pulls the input to GND"
    )
    relay_feedback_pull: str = key("none", "`relay_feedback_pin`'s pull resistor", choices=PULLS)
    meter: MeterConfig = key(MeterConfig(), "the energy meter (`[connector.meter]`)")
    evse: EvseConfig | None = key(
        None,
        "the EVSE controller (`[connector.evse]`); with it, "
        "`relay_pin` and `plug_pin` are optional",
        default_doc="none (relay + plug wiring)",
    )
