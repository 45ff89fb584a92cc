"""EVSE-DIN / EVSE-WB / SimpleEVSE (EV-Racing) Modbus holding registers as data tables."""

from __future__ import annotations

from dataclasses import dataclass

from hw.events import EvseFault, PilotState


@dataclass(frozen=True, slots=True)
class HoldingRegister:
    """One 16-bit holding register (read: function 03, write: function 16)."""

    address: int
    name: str
    writable: bool
    doc: str


# Sources: the EVSE-WB/DIN datasheet's register table as quoted by the field's drivers
# (evcc charger/evsedin.go, openWB packages/modules/common/evse.py, SimpleEVSE-WiFi,
# esphome evse-wallbox). Registers 1000-1007 are runtime values (RAM); 2000-2017 are the
# board's configuration (EEPROM: the driver only reads them - writes wear the EEPROM and change
# what the board does on its own).
REGISTERS: tuple[HoldingRegister, ...] = (
    HoldingRegister(1000, "configured_current", True, "A offered (0 = charging disabled)"),
    HoldingRegister(1001, "output_current", False, "A the PWM offers now"),
    HoldingRegister(
        1002,
        "vehicle_state",
        False,
        "1 ready, 2 EV present, 3 charging, 4 charging with ventilation, 5 failure",
    ),
    HoldingRegister(1003, "cable_limit", False, "A the cable's PP resistor allows"),
    HoldingRegister(
        1004,
        "control",
        True,
        "bit0 turn off charging now, bit1 run self-test and RCD test, bit2 clear RCD error",
    ),
    HoldingRegister(1005, "firmware", False, "firmware revision"),
    HoldingRegister(1006, "evse_state", False, "1 steady 12 V, 2 PWM on, 3 off (steady 12 V)"),
    HoldingRegister(
        1007,
        "status_fails",
        False,
        "bit0 relay on, bit1 diode check failed, "
        "bit2 vent required failed, bit3 waiting for pilot release, "
        "bit4 RCD test in progress, bit5 RCD check error",
    ),
    HoldingRegister(2000, "current_after_boot", True, "A written to 1000 at power-up"),
    HoldingRegister(2001, "modbus", True, "0 Modbus off, 1 on (factory: off)"),
    HoldingRegister(2002, "min_current", True, "lowest A accepted in 1000 (default 6)"),
    HoldingRegister(2003, "analog_input", True, "analog current input configuration"),
    HoldingRegister(2004, "power_on", True, "behaviour at power-up / after button"),
    HoldingRegister(
        2005,
        "config_bits",
        True,
        "bit7 0.01 A steps in 1000/1001 (fw >= 17), bit13 disable after charge, bit14 disable now",
    ),
    HoldingRegister(2006, "current_sharing", True, "current sharing mode"),
    HoldingRegister(2007, "pp_detection", True, "PP detection / board maximum A"),
    *(
        HoldingRegister(2010 + i, f"button_amps_{i + 1}", True, "button current step")
        for i in range(8)
    ),
)
BY_NAME: dict[str, HoldingRegister] = {r.name: r for r in REGISTERS}
BY_ADDRESS: dict[int, HoldingRegister] = {r.address: r for r in REGISTERS}

CURRENT = 1000
# 1000-1006 in one read: current, state, firmware. Every firmware answers these (SimpleEVSE-
# WiFi src/main.cpp reads exactly them); a SimpleEVSE with firmware 10 does not answer a read
# that includes 1007 (esphome-evse-wallbox issue #12), so 1007 is read alone, and only when
# 1002 says "5: failure (e.g. diode check, RCD failure)", to name the fault.
RUNTIME_BLOCK = (1000, 7)
STATUS_BITS = 1007
CONFIG_BITS = 2005
HUNDREDTHS_BIT = 1 << 7  # register 2005 bit 7: currents in 0.01 A (firmware >= 17)
HUNDREDTHS_MIN_FIRMWARE = 17

# Register 1002 -> the pilot letter. 5 ("failure") has no letter of its own: the board drives
# the pilot to -12 V (state F) and the fault bits of 1007 say why.
VEHICLE_STATES: dict[int, PilotState] = {
    1: PilotState.A,
    2: PilotState.B,
    3: PilotState.C,
    4: PilotState.D,
    5: PilotState.F,
}
FAILURE_STATE = 5

# Register 1007 bits that are faults by themselves. Older datasheets call bit4 "RCD check
# error"; newer firmware moved that to bit5 and uses bit4 for "RCD test in progress" - so bit4
# is read as a residual-current fault only together with vehicle state 5 (failure).
STATUS_FAULT_BITS: dict[int, EvseFault] = {
    1 << 1: EvseFault.DIODE_CHECK,
    1 << 2: EvseFault.VENTILATION,
    1 << 5: EvseFault.RESIDUAL_CURRENT,
}
RCD_BIT4 = 1 << 4


def decode_faults(vehicle_state: int, status_bits: int) -> frozenset[EvseFault]:
    """The faults that registers 1002 and 1007 report."""
    faults = {fault for bit, fault in STATUS_FAULT_BITS.items() if status_bits & bit}
    if vehicle_state == FAILURE_STATE:
        if status_bits & RCD_BIT4:
            faults.add(EvseFault.RESIDUAL_CURRENT)
        if not faults:
            faults.add(EvseFault.CONTROLLER_FAILURE)
    elif vehicle_state not in VEHICLE_STATES:
        faults.add(EvseFault.CONTROLLER_FAILURE)
    return frozenset(faults)
