"""Build an EVSE controller driver for the bring-up commands and say what its state means."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from cpagent.commands.common import CliError
from cpagent.commands.devices import EX_FAILED
from cpagent.commands.modbus_hints import exception_words, silence_hint
from hw.events import EvseStatus, PilotState

EVSE_DRIVERS = ("evse-din", "openevse")
EX_USAGE = 2

# IEC 61851-1 Annex A, Table A.3: what each control pilot state means at the charger.
PILOT_MEANING: dict[PilotState, str] = {
    PilotState.A: "no vehicle connected (+12 V)",
    PilotState.B: "vehicle connected, not ready to charge (+9 V)",
    PilotState.C: "vehicle connected and charging (+6 V)",
    PilotState.D: "vehicle charging, ventilation required (+3 V)",
    PilotState.E: "pilot shorted to PE, or the controller has no power (0 V): check the cable",
    PilotState.F: "controller not available / in a fault (-12 V)",
}


@dataclass(frozen=True, slots=True)
class EvseTarget:
    """Where the controller is: from the command line, else `[connector.evse]`."""

    driver: str
    port: str
    unit: int
    baudrate: int


def add_evse_options(parser: argparse.ArgumentParser) -> None:
    """--driver, --port, --unit, --baudrate, --connector (probe evse, test pilot)."""
    parser.add_argument(
        "--driver",
        choices=("evse-din", "openevse"),
        help="controller type (default: [connector.evse] driver)",
    )
    parser.add_argument("--port", help="serial port (default: [connector.evse] port)")
    parser.add_argument("--unit", type=int, help="Modbus unit id of an EVSE-DIN (default 1)")
    parser.add_argument(
        "--baudrate", type=int, help="line speed (default 9600 for evse-din, 115200 for openevse)"
    )
    parser.add_argument(
        "--connector",
        type=int,
        default=1,
        metavar="N",
        help="which [[connector]] to take settings from (default 1)",
    )


UNREACHABLE = {  # configured controllers these commands do not speak to, and what to do
    "sim": "on the bench, drive the simulated EV with `cpagent ctl ev {n} charge|stop` and "
    "watch `cpagent status`",
    "pwm": "check a DIY pilot with an oscilloscope (1 kHz, +12 V / -12 V) and an EV simulator "
    "(docs/wiring.md)",
}


def evse_target(args: argparse.Namespace, connector: Any) -> EvseTarget:
    """The options given, completed from the connector's `evse` table when the config has one."""
    table = getattr(connector, "evse", None) if connector is not None else None
    driver = args.driver or getattr(table, "driver", None)
    port = args.port or getattr(table, "port", None)
    if args.driver is None and driver in UNREACHABLE:
        n = getattr(args, "connector", 1)
        raise CliError(
            f'connector {n}\'s [connector.evse] driver is "{driver}": probe evse and test '
            f"pilot speak to evse-din and openevse boards only; {UNREACHABLE[driver].format(n=n)}",
            EX_USAGE,
        )
    if driver not in EVSE_DRIVERS or port is None:
        raise CliError(
            "give --driver evse-din|openevse and --port PORT (or configure the "
            "connector's [connector.evse] driver and port)",
            EX_USAGE,
        )
    unit = args.unit or getattr(table, "unit", None) or 1
    default_baud = 115200 if driver == "openevse" else 9600
    baudrate = args.baudrate or getattr(table, "baudrate", None) or default_baud
    return EvseTarget(driver, port, int(unit), int(baudrate))


def open_evse(target: EvseTarget, max_current_a: float) -> Any:
    """The driver (it offers 0 A from construction on); the caller closes it (0 A again)."""
    if target.driver == "evse-din":
        from hw.evse.evse_din import EvseDin

        return EvseDin(
            target.port, unit=target.unit, baudrate=target.baudrate, max_current_a=max_current_a
        )
    from hw.evse.openevse import OpenEvse

    # heartbeat_s None: a diagnosis leaves the board's heartbeat supervision (EEPROM) alone
    return OpenEvse(
        target.port, baudrate=target.baudrate, max_current_a=max_current_a, heartbeat_s=None
    )


def identity(evse: Any, target: EvseTarget) -> str:
    """One line naming the controller and its firmware (after a successful read)."""
    if target.driver == "evse-din":
        low = evse.min_current_a
        minimum = "" if low is None else f", minimum current {low:g} A"
        return (
            f"EVSE-DIN unit {target.unit} on {target.port} at {target.baudrate} baud: "
            f"firmware {evse.firmware}{minimum}"
        )
    from hw.errors import EvseError

    try:
        version = " ".join(evse.command("GV").args) or "unknown"
    except EvseError:
        version = "unknown ($GV refused)"
    return f"OpenEVSE on {target.port} at {target.baudrate} baud: firmware/RAPI {version}"


def status_lines(status: EvseStatus) -> list[str]:
    faults = ", ".join(sorted(status.faults)) or "none"
    return [
        f"pilot state {status.pilot.value}: {PILOT_MEANING[status.pilot]}",
        f"offered current {status.offered_current_a:g} A",
        f"faults: {faults}",
    ]


def failure(exc: Exception, evse: Any, target: EvseTarget) -> CliError:
    """A CliError naming the likely cause of a failed exchange (after closing the driver)."""
    text = str(exc)
    evse.close()
    where = f"{target.driver} on {target.port} at {target.baudrate} baud"
    if target.driver == "evse-din":
        words = exception_words(text)
        if words is not None:
            return CliError(
                f"{where}: {words}; is unit {target.unit} an EVSE-DIN board "
                "(another device at this address?)",
                EX_FAILED,
            )
        from cpagent.commands.probe_meter import QUICK_UNITS, answering

        hint = silence_hint(
            target.port,
            target.baudrate,
            target.unit,
            others_answering=lambda: answering(
                target.port, target.baudrate, [u for u in QUICK_UNITS if u != target.unit]
            ),
        )
        return CliError(f"{where}, unit {target.unit}: {hint}", EX_FAILED)
    if getattr(evse, "bad_frames", 0):
        return CliError(
            f"{where}: {evse.bad_frames} garbled line(s), no valid RAPI reply: a "
            "wrong baud rate (RAPI runs at 115200) or a loose TX/RX/GND wire",
            EX_FAILED,
        )
    return CliError(
        f"{where}: {text}: no answer - check TX/RX crossed and GND joined, the "
        "board's power, and that no WiFi module talks to it at the same time",
        EX_FAILED,
    )
