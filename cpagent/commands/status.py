"""`cpagent status [--json]`: what the running daemon reports over its control socket."""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

from cpagent.commands.common import EX_OK, add_socket_options, ask, run_guarded

EPILOG = """\
The socket is --socket PATH, else [control] socket from --config FILE, else
/run/cpagent/control.sock. Exits 69 when no daemon answers.

examples:
  cpagent status
  cpagent status --config config/bench.toml
  cpagent status --json | jq '.connectors[0].relay'
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="show the running daemon's state", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true",
                        help="print the raw JSON answer (for scripts; relay state under 'relay')")
    add_socket_options(parser)
    parser.set_defaults(func=functools.partial(run_guarded, _status))


def _status(args: argparse.Namespace) -> int:
    answer = ask(args, {"cmd": "status"})
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    else:
        print(render(answer))
    return EX_OK


def render(status: dict[str, Any]) -> str:
    """The status answer for people, one line per fact."""
    link = status.get("connection", "?")
    if status.get("subprotocol"):
        link += f" ({status['subprotocol']})"
    if status.get("registration"):
        link += f", registration {status['registration']}"
    lines = [f"chargepoint {status.get('chargepoint', '?')}: CSMS {link}"]
    for conn in status.get("connectors", []):
        relay = "closed (energised)" if conn.get("relay") else "open"
        plug = {True: "plugged", False: "unplugged", None: "no plug input"}[conn.get("plugged")]
        meter = conn.get("meter")
        reading = (f"{meter['energy_wh'] / 1000:.3f} kWh, {meter['power_w']:.0f} W"
                   if meter else "no meter reading yet")
        line = f"connector {conn.get('id')}: {conn.get('status', '?')}, relay {relay}, {plug}, "
        line += reading
        if conn.get("fault"):
            line += f", fault {conn['fault']}"
        tx = conn.get("transaction")
        if isinstance(tx, dict):
            line += f", transaction {tx.get('id') or '(id pending)'} for {tx.get('id_tag')}"
        elif tx is not None:
            line += f", transaction {tx}"
        lines.append(line)
    if status.get("last_error"):
        lines.append(f"last error: {status['last_error']}")
    if "queued_messages" in status:
        lines.append(f"transaction messages waiting for the CSMS: {status['queued_messages']}")
    lines.append(f"queue depth: {status.get('queue_depth', '?')}")
    return "\n".join(lines)
