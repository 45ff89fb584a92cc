"""`cpagent probe meter`: read an Eastron SDM meter once, or scan the bus for unit ids."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cpagent.commands.common import EX_OK, CliError
from cpagent.commands.devices import (
    EX_FAILED,
    check_port,
    connector_config,
    devices_held,
    open_error,
    optional_config,
)
from cpagent.commands.modbus_hints import exception_words, silence_hint
from hw.errors import MeterError
from hw.events import MeterSample
from hw.modbus_bus import BusError, BusSettings, ModbusBus

QUICK_UNITS = range(1, 17)  # looked at after a silent unit: Eastron's default and neighbours
EX_USAGE = 2


def probe_meter(args: argparse.Namespace) -> int:
    config = optional_config(args)
    conn = connector_config(config, args.connector) if config is not None else None
    meter = conn.meter if conn is not None and conn.meter.driver != "sim" else None
    port = args.port or (meter.port if meter is not None else None)
    if port is None:
        raise CliError(
            "no port: give --port PORT (or set [connector.meter] port and driver in the config)",
            EX_USAGE,
        )
    unit = args.unit or (meter.unit if meter is not None else 1)
    baudrate = args.baudrate or (meter.baudrate if meter is not None else 9600)
    model = args.model or (meter.driver if meter is not None else "sdm630")
    with devices_held(config):
        check_port(port)
        if args.scan:
            return _scan(port, baudrate, _units(args.units), args.timeout or 0.2)
        return _read_once(port, baudrate, unit, model, args.timeout or 0.5)


def _units(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        units = range(int(first), int(last or first) + 1)
    except ValueError:
        raise CliError(f"--units {text!r}: expected FIRST-LAST, e.g. 1-247", EX_USAGE) from None
    if not units or units[0] < 1 or units[-1] > 247:
        raise CliError(f"--units {text!r}: Modbus unit ids are 1-247", EX_USAGE)
    return units


def _bus(port: str, baudrate: int, timeout_s: float, retries: int) -> ModbusBus:
    return ModbusBus(
        port,
        settings=BusSettings(baudrate),
        timeout_s=timeout_s,
        retries=retries,
        dead_unit_backoff_s=0.0,
    )


def _read_once(port: str, baudrate: int, unit: int, model: str, timeout_s: float) -> int:
    from hw.meters.sdm import SdmMeter

    bus = _bus(port, baudrate, timeout_s, retries=1)
    try:
        meter = SdmMeter(model, port, unit=unit, bus=bus)
        sample = meter.read()
    except MeterError as exc:
        bus.close()
        raise CliError(
            f"{model.upper()} unit {unit} on {port} at {baudrate} baud: "
            f"{_failure_hint(exc, port, baudrate, unit, model)}",
            EX_FAILED,
        ) from None
    finally:
        bus.close()
    print(f"{meter.regmap.model} unit {unit} on {port} at {baudrate} baud:")
    for line in format_sample(sample):
        print(f"  {line}")
    return EX_OK


def format_sample(sample: MeterSample) -> list[str]:
    """One line per measurand with its unit (energy in kWh, as the meter's display)."""
    lines = [
        f"energy import   {sample.energy_wh / 1000:12.3f} kWh",
        f"active power    {sample.power_w:12.1f} W",
    ]
    phases = len(sample.voltage_v)
    for index in range(phases):
        name = f"L{index + 1}" if phases > 1 else "  "
        lines.append(f"voltage {name}      {sample.voltage_v[index]:12.1f} V")
    for index in range(phases):
        name = f"L{index + 1}" if phases > 1 else "  "
        lines.append(f"current {name}      {sample.current_a[index]:12.2f} A")
    if sample.frequency_hz is not None:
        lines.append(f"frequency       {sample.frequency_hz:12.2f} Hz")
    return lines


def _failure_hint(exc: MeterError, port: str, baudrate: int, unit: int, model: str) -> str:
    text = str(exc)
    words = exception_words(text)
    if words is not None:
        return (
            f"{words}; a device has unit id {unit} but does not read as an {model.upper()} "
            "(another --model, or another device type at this address?)"
        )
    if "cannot open" in text:
        return str(_open_failure(port, baudrate))
    return silence_hint(
        port,
        baudrate,
        unit,
        others_answering=lambda: answering(port, baudrate, [u for u in QUICK_UNITS if u != unit]),
    )


def _open_failure(port: str, baudrate: int) -> CliError:
    import serial

    try:
        serial.Serial(port, baudrate).close()
    except (serial.SerialException, OSError) as exc:
        return open_error(port, exc.__context__ or exc)
    return CliError(f"cannot open {port}", EX_FAILED)


def answering(
    port: str, baudrate: int, units: Any, timeout_s: float = 0.1, progress: bool = False
) -> list[int]:
    """The unit ids among `units` that answer a read of input register 0 (an exception reply
    counts: a device is there). Each unit costs at most `timeout_s`."""
    found: list[int] = []
    bus = _bus(port, baudrate, timeout_s, retries=0)
    units = list(units)
    interactive = progress and sys.stderr.isatty()
    try:
        for count, unit in enumerate(units, start=1):
            if interactive:
                print(
                    f"\rscanning unit {unit} ({count}/{len(units)}), {len(found)} found ",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            elif progress and (count == 1 or count % 25 == 0):
                print(f"scanning unit {unit} ({count}/{len(units)})", file=sys.stderr, flush=True)
            try:
                words = bus.read_input_registers(unit, 0x0000, 2)
            except BusError as exc:
                said = exception_words(str(exc))
                if said is None:
                    continue
                detail = said
            else:
                from hw.meters.sdm import decode_float32

                detail = (
                    f"input register 0 (L1 voltage on an SDM) = "
                    f"{decode_float32(words[0], words[1]):.1f}"
                )
            found.append(unit)
            if progress:
                print(("\r" if interactive else "") + f"unit {unit}: answers: {detail}", flush=True)
    finally:
        bus.close()
        if interactive:
            print(file=sys.stderr)
    return found


def _scan(port: str, baudrate: int, units: range, timeout_s: float) -> int:
    print(
        f"scanning units {units[0]}-{units[-1]} on {port} at {baudrate} baud, "
        f"{timeout_s:g} s per unit (at most {len(units) * timeout_s:.0f} s)",
        file=sys.stderr,
    )
    found = answering(port, baudrate, units, timeout_s, progress=True)
    if found:
        print(f"{len(found)} unit(s) answer: {', '.join(map(str, found))}")
        return EX_OK
    hint = silence_hint(port, baudrate, units[0], others_answering=list)
    raise CliError(
        f"no unit in {units[0]}-{units[-1]} answers on {port} at {baudrate} baud: {hint}", EX_FAILED
    )
