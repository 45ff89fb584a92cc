"""`cpagent csms`: serve the bench central system, or reach a running one (`call`, `state`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from datetime import datetime
from typing import Any, TextIO

from cpagent.bridge import Bridge
from cpagent.commands.bridge import parse_host_port
from cpagent.csms.control import (
    DEFAULT_CONTROL_PORT,
    LOOPBACK,
    ControlServer,
    ControlUnreachable,
    remote_call,
    remote_state,
)
from cpagent.csms.handlers import DEFAULT_HEARTBEAT_INTERVAL_S, HandlerSettings
from cpagent.csms.prompt import run_prompt
from cpagent.csms.server import DEFAULT_CALL_TIMEOUT_S, DEFAULT_PORT, SUBPROTOCOL, CentralSystem
from cpagent.csms.state import Direction, FrameRecord

EXIT_OK = 0
EXIT_REFUSED = 1  # the chargepoint answered CALLERROR, is not connected, or did not answer
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3  # no bench CSMS answers on the control port

DESCRIPTION = """\
A small OCPP 1.6 central system for benches and tests (not a production CSMS).
Chargepoints connect to ws://HOST:PORT/<chargepoint id> with subprotocol ocpp1.6.
Without a subcommand it serves, with a prompt when stdin is a terminal; `call` and
`state` talk to an already running one over its loopback control port."""


def register(subparsers: Any) -> None:
    """Add `csms` and its subcommands to the `cpagent` argument parser."""
    parser = subparsers.add_parser(
        "csms",
        help="run a bench central system, or send it a command",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="WebSocket listen address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="WebSocket port (0: any)")
    _control_port(parser, DEFAULT_CONTROL_PORT)
    parser.add_argument(
        "--id-tag",
        action="append",
        dest="id_tags",
        metavar="ID_TAG",
        help="accept this idTag (repeatable); others get Invalid. Default: accept every idTag",
    )
    parser.add_argument("--password", help="require HTTP Basic auth: user = chargepoint id")
    parser.add_argument(
        "--heartbeat-interval",
        type=int,
        default=DEFAULT_HEARTBEAT_INTERVAL_S,
        metavar="S",
        help=f"interval in BootNotification answers (default {DEFAULT_HEARTBEAT_INTERVAL_S})",
    )
    parser.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT_S, metavar="S")
    parser.add_argument(
        "--prompt",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="interactive prompt (default: when stdin is a terminal)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print frames as they pass")
    parser.add_argument(
        "--mqtt",
        metavar="HOST:PORT",
        help="also serve chargepoints on this MQTT broker (through the MQTT<->WebSocket bridge)",
    )
    parser.add_argument(
        "--topic-prefix", default="ocpp", help="MQTT topic prefix with --mqtt (default: ocpp)"
    )
    parser.set_defaults(func=run, handler=run, csms_command=None)

    commands = parser.add_subparsers(dest="csms_command", metavar="{call,state}")
    call = commands.add_parser("call", help="send a CALL through a running `cpagent csms`")
    call.add_argument("chargepoint", help="chargepoint id, e.g. CP001")
    call.add_argument("action", help="OCPP 1.6 action, e.g. RemoteStartTransaction")
    call.add_argument("payload", nargs="?", default="{}", help="JSON object (default {})")
    call.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CALL_TIMEOUT_S,
        metavar="S",
        help=f"give up waiting after S seconds (default {DEFAULT_CALL_TIMEOUT_S:g})",
    )
    _control_port(call, argparse.SUPPRESS)
    state = commands.add_parser("state", help="print a running `cpagent csms`'s state as JSON")
    state.add_argument("chargepoint", nargs="?", help="only this chargepoint")
    state.add_argument(
        "--frames", type=int, default=50, metavar="N", help="include the last N frames (50)"
    )
    _control_port(state, argparse.SUPPRESS)


def _control_port(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--control-port",
        type=int,
        default=default,
        metavar="PORT",
        help=f"loopback HTTP control port (default {DEFAULT_CONTROL_PORT}; 0: any when serving)",
    )


def run(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Handle `cpagent csms ...`; returns the process exit code."""
    out = stdout or sys.stdout
    if args.csms_command == "call":
        return _call(args, out)
    if args.csms_command == "state":
        return _state(args, out)
    return serve(args, stdin or sys.stdin, out)


def _call(args: argparse.Namespace, out: TextIO) -> int:
    try:
        payload = json.loads(args.payload)
    except json.JSONDecodeError as exc:
        print(f"error: payload is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(payload, dict):
        print("error: payload must be a JSON object", file=sys.stderr)
        return EXIT_USAGE
    try:
        answer = remote_call(
            args.control_port, args.chargepoint, args.action, payload, args.timeout
        )
    except ControlUnreachable as exc:
        print(f"error: {exc}; is `cpagent csms` running?", file=sys.stderr)
        return EXIT_UNREACHABLE
    if answer.get("ok"):
        print(json.dumps(answer["payload"]), file=out)
        return EXIT_OK
    if "errorCode" in answer:
        description = answer.get("errorDescription") or ""
        details = json.dumps(answer.get("errorDetails") or {})
        print(f"CALLERROR {answer['errorCode']}: {description} {details}", file=sys.stderr)
    else:
        print(f"error: {answer.get('error')}", file=sys.stderr)
    return EXIT_REFUSED


def _state(args: argparse.Namespace, out: TextIO) -> int:
    try:
        view = remote_state(args.control_port, args.chargepoint, frames=args.frames)
    except ControlUnreachable as exc:
        print(f"error: {exc}; is `cpagent csms` running?", file=sys.stderr)
        return EXIT_UNREACHABLE
    if view.get("ok") is False:
        print(f"error: {view.get('error')}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(view, indent=2), file=out)
    return EXIT_OK


def frame_printer(out: TextIO) -> Any:
    """An observer printing each frame as `HH:MM:SS.mmm CP001 <- [2,...]`."""
    arrows = {Direction.RECEIVED: "<-", Direction.SENT: "->"}

    def show(record: FrameRecord) -> None:
        clock = datetime.fromtimestamp(record.at).strftime("%H:%M:%S.%f")[:-3]
        print(f"{clock} {record.chargepoint_id} {arrows[record.direction]} {record.text}", file=out)
        out.flush()

    return show


def serve(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    """Run the central system and its control channel until `quit`, end of input or a signal."""
    try:
        broker = None if args.mqtt is None else parse_host_port(args.mqtt)
    except ValueError as exc:
        print(f"error: --mqtt: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if broker is not None and args.password is not None:
        print("error: --password cannot be combined with --mqtt", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.ExitStack() as running:  # stops what started, in reverse, on any exit
        central = CentralSystem(
            host=args.host,
            port=args.port,
            settings=HandlerSettings.with_id_tags(args.id_tags, args.heartbeat_interval),
            password=args.password,
            call_timeout=args.call_timeout,
            observer=None if args.quiet else frame_printer(out),
        )
        try:
            running.enter_context(central)
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            control = ControlServer(central, args.control_port)
        except OSError as exc:
            print(f"error: cannot open control port {args.control_port}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        control.start()
        running.callback(control.stop)
        if broker is not None:
            # MQTT chargepoints reach us through the transport area's bridge, a WebSocket
            # client per chargepoint on loopback: the CSMS itself only ever speaks WebSocket.
            bridge = Bridge(
                broker[0],
                broker[1],
                f"ws://{LOOPBACK}:{central.port}",
                topic_prefix=args.topic_prefix,
                client_id="cpagent-csms-bridge",
                allow_unknown=True,  # a bench central system accepts any chargepoint id
            )
            bridge.start()
            running.callback(bridge.stop)
        prompt = stdin.isatty() if args.prompt is None else args.prompt
        stop = None if prompt else _stop_on_signal()  # before the banner: callers wait for it
        try:
            _banner(args, central, control, out)
            if stop is None:
                run_prompt(central, stdin, out)
            else:
                stop.wait()
        except KeyboardInterrupt:
            pass
    print("bench CSMS stopped", file=out)
    return EXIT_OK


def _banner(
    args: argparse.Namespace, central: CentralSystem, control: ControlServer, out: TextIO
) -> None:
    tags = ", ".join(sorted(args.id_tags)) if args.id_tags else "every idTag"
    print(f"bench CSMS (not for production) listening on {central.url}/<chargepoint id>", file=out)
    print(f"subprotocol {SUBPROTOCOL}; accepting {tags}", file=out)
    print(f"control channel http://127.0.0.1:{control.port} (cpagent csms call ...)", file=out)
    if args.mqtt:
        print(
            f"MQTT chargepoints via broker {args.mqtt}, topics {args.topic_prefix}/<id>/...",
            file=out,
        )
    out.flush()


def _stop_on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM (handlers need the main thread). Set once: a second
    signal (Ctrl-C twice) could interrupt the first one's set(), inside the Event's lock,
    and wait on that lock for good."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: None if stop.is_set() else stop.set())
    return stop


def main(argv: list[str] | None = None) -> int:
    """`python -m cpagent.csms ARGS` == `cpagent csms ARGS` (until cli.py wires it)."""
    parser = argparse.ArgumentParser(prog="cpagent")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["csms", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args))
