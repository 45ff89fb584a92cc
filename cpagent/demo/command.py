"""`cpagent demo`: a central system and a simulated chargepoint play one charging session."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from cpagent.commands import arguments

EX_OK, EX_FAILED, EX_CONFIG, EX_INTERRUPTED = 0, 1, 78, 130

EPILOG = """\
Starts the bench central system on a free loopback port and the chargepoint agent
(`cpagent run`, as a child process) on simulated hardware: mock GPIO, a simulated meter and
card reader. Then plays one session: boot, plug, card tap, Authorize, relay closes, meter
values rise, RemoteStopTransaction, unplug. Needs no network but loopback and no root;
everything lives in a temp dir that is removed afterwards. Typically takes 3-5 s.

Exit codes: 0 the session completed and every relay is open; 1 a step failed (one line
says which, then the end of the agent's log); 78 --config cannot be used (real hardware,
invalid file); 130 interrupted (Ctrl-C). The agent is always stopped (SIGTERM, then SIGKILL).

examples:
  cpagent demo
  cpagent demo --json | jq -c 'select(.kind == "frame") | [.t, .direction, .action]'
  cpagent demo --config config/bench.toml --connector 2 --id-tag CAFE0001
  cpagent demo --keep-running      (then, in another terminal: cpagent status --watch ...)
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="play a charging session on simulated hardware (try this first)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="your own bench config (mock GPIO, sim meters and reader); its "
        "[csms], [state] and [control] are replaced (default: built-in)",
    )
    parser.add_argument(
        "--connector",
        type=_positive_int,
        default=1,
        metavar="N",
        help="connector to charge on (default 1)",
    )
    parser.add_argument(
        "--id-tag",
        type=_id_tag,
        default="04A1B2C3D4",
        metavar="ID",
        help="card to tap (default 04A1B2C3D4)",
    )
    parser.add_argument(
        "--ev-load",
        type=_watts,
        default=7360.0,
        metavar="WATTS",
        help="power the simulated EV asks for (default 7360: 32 A x 230 V); it draws at most "
        "the connector's max_current_a x 230 V x phases",
    )
    parser.add_argument(
        "--step-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="longest wait for any one step (default 10)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--quiet", "-q", action="store_true", help="print only the final result line"
    )
    output.add_argument(
        "--json",
        action="store_true",
        help="timeline as JSON lines on stdout (kind: step/frame/hardware/info/result)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the timeline (auto: on a terminal without NO_COLOR)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="after the session, keep the CSMS and agent running until Ctrl-C",
    )
    parser.set_defaults(func=run)


_positive_int = arguments.connector_id
_id_tag = arguments.id_tag
_watts = arguments.number(
    low=0,
    high=1e6,
    low_open=True,
    high_open=True,
    out_of_range="must be more than 0 and less than 1000000 W",
)
_seconds = arguments.number(
    low=0, high=600, low_open=True, out_of_range="must be more than 0 and at most 600 s"
)


class Interrupted(Exception):
    """SIGTERM or SIGHUP while the demo runs: stop everything, exit 130."""


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM/SIGHUP become an exception, so the `finally` that stops the agent runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    """Play the demo; the exit code says how it went (see EPILOG)."""
    from cpagent.demo.agent import DemoError
    from cpagent.demo.timeline import Timeline, wants_colour

    mode = "json" if args.json else "quiet" if args.quiet else "text"
    colour = mode == "text" and wants_colour(sys.stdout, args.color, dict(os.environ))
    timeline = Timeline(sys.stdout, mode=mode, colour=colour, steps=10)
    try:
        with _signals_interrupt():
            return _play(args, timeline)
    except DemoError as exc:
        _fail(timeline, str(exc))
        return exc.exit_code
    except (KeyboardInterrupt, Interrupted):
        _fail(timeline, "interrupted; the agent and central system were stopped")
        return EX_INTERRUPTED
    except Exception as exc:  # a bug: one line for people (-v shows the traceback)
        if args.log_level == "DEBUG":
            raise
        _fail(timeline, f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
        return EX_FAILED


def _fail(timeline: Any, message: str) -> None:
    """The first line of `message` ends a --json timeline; all of it goes to stderr."""
    if timeline.mode == "json":
        timeline.result(False, message.splitlines()[0])
    print(f"cpagent demo: FAILED: {message}", file=sys.stderr, flush=True)


def _play(args: argparse.Namespace, timeline: Any) -> int:
    from cpagent.config import ConfigError, load_config
    from cpagent.csms.handlers import HandlerSettings
    from cpagent.csms.server import CentralSystem
    from cpagent.csms.state import Direction
    from cpagent.demo.agent import (
        DEFAULT_CONFIG,
        SOCKET_PATH_MAX,
        AgentProcess,
        DemoError,
        demo_config,
        read_base,
        to_toml,
    )
    from cpagent.demo.session import ChargingSession, HardwareMonitor, SessionSettings

    started = time.monotonic()
    base = read_base(args.config) if args.config else DEFAULT_CONFIG
    connectors = base.get("connector", [])
    if args.connector > len(connectors):
        raise DemoError(f"--connector {args.connector}: the config has {len(connectors)}", 78)
    chosen = connectors[args.connector - 1]
    if chosen.get("plug_pin") is None and "evse" not in chosen:  # read_base: evse is "sim"
        raise DemoError(
            f'connector[{args.connector}] has neither plug_pin nor [connector.evse] driver = "sim"'
            " (the demo plugs a cable in)",
            78,
        )
    cp_id = str(base["chargepoint"]["id"])
    settings = SessionSettings(
        chargepoint_id=cp_id,
        connector=args.connector,
        id_tag=args.id_tag,
        load_w=args.ev_load,
        step_timeout_s=args.step_timeout,
    )
    workdir = Path(tempfile.mkdtemp(prefix="cpagent-demo-"))
    if len(str(workdir / "control.sock").encode()) > SOCKET_PATH_MAX:  # a long $TMPDIR
        shutil.rmtree(workdir, ignore_errors=True)
        workdir = Path(tempfile.mkdtemp(prefix="cpagent-demo-", dir="/tmp"))
    csms = CentralSystem(
        port=0,
        settings=HandlerSettings.with_id_tags([args.id_tag]),
        call_timeout=10.0,
        observer=lambda rec: timeline.frame(rec.direction == Direction.RECEIVED, rec.text),
    )
    agent = AgentProcess(workdir / "cpagent.toml", workdir / "agent.log", workdir / "control.sock")
    monitor = HardwareMonitor(agent, timeline, args.connector)
    session = ChargingSession(csms, agent, timeline, settings, monitor)
    try:
        session.next_step()
        try:
            csms.start()
        except OSError as exc:
            raise DemoError(f"the central system could not listen on loopback: {exc}") from None
        timeline.info(f"central system on {csms.url} (accepts idTag {args.id_tag})")
        agent.config_path.write_text(to_toml(demo_config(base, f"{csms.url}/ocpp", workdir)))
        try:
            load_config(agent.config_path)
        except ConfigError as exc:
            raise DemoError(f"generated config refused: {exc.problems[0]}", EX_CONFIG) from None
        try:
            transaction = session.play()
        except DemoError as exc:
            tail = agent.log_tail()
            message = f"step {session.step}/10 ({session.titles()[session.step - 1]}): {exc}"
            if tail:
                message += "\n  agent log (last lines):\n" + "\n".join(f"    {t}" for t in tail)
            raise DemoError(message, exc.exit_code) from None
        if args.keep_running:
            _keep_running(timeline, agent, csms.url)
        session.next_step()
        monitor.stop()
        # Step 9 saw every relay open; look once more unless Ctrl-C is already stopping the
        # agent (--keep-running; asking a daemon on its way out only waits for its socket).
        status = None if args.keep_running or agent.exit_code() is not None else agent.status()
        if status is not None and any(c.get("relay") for c in status.get("connectors", [])):
            raise DemoError("step 10/10: a relay is still closed before stopping the agent")
        code = agent.stop()
        if code != 0:
            raise DemoError(f"step 10/10: the agent exited with code {code}: {agent.last_line()}")
        timeline.hardware("agent stopped (exit 0); every relay open", relay=False)
        energy = transaction.get("energyWh")
        timeline.result(
            True,
            f"cpagent demo: ok: transaction {transaction['transactionId']} on "
            f"connector {args.connector} delivered {energy} Wh "
            f"({transaction['stopReason']}), relay open; "
            f"{time.monotonic() - started:.1f} s",
        )
        return EX_OK
    finally:
        _clean_up(monitor, agent, csms, workdir)


def _clean_up(monitor: Any, agent: Any, csms: Any, workdir: Path) -> None:
    """Stop everything even if Ctrl-C is pressed again meanwhile (then the agent is killed)."""
    for action in (
        monitor.stop,
        agent.stop,
        csms.stop,
        lambda: shutil.rmtree(workdir, ignore_errors=True),
    ):
        while True:
            try:
                action()
                break
            except (KeyboardInterrupt, Interrupted):
                agent.kill()  # impatient: no more grace for the agent; then finish the rest


def _keep_running(timeline: Any, agent: Any, url: str) -> None:
    """Leave both running until Ctrl-C (SIGINT stops the agent too: same process group)."""
    sock = agent.socket_path
    pause = threading.Event()
    with contextlib.suppress(KeyboardInterrupt):  # from here on, Ctrl-C means "go on"
        timeline.info(f"still running: CSMS {url}, agent socket {sock}")
        timeline.info(f"try: cpagent status --watch --socket {sock}")
        timeline.info(
            f"     cpagent ctl --socket {sock} plug 1 ; cpagent ctl --socket {sock} tap 04A1B2C3D4"
        )
        timeline.info("Ctrl-C to stop")
        while agent.exit_code() is None:
            pause.wait(0.5)  # Ctrl-C interrupts this; the agent got SIGINT too
