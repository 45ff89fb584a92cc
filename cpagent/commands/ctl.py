"""`cpagent ctl ACTION ...`: bench commands to the running daemon (simulated hardware only)."""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

from cpagent.commands.common import EX_OK, add_socket_options, ask, run_guarded

EPILOG = """\
These act on simulated hardware ([gpio] pin_factory = "mock", meter/rfid driver "sim");
on real hardware the daemon refuses with a one-line reason and ctl exits 1. Exits 69 when
no daemon answers. The socket is found as for `cpagent status`.

examples:
  cpagent ctl --config config/bench.toml plug 1
  cpagent ctl tap 04A1B2C3D4
  cpagent ctl fault 2 PowerMeterFailure
  cpagent ctl clear-fault 2
  cpagent ctl ev-load 1 11000
"""


def _connector(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("connector numbers start at 1")
    return value


# action -> (help, [(argument name, type, help)])
ACTIONS: dict[str, tuple[str, list[tuple[str, Any, str]]]] = {
    "plug": ("plug a cable into connector N (drives its mock plug input)",
             [("connector", _connector, "connector number, 1-based")]),
    "unplug": ("unplug the cable from connector N",
               [("connector", _connector, "connector number, 1-based")]),
    "tap": ("present a card to the simulated reader",
            [("id_tag", str, "the card's idTag, e.g. 04A1B2C3D4")]),
    "fault": ("make connector N's simulated meter fail with an OCPP error code",
              [("connector", _connector, "connector number, 1-based"),
               ("code", str, "ChargePointErrorCode, e.g. PowerMeterFailure")]),
    "clear-fault": ("end the injected fault on connector N",
                    [("connector", _connector, "connector number, 1-based")]),
    "ev-load": ("set the power the simulated EV on connector N draws when the relay is closed",
                [("connector", _connector, "connector number, 1-based"),
                 ("watts", float, "power in W, e.g. 7400")]),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ctl", help="bench commands to the running daemon", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_socket_options(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, (help_text, arguments) in ACTIONS.items():
        sub = actions.add_parser(name, help=help_text, description=help_text)
        for arg, kind, arg_help in arguments:
            sub.add_argument(arg, type=kind, help=arg_help)
        add_socket_options(sub)
    parser.set_defaults(func=functools.partial(run_guarded, _ctl))


def _ctl(args: argparse.Namespace) -> int:
    message: dict[str, Any] = {"cmd": args.action}
    for arg, _kind, _help in ACTIONS[args.action][1]:
        message[arg] = getattr(args, arg)
    answer = ask(args, message)
    answer.pop("ok", None)
    print(json.dumps(answer, sort_keys=True))
    return EX_OK
