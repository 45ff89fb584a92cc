"""`cpagent probe meter|evse|rfid`: talk to one device on the wire and say what it answered."""

from __future__ import annotations

import argparse
import functools
import queue
import sys
import time
from typing import Any

from cpagent.commands.common import EX_OK, CliError, run_guarded
from cpagent.commands.devices import (
    EX_FAILED,
    add_config_option,
    check_port,
    connector_config,
    devices_held,
    optional_config,
    quiet_vendor_logs,
    stop_on_sigterm,
)

EPILOG = """\
Each probe reads ports from the config (--config FILE, default /etc/cpagent/cpagent.toml
if it exists) unless given here, and refuses while `cpagent run` holds the devices or
another process has the serial port open (naming its pid). A failure ends with a hint
naming the likely cause. Exit codes: 0 answered · 1 the device did not answer as it
should · 2 bad options · 69 port missing or busy · 75 `cpagent run` holds the devices ·
77 permission denied · 78 bad config.

examples:
  cpagent probe meter --port /dev/ttyUSB0 --unit 1
  cpagent probe meter --port /dev/ttyUSB0 --scan
  cpagent probe evse --driver evse-din --port /dev/ttyUSB0 --unit 2
  cpagent probe evse --driver openevse --port /dev/ttyACM0
  cpagent probe rfid --driver pn532 --port /dev/serial0
  cpagent probe rfid --config /etc/cpagent/cpagent.toml --count 1 --timeout 30
"""


EX_INTERRUPTED = 130  # the shell's code for Ctrl-C


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="talk to one device: meter, EVSE controller or card reader",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    devices = parser.add_subparsers(dest="device", metavar="DEVICE", required=True)
    _meter_parser(devices)
    _evse_parser(devices)
    _rfid_parser(devices)


def _subparser(devices: Any, name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = devices.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    return parser


def _meter_parser(devices: Any) -> None:
    parser = _subparser(
        devices,
        "meter",
        "read an Eastron SDM meter once, or scan unit ids",
        """\
One reading with every measurand, or with --scan the unit ids that answer (progress on
stderr, --timeout seconds per unit: 247 units take about 50 s at the default 0.2 s).
A failure names the likely cause: an exception reply (in words), another unit id that
answers, bytes that are no Modbus frame (baud rate, A/B swapped), or silence (wiring).

examples:
  cpagent probe meter --port /dev/ttyUSB0 --unit 1 --model sdm630
  cpagent probe meter --port /dev/ttyUSB0 --scan --units 1-32
  cpagent probe meter --config /etc/cpagent/cpagent.toml --connector 2
""",
    )
    parser.add_argument("--port", help="serial port (default: [connector.meter] port)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--unit", type=int, help="Modbus unit id 1-247 (default: config, else 1)")
    group.add_argument("--scan", action="store_true", help="look for every unit id that answers")
    parser.add_argument(
        "--units",
        default="1-247",
        metavar="FIRST-LAST",
        help="unit ids --scan tries (default 1-247)",
    )
    parser.add_argument("--baudrate", type=int, help="line speed (default: config, else 9600)")
    parser.add_argument(
        "--model",
        choices=("sdm630", "sdm120", "sdm72"),
        help="register map (default: config driver, else sdm630)",
    )
    parser.add_argument(
        "--connector",
        type=int,
        default=1,
        metavar="N",
        help="which [[connector]]'s meter to take from the config (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="reply timeout per request (default 0.5; 0.2 per unit for --scan)",
    )
    parser.set_defaults(func=functools.partial(run_guarded, _run_meter))


def _run_meter(args: argparse.Namespace) -> int:
    from cpagent.commands.probe_meter import probe_meter

    quiet_vendor_logs(args)
    return _interruptible(probe_meter, args)


def _interruptible(func: Any, args: argparse.Namespace) -> int:
    """Ctrl-C or SIGTERM ends the probe with 130 and one line, not a traceback (the drivers'
    `finally:` blocks close ports and leave an EVSE controller at 0 A on the way out)."""
    try:
        with stop_on_sigterm():
            code: int = func(args)
            return code
    except KeyboardInterrupt:
        print("cpagent: interrupted", file=sys.stderr)
        return EX_INTERRUPTED


def _evse_parser(devices: Any) -> None:
    parser = _subparser(
        devices,
        "evse",
        "identify an EVSE controller and show its pilot state",
        """\
Shows the controller's firmware, the control pilot state letter (IEC 61851-1) and what
it means, the current it offers and its faults. Probing offers 0 A (the safe state: a
car connected stops drawing current) and leaves it at 0 A.

examples:
  cpagent probe evse --driver evse-din --port /dev/ttyUSB0 --unit 2
  cpagent probe evse --driver openevse --port /dev/ttyACM0 --baudrate 115200
""",
    )
    from cpagent.commands.evse_access import add_evse_options

    add_evse_options(parser)
    parser.set_defaults(
        func=functools.partial(run_guarded, functools.partial(_interruptible, _probe_evse))
    )


def _probe_evse(args: argparse.Namespace) -> int:
    from cpagent.commands.evse_access import evse_target, failure, identity, open_evse, status_lines
    from hw.errors import EvseError

    quiet_vendor_logs(args)
    config = optional_config(args)
    target = evse_target(args, connector_config(config, args.connector) if config else None)
    with devices_held(config):
        check_port(target.port)
        evse = open_evse(target, max_current_a=16.0)
        try:
            status = evse.read_status()
            name = identity(evse, target)
        except EvseError as exc:
            raise failure(exc, evse, target) from None
        finally:
            evse.close()
    print(name)
    for line in status_lines(status):
        print(f"  {line}")
    return EX_OK


def _rfid_parser(devices: Any) -> None:
    parser = _subparser(
        devices,
        "rfid",
        "print the idTag of every card presented",
        """\
Prints one line per card presentation (the idTag as the daemon would send it) until
Ctrl-C, or until --count cards were read, or --timeout seconds passed (exit 1 if fewer
than --count cards, or none, were seen by then). The PN532's firmware is shown once it
answers; reader faults go to stderr and the reader is retried.

examples:
  cpagent probe rfid --driver pn532 --port /dev/serial0
  cpagent probe rfid --driver rdm6300 --port /dev/ttyUSB1 --count 1 --timeout 20
""",
    )
    parser.add_argument(
        "--driver", choices=("rdm6300", "pn532"), help="reader type (default: [rfid] driver)"
    )
    parser.add_argument("--port", help="serial port (default: [rfid] port)")
    parser.add_argument("--baudrate", type=int, help="PN532 line speed (default 115200)")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N cards")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    parser.set_defaults(func=functools.partial(run_guarded, _probe_rfid))


PN532_ANSWER_S = 3.0  # a PN532 answers its start-up in well under a second


def _probe_rfid(args: argparse.Namespace) -> int:
    config = optional_config(args)
    rfid = (
        config.rfid if config is not None and config.rfid.driver in ("rdm6300", "pn532") else None
    )
    driver = args.driver or (rfid.driver if rfid else None)
    port = args.port or (rfid.port if rfid else None)
    if driver is None or port is None:
        raise CliError(
            "give --driver rdm6300|pn532 and --port PORT (or set [rfid] driver and "
            "port in the config)",
            2,
        )
    baudrate = args.baudrate or (rfid.baudrate if rfid and rfid.baudrate else 115200)
    events: queue.Queue[object] = queue.Queue()
    with devices_held(config), stop_on_sigterm():
        check_port(port)
        reader = _reader(driver, port, baudrate, events.put)
        reader.start()
        try:
            return _print_cards(args, driver, port, baudrate, reader, events)
        except KeyboardInterrupt:
            return EX_OK
        finally:
            reader.stop()


def _reader(driver: str, port: str, baudrate: int, post: Any) -> Any:
    if driver == "pn532":
        from hw.rfid.pn532 import Pn532Reader

        return Pn532Reader(port, post=post, source="probe", baudrate=baudrate)
    from hw.rfid.rdm6300 import Rdm6300Reader

    return Rdm6300Reader(port, post=post, source="probe")


def _print_cards(
    args: argparse.Namespace,
    driver: str,
    port: str,
    baudrate: int,
    reader: Any,
    events: queue.Queue[object],
) -> int:
    from hw.events import CardPresented, DeviceFaulted, DeviceRecovered

    start = time.monotonic()
    deadline = None if args.timeout is None else start + args.timeout
    identified = driver != "pn532"
    if identified:
        print(f"RDM6300 on {port} (125 kHz EM4100 cards): present a card", file=sys.stderr)
    cards = 0
    while args.count is None or cards < args.count:
        try:
            event: object = events.get(timeout=0.1)
        except queue.Empty:
            event = None
        now = time.monotonic()
        # Identity before the first card: the firmware is known before the first poll.
        if not identified and reader.firmware is not None:
            identified = True
            fw = reader.firmware
            print(
                f"PN532 firmware {fw.version}.{fw.revision} (IC 0x{fw.ic:02X}) on {port} at "
                f"{baudrate} baud: present a card",
                file=sys.stderr,
            )
        elif not identified and now - start > PN532_ANSWER_S:
            identified = True  # said once; keep waiting, the driver retries
            print(
                f"no answer from a PN532 on {port} at {baudrate} baud: set its mode switches "
                "to HSU (UART), cross TX/RX, power it from 3.3 V, check --baudrate",
                file=sys.stderr,
            )
        if isinstance(event, CardPresented):
            cards += 1
            print(event.id_tag, flush=True)
        elif isinstance(event, DeviceFaulted):
            print(f"reader fault: {event.code}: {event.detail}", file=sys.stderr)
        elif isinstance(event, DeviceRecovered):
            print("reader answers again", file=sys.stderr)
        if deadline is not None and now >= deadline and (args.count is None or cards < args.count):
            if args.count is None and cards:
                return EX_OK
            wanted = f"{args.count} card(s)" if args.count else "a card"
            print(
                f"cpagent: {cards} card(s) within {args.timeout:g} s (wanted {wanted})",
                file=sys.stderr,
            )
            return EX_FAILED
    return EX_OK
