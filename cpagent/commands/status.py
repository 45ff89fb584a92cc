"""`cpagent status [--json | --watch]`: what the running daemon reports over its control socket."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from cpagent.commands import arguments
from cpagent.commands.common import (
    BENCH_CONFIG,
    EX_OK,
    EX_UNAVAILABLE,
    CliError,
    add_socket_options,
    ask,
    find_near,
    run_guarded,
)
from cpagent.commands.status_view import render as render
from cpagent.commands.status_view import render_watch as render_watch
from cpagent.daemon.client import DEFAULT_SOCKET
from cpagent.redact import mask_tag_fields

CLEAR_HOME = "\x1b[H\x1b[2J"  # ANSI: cursor home, clear screen
BENCH_SOCKET = Path(".bench") / "control.sock"  # where config/bench.toml puts it

EPILOG = """\
The socket is --socket PATH, else [control] socket from --config FILE, else
/run/cpagent/control.sock. Exits 69 when no daemon answers; with neither option given
and a bench daemon's socket (.bench/control.sock) in this directory or above, it says
which --config to use.

Times are UTC, with how long ago (or how soon) in brackets; --json gives them as RFC 3339
(2026-12-02T01:30:00Z). When the link to the central system is down, the view says why,
when the next attempt is, and a hint (wrong password, untrusted certificate, wrong URL
path, a server that doesn't speak OCPP 1.6 there, nothing listening, DNS).

A faulted connector names the OCPP errorCode it reports and the device (GroundFailure:
... (connector1:evse)); the `web page` line says where the local web page ([web]) serves,
that it is off, or why it could not listen.

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
    answer = _shown(ask_status(args), args)
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    else:
        print(render(answer))
    return EX_OK


def ask_status(args: argparse.Namespace) -> dict[str, Any]:
    """The daemon's status answer; when no daemon is at the default socket but a bench
    daemon's socket is near, the error says how to reach that one (exit code unchanged)."""
    return ask_near_bench(args, {"cmd": "status"}, "status")


def ask_near_bench(
    args: argparse.Namespace, message: dict[str, Any], command: str
) -> dict[str, Any]:
    """`ask`, but when no daemon is at the default socket and a bench daemon's socket is
    near, the error says which `--config` reaches that one: `command` is how to run it again
    (`status`, `ctl plug 1`); the exit code stays 69."""
    try:
        return ask(args, message)
    except CliError as exc:
        explicit = getattr(args, "socket", None) or getattr(args, "config", None)
        found = None if explicit else bench_socket_near(Path.cwd())
        if exc.exit_code != EX_UNAVAILABLE or "not running" not in str(exc) or found is None:
            raise
        config = found.parent.parent / BENCH_CONFIG
        option = f"--config {os.path.relpath(config)}" if config.is_file() else f"--socket {found}"
        name, _, rest = command.partition(" ")
        again = " ".join(part for part in (name, option, rest) if part)
        raise CliError(
            f"no daemon at {DEFAULT_SOCKET}; a bench daemon's socket is at {found}: "
            f"run `cpagent {again}`",
            EX_UNAVAILABLE,
        ) from None


def bench_socket_near(start: Path) -> Path | None:
    """`.bench/control.sock` in `start` or the nearest of its parents, if there is one."""
    return find_near(start, BENCH_SOCKET)


def mask_tags(status: dict[str, Any]) -> dict[str, Any]:
    """The status answer with every card id masked to its last 4 characters, wherever it
    sits (by field name, as the web page masks it)."""
    masked: dict[str, Any] = mask_tag_fields(status)
    return masked


def _shown(status: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    return status if getattr(args, "show_tags", False) else mask_tags(status)


def watch(args: argparse.Namespace, out: TextIO) -> int:
    """Redraw the live view until Ctrl-C or `args.count` refreshes; see EPILOG for exits."""
    tty = bool(getattr(out, "isatty", None) and out.isatty())
    pause = threading.Event()
    refreshes = 0
    down_since: str | None = None
    try:
        while True:
            try:
                answer = _shown(ask_status(args), args)
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
