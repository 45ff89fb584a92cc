"""`cpagent test relay|pilot`: switch one contactor or offer one current, then make it safe."""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

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

EX_USAGE = 2
SETTLE_S = 0.3  # a contactor closes in 20-50 ms; its auxiliary contact is read after this
DEFAULT_ON_S = 2.0  # `on` without --hold: long enough to hear it close and read the feedback
DEFAULT_PILOT_S = 10.0

EPILOG = """\
Safe by construction: the relay is de-energised when the command ends, however it ends
(Ctrl-C, SIGTERM, an error); `on` holds it for --hold seconds (default 2) and then opens
it again. `test pilot` offers the current for --hold seconds (default 10), then 0 A.
Both refuse while `cpagent run` holds the devices (naming its pid) and hold its lock
meanwhile, so the daemon cannot start in between. Exit codes: 0 ok · 1 the feedback
disagrees or the controller did not answer · 2 bad options · 69/75/77/78 as `probe`.

examples:
  cpagent test relay 1 on                       (config: /etc/cpagent/cpagent.toml)
  cpagent test relay 1 on --hold 30 --config /etc/cpagent/cpagent.toml
  cpagent test relay 1 off --pin 17 --feedback-pin 22 --pin-factory lgpio
  cpagent test pilot 1 6 --driver evse-din --port /dev/ttyUSB0 --unit 2
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test",
        help="switch one relay, or offer one current on the pilot, then make it safe",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parts = parser.add_subparsers(dest="part", metavar="PART", required=True)
    relay = parts.add_parser(
        "relay",
        help="energise or de-energise connector N's contactor relay",
        description="Switch connector N's relay, read its feedback contact back, and leave it "
        "de-energised.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    relay.add_argument("connector", type=int, metavar="N", help="connector number (1-based)")
    relay.add_argument("state", choices=("on", "off"))
    relay.add_argument(
        "--hold",
        type=float,
        metavar="SECONDS",
        help=f"how long `on` keeps it energised (default {DEFAULT_ON_S:g})",
    )
    relay.add_argument("--pin", type=int, help="relay GPIO (BCM; default: config relay_pin)")
    relay.add_argument(
        "--active-low",
        action="store_true",
        help="the relay board energises on a low level (with --pin)",
    )
    relay.add_argument(
        "--feedback-pin",
        type=int,
        help="auxiliary contact input (default: config relay_feedback_pin)",
    )
    relay.add_argument(
        "--pin-factory",
        choices=("lgpio", "rpigpio", "pigpio", "native", "mock"),
        help="gpiozero pin factory (default: config [gpio] pin_factory)",
    )
    add_config_option(relay)
    relay.set_defaults(func=functools.partial(run_guarded, _run_relay))
    pilot = parts.add_parser(
        "pilot",
        help="offer AMPS on connector N's control pilot, then 0 A",
        description="Offer AMPS through the EVSE controller, show the pilot state, then 0 A.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pilot.add_argument("connector", type=int, metavar="N", help="connector number (1-based)")
    pilot.add_argument("amps", type=float, metavar="AMPS", help="0, or 6 up to max_current_a")
    pilot.add_argument(
        "--hold",
        type=float,
        default=DEFAULT_PILOT_S,
        metavar="SECONDS",
        help=f"how long to offer it (default {DEFAULT_PILOT_S:g})",
    )
    from cpagent.commands.evse_access import add_evse_options

    add_evse_options(pilot)
    pilot.add_argument(
        "--max-current",
        type=float,
        metavar="A",
        help="highest AMPS allowed (default: config max_current_a, else 16)",
    )
    add_config_option(pilot)
    pilot.set_defaults(func=functools.partial(run_guarded, _run_pilot))


@dataclass(frozen=True, slots=True)
class RelayWiring:
    """One connector's relay output and optional feedback input."""

    pin: int
    active_high: bool = True
    feedback_pin: int | None = None
    feedback_active_low: bool = False
    feedback_pull: str = "none"

    def describe(self, energised: bool) -> str:
        high = energised == self.active_high
        return f"GPIO{self.pin} {'high' if high else 'low'}"


def _run_relay(args: argparse.Namespace) -> int:
    config = optional_config(args, required=args.pin is None)
    conn: Any = connector_config(config, args.connector) if config is not None else None
    if conn is None and args.pin is None:
        raise CliError("give --pin (or a config with this connector)", EX_USAGE)
    wiring = RelayWiring(
        pin=args.pin if args.pin is not None else conn.relay_pin,
        active_high=not args.active_low if args.pin is not None else conn.relay_active_high,
        feedback_pin=args.feedback_pin
        if args.feedback_pin is not None
        else getattr(conn, "relay_feedback_pin", None),
        feedback_active_low=bool(getattr(conn, "relay_feedback_active_low", False)),
        feedback_pull=getattr(conn, "relay_feedback_pull", "none"),
    )
    factory_name = args.pin_factory or (config.gpio.pin_factory if config else None)
    with devices_held(config):
        factory = _pin_factory(factory_name, config)
        hold = (args.hold if args.hold is not None else DEFAULT_ON_S) if args.state == "on" else 0.0
        ok = relay_test(
            wiring,
            factory,
            on=args.state == "on",
            hold_s=hold,
            name=f"connector {args.connector} relay",
        )
    return EX_OK if ok else EX_FAILED


def _pin_factory(name: str | None, config: Any) -> Any:
    from hw.errors import ConfigurationError
    from hw.mock_board import BOARD_FILE
    from hw.pins import make_pin_factory

    if name is None:
        return None  # gpiozero's default
    try:
        board = config.state.dir / BOARD_FILE if config is not None else None
        return make_pin_factory(name, board_file=board)
    except ConfigurationError as exc:
        raise CliError(
            f'{exc} (on a Pi 5: apt install python3-lgpio, pin_factory = "lgpio")', 69
        ) from None


def relay_test(
    wiring: RelayWiring,
    factory: Any,
    *,
    on: bool,
    hold_s: float,
    name: str,
    out: TextIO | None = None,
    settle_s: float = SETTLE_S,
) -> bool:
    """Switch the relay (on: for `hold_s`, then off), report the feedback each time; the
    relay is de-energised and released on every way out. True if the feedback agreed."""
    from hw.errors import RelayError
    from hw.relay import GpioRelay

    out = out or sys.stdout

    try:
        relay = GpioRelay(
            wiring.pin,
            active_high=wiring.active_high,
            pin_factory=factory,
            source=name,
            feedback_pin=wiring.feedback_pin,
            feedback_active_low=wiring.feedback_active_low,
            feedback_pull=wiring.feedback_pull,
            settle_s=settle_s,
        )
    except RelayError as exc:
        raise CliError(str(exc), 69) from None
    agreed = True
    try:
        with stop_on_sigterm():
            try:
                if on:
                    relay.energise()
                    agreed &= _report(relay, wiring, True, name, out, settle_s)
                    print(
                        f"{name}: holding for {hold_s:g} s (Ctrl-C opens it now)",
                        file=out,
                        flush=True,
                    )
                    time.sleep(hold_s)  # the user's chosen hold time, not a wait on a condition
                    relay.de_energise()
                agreed &= _report(relay, wiring, False, name, out, settle_s)
            except KeyboardInterrupt:
                relay.de_energise()
                print(f"{name}: interrupted: de-energised ({wiring.describe(False)})", file=out)
    finally:
        relay.close()  # de-energises again: the last thing the line sees is inactive
    return agreed


def _report(
    relay: Any, wiring: RelayWiring, energised: bool, name: str, out: TextIO, settle_s: float
) -> bool:
    state = "ON (energised)" if energised else "OFF (de-energised)"
    print(f"{name}: {state}, {wiring.describe(energised)}", file=out, flush=True)
    if wiring.feedback_pin is None:
        print(f"{name}: no feedback pin configured: listen for the contactor", file=out)
        return True
    time.sleep(settle_s)  # the contactor's travel time before its auxiliary contact is read
    closed = relay.feedback_closed
    said = "closed" if closed else "open"
    if closed == energised:
        print(f"{name}: feedback GPIO{wiring.feedback_pin}: contact {said} - agrees", file=out)
        return True
    hint = (
        "the contactor did not close: coil supply, relay board input level "
        "(relay_active_high), or the feedback wiring/polarity (relay_feedback_active_low)"
        if energised
        else "the contact is still closed: welded contactor, or the feedback "
        "input's polarity/pull is wrong (relay_feedback_active_low, relay_feedback_pull)"
    )
    print(
        f"{name}: feedback GPIO{wiring.feedback_pin}: contact {said} - DISAGREES: {hint}", file=out
    )
    return False


def _run_pilot(args: argparse.Namespace) -> int:
    from cpagent.commands.evse_access import evse_target, failure, open_evse, status_lines
    from hw.errors import EvseError

    quiet_vendor_logs(args)
    config = optional_config(args)
    conn = connector_config(config, args.connector) if config is not None else None
    target = evse_target(args, conn)
    cap = args.max_current or (conn.max_current_a if conn is not None else 16.0)
    if args.amps != 0 and not 6 <= args.amps <= cap:
        raise CliError(
            f"AMPS must be 0 or 6-{cap:g} A (IEC 61851-1 offers at least 6 A; "
            "the cap is the connector's max_current_a or --max-current)",
            EX_USAGE,
        )
    with devices_held(config), stop_on_sigterm():
        check_port(target.port)
        evse = open_evse(target, max_current_a=max(cap, 6.0))
        try:
            evse.set_current_a(args.amps)
            print(
                f"connector {args.connector}: offering {evse.offered_current_a:g} A for "
                f"{args.hold:g} s (Ctrl-C stops)",
                flush=True,
            )
            deadline = time.monotonic() + args.hold
            while True:
                print("  " + "; ".join(status_lines(evse.read_status())), flush=True)
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            evse.set_current_a(0)
            print("  back to 0 A: " + "; ".join(status_lines(evse.read_status())))
        except KeyboardInterrupt:
            print("  interrupted: offering 0 A")
        except EvseError as exc:
            raise failure(exc, evse, target) from None
        finally:
            evse.close()  # writes 0 A again whatever happened above
    return EX_OK
