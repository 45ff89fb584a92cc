"""`cpagent ctl ACTION ...`: bench commands to the running daemon (simulated hardware only)."""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

from cpagent.commands import arguments
from cpagent.commands.common import EX_OK, add_socket_options, run_guarded
from cpagent.commands.status import ask_near_bench
from hw.events import EvseFault, FaultCode

EPILOG = """\
These act on simulated hardware ([gpio] pin_factory = "mock", meter/rfid driver "sim");
on real hardware the daemon refuses with a one-line reason and ctl exits 1. tap, clear-fault
and ev-load also need simulated relays (they could close a real one or change the energy
billed) unless [control] allow_ctl_with_real_relays = true; fault only opens relays.
Only the daemon's user, root and members of [control] ctl_group may act; others in the
socket's group get "permission denied" (exit 1) but may read `cpagent status`.
Exits 69 when no daemon answers. The socket is found as for `cpagent status`, and as
there, a bench daemon's socket (.bench/control.sock) nearby is named with the --config to use.

examples:
  cpagent ctl --config config/bench.toml plug 1
  cpagent ctl tap 04A1B2C3D4
  cpagent ctl fault 2 PowerMeterFailure
  cpagent ctl clear-fault 2
  cpagent ctl ev-load 1 11000
  cpagent ctl ev 1 charge
  cpagent ctl ev 1 fault ResidualCurrent
"""


_connector = arguments.connector_id
_watts = arguments.number(
    low=0, noun="a number of watts", out_of_range="watts must be a finite number >= 0, not {text!r}"
)
_id_tag = arguments.id_tag
FAULT_CODES = tuple(code.value for code in FaultCode)
_fault_code = arguments.one_of(FAULT_CODES)
EV_ACTIONS = ("charge", "stop", "fault", "clear")
EVSE_FAULTS = tuple(fault.value for fault in EvseFault)
_ev_action = arguments.one_of(EV_ACTIONS)
_evse_fault = arguments.one_of(EVSE_FAULTS)
OPTIONAL = frozenset({"code"})  # positional arguments that may be left out (ev ... fault CODE)
CONNECTOR = ("connector", _connector, "connector number, 1-based")

# action -> (help, [(argument name, type, help)], examples)
ACTIONS: dict[str, tuple[str, list[tuple[str, Any, str]], str]] = {
    "plug": (
        "plug a cable into connector N (its mock plug input, or the simulated EV)",
        [CONNECTOR],
        'needs [gpio] pin_factory = "mock" and the connector\'s plug_pin, or\n'
        '[connector.evse] driver = "sim", or "pwm" on mock pins (the EV shows pilot state B).\n\n'
        "examples:\n  cpagent ctl --config config/bench.toml plug 1",
    ),
    "unplug": (
        "unplug the cable from connector N",
        [CONNECTOR],
        'needs [gpio] pin_factory = "mock" and the connector\'s plug_pin.\n\n'
        "examples:\n  cpagent ctl --config config/bench.toml unplug 1",
    ),
    "tap": (
        "present a card to the simulated reader",
        [("id_tag", _id_tag, "the card's idTag (1-20 characters), e.g. 04A1B2C3D4")],
        'needs [rfid] driver = "sim".\n\n'
        "examples:\n  cpagent ctl --config config/bench.toml tap 04A1B2C3D4",
    ),
    "fault": (
        "make connector N's simulated meter fail with an OCPP error code",
        [
            CONNECTOR,
            ("code", _fault_code, "OCPP 1.6 ChargePointErrorCode: " + ", ".join(FAULT_CODES)),
        ],
        'needs the connector\'s meter driver = "sim"; reads fail until clear-fault.\n\n'
        "examples:\n  cpagent ctl --config config/bench.toml fault 2 PowerMeterFailure",
    ),
    "clear-fault": (
        "end the injected fault on connector N",
        [CONNECTOR],
        'needs the connector\'s meter driver = "sim".\n\n'
        "examples:\n  cpagent ctl --config config/bench.toml clear-fault 2",
    ),
    "ev": (
        "drive the simulated EV on connector N: charge (S2 closed), stop, fault CODE, clear",
        [
            CONNECTOR,
            ("what", _ev_action, "charge | stop | fault | clear"),
            ("code", _evse_fault, "with fault: the controller's fault, " + ", ".join(EVSE_FAULTS)),
        ],
        'needs [connector.evse] driver = "sim", or "pwm" with [gpio] pin_factory = "mock"\n'
        "(its faults: PilotShort, PilotFault). charge: the EV closes S2 and goes to pilot\n"
        "state C once the EVSE offers >= 6 A, and draws what is offered (never more); stop:\n"
        "back to B; fault: the controller reports CODE and offers 0 A until clear.\n\n"
        "examples:\n  cpagent ctl --config config/bench.toml ev 1 charge\n"
        "  cpagent ctl --config config/bench.toml ev 1 fault ResidualCurrent\n"
        "  cpagent ctl --config config/bench.toml ev 1 clear",
    ),
    "ev-load": (
        "set the power the simulated EV on connector N draws when the relay is closed",
        [CONNECTOR, ("watts", _watts, "power in W (>= 0), e.g. 7400")],
        'needs the connector\'s meter driver = "sim". Like a real EV it draws at most\n'
        "max_current_a x 230 V x [connector.meter] phases, less under a current limit\n"
        "from the CSMS (SetChargingProfile).\n\n"
        "examples:\n  cpagent ctl --config config/bench.toml ev-load 1 11000\n"
        "  cpagent ctl --config config/bench.toml ev-load 1 0      (EV paused)",
    ),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ctl",
        help="bench commands to the running daemon",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_socket_options(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, (help_text, params, examples) in ACTIONS.items():
        sub = actions.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for arg, kind, arg_help in params:
            more: dict[str, Any] = {"nargs": "?"} if arg in OPTIONAL else {}
            sub.add_argument(arg, type=kind, help=arg_help, **more)
        add_socket_options(sub)
    parser.set_defaults(func=functools.partial(run_guarded, _ctl))


def _ctl(args: argparse.Namespace) -> int:
    message: dict[str, Any] = {"cmd": args.action}
    for arg, _kind, _help in ACTIONS[args.action][1]:
        message[arg] = getattr(args, arg)
    again = " ".join(str(v) for k, v in message.items() if k != "cmd" and v is not None)
    answer = ask_near_bench(args, message, f"ctl {args.action} {again}".strip())
    answer.pop("ok", None)
    print(json.dumps(answer, sort_keys=True))
    return EX_OK
