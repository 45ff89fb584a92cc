"""Benchmark: RemoteStartTransaction -> relay pin high, and unplug -> StopTransaction, end to end.

The daemon (`cpagent.daemon.runner.run_daemon`, the real chargepoint application, real
WebSocket transport, SQLite store, mock GPIO, simulated meter) runs in this process on a
thread, so the relay's mock pin can be read; the central system (`bench._common`, a minimal
timestamping OCPP 1.6 server) runs in another process so it never holds our GIL.

How the instants are taken (all `time.monotonic()`, CLOCK_MONOTONIC, comparable across
processes):
- CALL written: the central system, just before it writes RemoteStartTransaction.
- relay high / plug low: gpiozero's MockPin stamps every state change itself
  (`MockPin._change_state` sets `_last_change = monotonic()` at the instant the level
  changes); we read that value afterwards, so nothing is hooked or patched in the daemon.
- StopTransaction: the central system, as the frame comes out of its websocket.
Idle timers are kept out of the window: heartbeat interval 86400 s (BootNotification.conf),
MeterValueSampleInterval 0, WebSocket pings every 3600 s, meter poll every `--poll` s
(default 3600; the first read happens at start-up). AuthorizeRemoteTxRequests stays true
(an Authorize round trip precedes the start) unless --no-authorize-remote. Each cycle: plug,
Preparing, RemoteStart, relay high, 20 ms of charging, unplug, StopTransaction, Available,
20 ms pause.
Besides the two target paths it prints the start path split at the frames the central
system received, and unplug -> relay low (when the contactor opens).

Then `--wedged` cycles (default 20) with a central system that stops reading: charging as
above, then the central system stops reading its socket (receive buffer 4 KiB) after sending
2,000 GetConfiguration CALLs, whose answers fill the daemon's socket so its writes block; once
the daemon has worked through them (its inbox is empty), the unplug. Printed: unplug -> relay
low (target p99 < 100 ms), a `status` round trip on the control socket meanwhile, and the time
from the stall to the new connection (the link replaced: pong_timeout_s = 2 here).
Usage: python3 -m bench.e2e_latency [--cycles 500] [--poll 3600] [--log-level INFO]
                                    [--no-authorize-remote] [--state-dir /dev/shm]
                                    [--wedged 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._common import (
    CentralSystem,
    MachineLoad,
    commit_baseline,
    free_port,
    load_average,
    percentile,
    write_config,
)

TARGET_P99_MS = 5.0
TARGET_WEDGED_P99_MS = 100.0  # unplug -> relay low whatever the network does
WEDGE_FLOOD = 2000  # GetConfiguration CALLs whose answers fill the daemon's socket
PONG_S = 2.0  # [csms] pong_timeout_s: how long a blocked write may take before the link goes
CP_ID = "BENCH-LAT"
RELAY_PIN, PLUG_PIN = 17, 27
SETTLE_S = 0.02  # charging time before the unplug, and the pause between cycles
WAIT_S = 10.0


class InProcessDaemon:
    """`run_daemon` on a thread, with the application's context captured at build time."""

    def __init__(self, config_path: Path) -> None:
        from cpagent.config import load_config
        from cpagent.daemon import wiring
        from cpagent.daemon.context import AppContext
        from cpagent.daemon.loop import Application
        from cpagent.daemon.runner import run_daemon

        self.ctx: AppContext | None = None
        self.built = threading.Event()
        self.exit_code: int | None = None

        def build(ctx: AppContext) -> Application:
            self.ctx = ctx
            app = wiring.build_application(ctx)
            self.built.set()
            return app

        config = load_config(config_path)

        def run() -> None:
            self.exit_code = run_daemon(config, env={}, build_app=build)

        self.thread = threading.Thread(target=run, name="daemon-main", daemon=True)
        self.thread.start()
        if not self.built.wait(WAIT_S):
            raise RuntimeError("the daemon did not build its application")

    def pin(self, number: int) -> Any:
        """The MockFactory pin object (a MockPin) for BCM `number`."""
        assert self.ctx is not None
        return self.ctx.hardware.pin_factory.pin(number)

    def stop(self) -> int | None:
        from cpagent.daemon.events import ShutdownRequested

        assert self.ctx is not None
        self.ctx.post(ShutdownRequested("benchmark done"))
        self.thread.join(15)
        return self.exit_code


def _status(cs: CentralSystem, status: str, start: int) -> None:
    cs.wait_call("StatusNotification", WAIT_S, start, connectorId=1, status=status)


START = "RemoteStartTransaction -> relay high"
STOP = "unplug (pin low) -> StopTransaction"
START_PARTS = (
    "  RemoteStart written -> Authorize in",
    "  Authorize in -> StartTransaction in",
    "  StartTransaction in -> relay high",
)
RELAY_OPEN = "unplug (pin low) -> relay low"


def run_cycles(
    cs: CentralSystem, daemon: InProcessDaemon, cycles: int, warmup: int
) -> dict[str, list[float]]:
    """`cycles` measured cycles after `warmup` unmeasured ones; latencies in seconds by path.

    The target paths are START and STOP; the others split START at the frames the central
    system received (Authorize only when AuthorizeRemoteTxRequests is true) and show when
    the contactor opens after an unplug.
    """
    relay, plug = daemon.pin(RELAY_PIN), daemon.pin(PLUG_PIN)
    series: dict[str, list[float]] = {}
    for n in range(warmup + cycles):
        mark = cs.mark()
        plug.drive_high()
        _status(cs, "Preparing", mark)
        mark = cs.mark()
        sent = cs.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "BENCH0001"})
        _status(cs, "Charging", mark)
        deadline = time.monotonic() + WAIT_S
        while not relay.state:  # energised before Charging is reported; a guard only
            if time.monotonic() > deadline:
                raise AssertionError("relay pin never went high")
            time.sleep(0.001)
        relay_high = relay._last_change  # MockPin's own stamp of the change (see docstring)
        start_tx = cs.wait_call("StartTransaction", WAIT_S, mark)
        authorize = [
            e
            for e in cs.events[mark : cs.mark()]
            if e["ev"] == "call" and e["action"] == "Authorize"
        ]
        time.sleep(SETTLE_S)
        mark = cs.mark()
        plug.drive_low()
        unplugged = plug._last_change
        stop = cs.wait_call("StopTransaction", WAIT_S, mark)
        _status(cs, "Available", mark)
        if relay.state:
            raise AssertionError("relay still energised after the unplug")
        relay_low = relay._last_change
        if n < warmup:
            continue
        got = {
            START: relay_high - sent["t"],
            STOP: stop["t"] - unplugged,
            START_PARTS[2]: relay_high - start_tx["t"],
            RELAY_OPEN: relay_low - unplugged,
        }
        if authorize:
            got[START_PARTS[0]] = authorize[0]["t"] - sent["t"]
            got[START_PARTS[1]] = start_tx["t"] - authorize[0]["t"]
        for name, value in got.items():
            series.setdefault(name, []).append(value)
        time.sleep(SETTLE_S)
    return series


WEDGED_RELAY = "unplug -> relay low, CSMS not reading"
WEDGED_STATUS = "status answer, CSMS not reading"
WEDGED_REPLACED = "stall -> link replaced"


def _ask(control: Path, request: dict[str, Any]) -> dict[str, Any]:
    from cpagent.daemon.client import request as ask

    return ask(control, request)


def run_wedged(
    cs: CentralSystem, daemon: InProcessDaemon, cycles: int, control: Path
) -> dict[str, list[float]]:
    """`cycles` sessions each ended by an unplug while the central system does not read."""
    relay, plug = daemon.pin(RELAY_PIN), daemon.pin(PLUG_PIN)
    series: dict[str, list[float]] = {}
    for _ in range(cycles):
        mark = cs.mark()
        plug.drive_high()
        _status(cs, "Preparing", mark)
        mark = cs.mark()
        cs.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "BENCH0001"})
        _status(cs, "Charging", mark)
        _until(lambda: relay.state, "relay pin high")
        stalled = cs.stall(WEDGE_FLOOD)
        _until(
            lambda: _ask(control, {"cmd": "status"})["queue_depth"] == 0,
            "the daemon through the flood",
        )
        plug.drive_low()
        unplugged = plug._last_change
        _until(lambda: not relay.state, "relay pin low")
        relay_low = relay._last_change
        began = time.monotonic()
        answer = _ask(control, {"cmd": "status"})
        status_s = time.monotonic() - began
        if not answer.get("ok"):
            raise AssertionError(f"status while wedged: {answer}")
        connected = cs.wait(_connected_after(stalled["t"]), 30.0, "the link replaced", mark)
        cs.wait_call("StopTransaction", WAIT_S, mark)  # from the outbox, on the new link
        _status(cs, "Available", mark)
        got = {
            WEDGED_RELAY: relay_low - unplugged,
            WEDGED_STATUS: status_s,
            WEDGED_REPLACED: connected["t"] - stalled["t"],
        }
        for name, value in got.items():
            series.setdefault(name, []).append(value)
        time.sleep(SETTLE_S)
    return series


def _connected_after(instant: float) -> Callable[[dict[str, Any]], bool]:
    """A predicate for the central system's first new connection after `instant`."""
    return lambda e: e["ev"] == "connected" and e["t"] > instant


def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def daemon_cpu_s() -> dict[str, float]:
    """CPU seconds (utime + stime) of every daemon thread in this process, by thread name.

    The bench's own threads (this one, the central-system reader) are left out.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.name == "csms-reader":
            continue
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except (FileNotFoundError, TypeError):
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        out[thread.name] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _row(name: str, values: list[float], target: bool, target_ms: float = TARGET_P99_MS) -> str:
    ms = [v * 1000 for v in values]
    p99 = percentile(ms, 99)
    verdict = f"   p99 < {target_ms:g} ms: {'PASS' if p99 < target_ms else 'MISS'}"
    return (
        f"{name:<40} {len(ms):>5} {statistics.median(ms):>7.2f} {percentile(ms, 90):>7.2f} "
        f"{p99:>7.2f} {max(ms):>7.2f}{verdict if target else ''}"
    )


def _fs_of(path: Path) -> str:
    """The filesystem type `path` lives on (from /proc/mounts; longest matching mount)."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _dev, mount, fstype = line.split()[:3]
        if str(path).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return f"{kind} ({best})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500, help="measured cycles (default 500)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured cycles first")
    parser.add_argument(
        "--poll",
        type=float,
        default=3600.0,
        help="meter poll interval in s (default 3600: out of the window)",
    )
    parser.add_argument("--log-level", default="INFO", help="daemon log level (to a file)")
    parser.add_argument(
        "--no-authorize-remote",
        dest="authorize_remote",
        action="store_false",
        help="AuthorizeRemoteTxRequests=false: no Authorize round trip before"
        " the start (default: true, the OCPP default)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="put the SQLite state here (default: a temp dir on the root disk;"
        " e.g. /dev/shm to take the disk's fsync time out)",
    )
    parser.add_argument(
        "--wedged",
        type=int,
        default=20,
        help="sessions ended by an unplug while the central system does not "
        "read (default 20; 0 skips them)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cpagent-e2e-") as tmp:
        logging.basicConfig(
            filename=str(Path(tmp) / "daemon.log"),
            level=args.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        state_dir = None
        if args.state_dir is not None:
            state_dir = Path(tempfile.mkdtemp(prefix="cpagent-e2e-state-", dir=args.state_dir))
        cs = CentralSystem(free_port(), heartbeat_s=86400)
        daemon = None
        try:
            config = write_config(
                Path(tmp),
                cs.url,
                chargepoint_id=CP_ID,
                poll_s=args.poll,
                ping_s=3600.0,
                log_level=args.log_level,
                state_dir=state_dir,
                pong_s=PONG_S,
            )
            disk_before = commit_baseline(state_dir or Path(tmp))
            daemon = InProcessDaemon(config)
            cs.wait_call("BootNotification", WAIT_S)
            _status(cs, "Available", 0)
            settings = {
                "MeterValueSampleInterval": "0",
                "AuthorizeRemoteTxRequests": str(args.authorize_remote).lower(),
            }
            for key, value in settings.items():
                answer = cs.call_result("ChangeConfiguration", {"key": key, "value": value})
                if answer.get("status") != "Accepted":
                    raise AssertionError(f"ChangeConfiguration {key} answered {answer}")
            began = time.monotonic()
            load = MachineLoad([os.getpid(), cs.pid])
            cpu_before = daemon_cpu_s()
            series = run_cycles(cs, daemon, args.cycles, args.warmup)
            took = time.monotonic() - began
            others = load.others_pct()
            cpu_after = daemon_cpu_s()
            disk_after = commit_baseline(state_dir or Path(tmp))
            wedged = run_wedged(cs, daemon, args.wedged, Path(tmp) / "control.sock")
        finally:
            code = daemon.stop() if daemon is not None else None
            cs.close()
            if state_dir is not None:
                shutil.rmtree(state_dir, ignore_errors=True)
        logging.shutdown()
    print(
        f"cpagent e2e latency, loopback WebSocket, {args.cycles} cycles (+{args.warmup} "
        f"warm-up) in {took:.1f} s; meter poll {args.poll:g} s; log level {args.log_level}; "
        f"AuthorizeRemoteTxRequests {str(args.authorize_remote).lower()}; "
        f"daemon exit code {code}"
    )
    print(
        f"state dir: {state_dir or 'temp dir on ' + _fs_of(Path(tempfile.gettempdir()))}; "
        f"load average {load_average()} (2 cores)"
    )
    spent = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    per_cycle = sum(spent.values()) / (args.cycles + args.warmup) * 1000
    owner = spent.get("owner", 0.0) / (args.cycles + args.warmup) * 1000
    print(
        f"daemon CPU per cycle: {per_cycle:.2f} ms (owner thread {owner:.2f} ms; "
        f"10 ms clock ticks, averaged)"
    )
    print(f"other processes used {others:.0f} % of one core during the cycles (out of 200 %)")
    print(
        f"SQLite commit there (WAL, synchronous=FULL, like the store), before / after the "
        f"cycles: p50 {disk_before[0]:.2f} / {disk_after[0]:.2f} ms, "
        f"p99 {disk_before[1]:.2f} / {disk_after[1]:.2f} ms"
    )
    print(f"{'path (ms)':<40} {'n':>5} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    for name in (START, *START_PARTS, RELAY_OPEN, STOP):
        if name in series:
            print(_row(name, series[name], name in (START, STOP)))
    if args.wedged:
        print(
            f"central system not reading ({args.wedged} sessions; it stops reading after "
            f"{WEDGE_FLOOD} GetConfiguration CALLs; pong_timeout_s {PONG_S:g}):"
        )
        print(_row(WEDGED_RELAY, wedged[WEDGED_RELAY], True, TARGET_WEDGED_P99_MS))
        print(_row(WEDGED_STATUS, wedged[WEDGED_STATUS], False))
        replaced = wedged[WEDGED_REPLACED]
        print(
            f"{WEDGED_REPLACED:<40} {len(replaced):>5} p50 {statistics.median(replaced):.2f} s,"
            f" max {max(replaced):.2f} s (bound: 1.5 x pong_timeout_s + reconnect)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
