"""`cpagent status [--json | --watch]`: what the running daemon reports over its control socket."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from typing import Any, TextIO

from cpagent.commands import arguments
from cpagent.commands.common import (
    EX_OK,
    EX_UNAVAILABLE,
    CliError,
    add_socket_options,
    ask,
    run_guarded,
)
from cpagent.redact import mask_id_tag

CLEAR_HOME = "\x1b[H\x1b[2J"  # ANSI: cursor home, clear screen

EPILOG = """\
The socket is --socket PATH, else [control] socket from --config FILE, else
/run/cpagent/control.sock. Exits 69 when no daemon answers.

Card ids (idTags) are shown as their last 4 characters (****C3D4), in --json too, unless
--show-tags is given: they identify people and end up in screenshots and tickets.

--watch redraws the view every --interval seconds like `top` (on a terminal: clear and
redraw; into a pipe or file: one block per refresh, separated by a blank line) until Ctrl-C
(exit 0) or --count refreshes (exit 0). If no daemon answers at the start, it exits 69 at
once; if the daemon goes away while watching, each refresh says so in one line and the
view keeps trying, so it comes back by itself when the daemon restarts.

examples:
  cpagent status
  cpagent status --config config/bench.toml
  cpagent status --json | jq '.connectors[0].relay'
  cpagent status --config config/bench.toml --watch
  cpagent status --watch --interval 0.5 --count 10 > status.log
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the running daemon's state",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help="print the raw JSON answer (for scripts; relay state under 'relay')",
    )
    output.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="live view, refreshed every --interval seconds, until Ctrl-C",
    )
    parser.add_argument(
        "--interval",
        type=_interval,
        default=1.0,
        metavar="S",
        help="seconds between refreshes with --watch (default 1)",
    )
    parser.add_argument(
        "--count",
        type=_count,
        default=None,
        metavar="N",
        help="with --watch: stop after N refreshes (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--show-tags",
        action="store_true",
        help="show card ids (idTags) in full instead of ****1234",
    )
    add_socket_options(parser)
    parser.set_defaults(func=functools.partial(run_guarded, _status))


_interval = arguments.number(
    low=0.05, high=3600, out_of_range="must be between 0.05 and 3600 seconds"
)
_count = arguments.integer(1)


def _status(args: argparse.Namespace) -> int:
    if args.watch:
        return watch(args, sys.stdout)
    answer = _shown(ask(args, {"cmd": "status"}), args)
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    else:
        print(render(answer))
    return EX_OK


def mask_tags(status: dict[str, Any]) -> dict[str, Any]:
    """The status answer with every card id masked to its last 4 characters."""
    masked = dict(status)
    if isinstance(masked.get("last_card"), str):
        masked["last_card"] = mask_id_tag(masked["last_card"])
    connectors = []
    for conn in status.get("connectors", []):
        tx = conn.get("transaction") if isinstance(conn, dict) else None
        if isinstance(tx, dict) and isinstance(tx.get("id_tag"), str):
            conn = {**conn, "transaction": {**tx, "id_tag": mask_id_tag(tx["id_tag"])}}
        connectors.append(conn)
    if "connectors" in status:
        masked["connectors"] = connectors
    return masked


def _shown(status: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    return status if getattr(args, "show_tags", False) else mask_tags(status)


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
        reading = (
            f"{meter['energy_wh'] / 1000:.3f} kWh, {meter['power_w']:.0f} W"
            if meter
            else "no meter reading yet"
        )
        line = f"connector {conn.get('id')}: {conn.get('status', '?')}, relay {relay}, {plug}, "
        line += reading
        if conn.get("pilot") is not None:  # an EVSE controller (IEC 61851-1 pilot state)
            line += f", pilot {conn['pilot']}, offering {conn.get('offered_current_a') or 0:g} A"
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


def watch(args: argparse.Namespace, out: TextIO) -> int:
    """Redraw the live view until Ctrl-C or `args.count` refreshes; see EPILOG for exits."""
    tty = bool(getattr(out, "isatty", None) and out.isatty())
    pause = threading.Event()
    refreshes = 0
    down_since: str | None = None
    try:
        while True:
            try:
                answer = _shown(ask(args, {"cmd": "status"}), args)
            except CliError as exc:
                if exc.exit_code != EX_UNAVAILABLE or refreshes == 0:
                    raise
                down_since = down_since or time.strftime("%H:%M:%S")
                body = (
                    f"cpagent: {exc} (since {down_since}; retrying every "
                    f"{args.interval:g} s, Ctrl-C to quit)"
                )
            else:
                down_since = None
                body = render_watch(answer, args.interval)
            refreshes += 1
            _draw(out, body, tty, first=refreshes == 1)
            if args.count is not None and refreshes >= args.count:
                return EX_OK
            pause.wait(args.interval)  # the refresh period, not a wait for a condition
    except KeyboardInterrupt:
        if tty:
            out.write("\n")
        return EX_OK
    except BrokenPipeError:  # `| head`: the reader has all it wanted
        return EX_OK


def _draw(out: TextIO, body: str, tty: bool, first: bool) -> None:
    if tty:
        out.write(CLEAR_HOME + body + "\n")
    else:
        out.write(("" if first else "\n") + body + "\n")
    out.flush()


def render_watch(status: dict[str, Any], interval: float) -> str:
    """The live view: link, one table row per connector, queue and last error."""
    link = status.get("connection", "?")
    if status.get("subprotocol"):
        link += f" ({status['subprotocol']})"
    if status.get("registration"):
        link += f", registration {status['registration']}"
    lines = [
        f"cpagent {status.get('chargepoint', '?')} ({status.get('application', '?')})  "
        f"{time.strftime('%H:%M:%S')}  every {interval:g} s, Ctrl-C to quit",
        f"CSMS: {link}",
        "",
        f"{'conn':<5}{'status':<15}{'relay':<7}{'plug':<6}{'power W':>9}{'energy Wh':>11}"
        f"{'limit A':>9}  transaction",
    ]
    for conn in status.get("connectors", []):
        meter = conn.get("meter") or {}
        plugged = {True: "in", False: "out"}.get(conn.get("plugged"), "-")
        limit = conn.get("limit_a")
        lines.append(
            f"{conn.get('id', '?')!s:<5}{conn.get('status', '?')!s:<15}"
            f"{'closed' if conn.get('relay') else 'open':<7}{plugged:<6}"
            f"{_number(meter.get('power_w'), 0):>9}{_number(meter.get('energy_wh'), 1):>11}"
            f"{_number(limit, 1):>9}  {_transaction(conn.get('transaction'))}"
            + (f"  FAULT {conn['fault']}" if conn.get("fault") else "")
        )
    lines.append("")
    queue = f"queue depth {status.get('queue_depth', '-')}"
    if "queued_messages" in status:
        queue += f", transaction messages waiting for the CSMS {status['queued_messages']}"
    if status.get("last_card"):
        queue += f", last card {status['last_card']}"
    lines.append(queue)
    lines.append(f"last error: {status.get('last_error') or '-'}")
    return "\n".join(lines)


def _number(value: Any, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:.{digits}f}"


def _transaction(tx: Any) -> str:
    if isinstance(tx, dict):
        return f"{tx.get('id') or '(id pending)'} for {tx.get('id_tag')}"
    return "-" if tx is None else str(tx)
