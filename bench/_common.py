"""Shared bench helpers: a minimal timestamping OCPP 1.6 central system, configs, /proc readers.

The central system runs in its own process (`python3 -m bench._common csms --port P`), so it
never competes with a daemon under test for the GIL. It answers every CALL at once with a
fixed, valid OCPP 1.6 answer and reports each frame on stdout as one JSON line with
`time.monotonic()` (CLOCK_MONOTONIC, the same clock in every process on this machine):
  {"ev": "listening"} · {"ev": "connected", "t", "cp"} · {"ev": "call", "t", "action", "payload"}
  {"ev": "sent", "t", "id", "action"} (t: just before the frame is written)
  {"ev": "result", "t", "id", "payload"}
Commands on its stdin, one JSON line each: {"cmd": "call", "action": A, "payload": P};
{"cmd": "stall", "flood": N}: stop reading the newest link (receive buffer 4 KiB) and send it
N GetConfiguration CALLs, whose answers then fill the chargepoint's socket ({"ev": "stalled"}).
`python3 -m bench._common reference --url URL` is the reference chargepoint on the public
`ocpp` package (boot, heartbeats, a simulated meter read every second).
Module-level imports are stdlib only, so the reference's footprint holds only what it uses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
Event = dict[str, Any]


# -- the central system process -----------------------------------------------------------


def _answer(action: str, payload: dict[str, Any], heartbeat_s: int, tx_ids: list[int]) -> Any:
    """A valid OCPP 1.6 CALLRESULT payload for `action` (§4, §6 of the 1.6 spec)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    accepted = {"status": "Accepted"}
    if action == "BootNotification":
        return {"currentTime": now, "interval": heartbeat_s, "status": "Accepted"}
    if action == "Heartbeat":
        return {"currentTime": now}
    if action == "Authorize":
        return {"idTagInfo": accepted}
    if action == "StartTransaction":
        tx_ids[0] += 1
        return {"transactionId": tx_ids[0], "idTagInfo": accepted}
    if action == "DataTransfer":
        return accepted
    return {}  # StatusNotification, MeterValues, StopTransaction, *StatusNotification


def csms_main(port: int, heartbeat_s: int) -> None:
    """Serve OCPP 1.6 on 127.0.0.1:port until stdin closes (see the module docstring)."""
    import asyncio

    from websockets.asyncio.server import ServerConnection, serve
    from websockets.typing import Subprotocol

    out = sys.stdout
    links: list[ServerConnection] = []
    tx_ids = [0]
    seq = [0]

    def emit(event: Event) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    async def handle(ws: ServerConnection) -> None:
        links.append(ws)
        emit(
            {
                "ev": "connected",
                "t": time.monotonic(),
                "cp": ws.request.path.strip("/") if ws.request else "",
            }
        )
        try:
            async for text in ws:
                t = time.monotonic()
                msg = json.loads(text)
                if msg[0] == 2:
                    answer = _answer(msg[2], msg[3], heartbeat_s, tx_ids)
                    await ws.send(json.dumps([3, msg[1], answer]))
                    emit({"ev": "call", "t": t, "action": msg[2], "payload": msg[3]})
                else:
                    emit({"ev": "result", "t": t, "id": msg[1], "payload": msg[2:]})
        except Exception as exc:  # a closed link is the end of this chargepoint, not ours
            emit({"ev": "closed", "t": time.monotonic(), "why": repr(exc)})
        finally:
            links.remove(ws)

    async def send_call(action: str, payload: dict[str, Any]) -> None:
        if not links:
            emit({"ev": "error", "why": f"{action}: no chargepoint connected"})
            return
        seq[0] += 1
        call_id = f"cs{seq[0]}"
        text = json.dumps([2, call_id, action, payload])
        t = time.monotonic()
        await links[-1].send(text)
        emit({"ev": "sent", "t": t, "id": call_id, "action": action})

    async def stall(flood: int) -> None:
        import socket

        ws = links[-1]
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ws.transport.pause_reading()  # a central system that stops reading its socket
        for n in range(flood):
            await ws.send(json.dumps([2, f"flood{n}", "GetConfiguration", {}]))
        emit({"ev": "stalled", "t": time.monotonic()})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def read_commands() -> None:
            for line in sys.stdin:
                cmd = json.loads(line)
                if cmd["cmd"] == "stall":
                    asyncio.run_coroutine_threadsafe(stall(cmd["flood"]), loop)
                    continue
                asyncio.run_coroutine_threadsafe(send_call(cmd["action"], cmd["payload"]), loop)
            loop.call_soon_threadsafe(done.set)

        async with serve(
            handle, "127.0.0.1", port, subprotocols=[Subprotocol("ocpp1.6")], ping_interval=None
        ):
            emit({"ev": "listening"})
            threading.Thread(target=read_commands, daemon=True).start()
            await done.wait()

    asyncio.run(main())


class CentralSystem:
    """The bench side of the central-system process: start it, send CALLs, wait for frames."""

    def __init__(self, port: int, heartbeat_s: int = 86400) -> None:
        self.port = port
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench._common",
                "csms",
                "--port",
                str(port),
                "--heartbeat",
                str(heartbeat_s),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.pid = self._proc.pid
        self._reader = threading.Thread(target=self._read, name="csms-reader", daemon=True)
        self._reader.start()
        self.wait(lambda e: e["ev"] == "listening", 10.0, "central system listening")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()

    def mark(self) -> int:
        """An index into `events`: later waits can look only at what came after it."""
        with self._cond:
            return len(self.events)

    def wait(
        self, pred: Callable[[Event], bool], timeout: float, what: str, start: int = 0
    ) -> Event:
        """The first event at or after `start` matching `pred`; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if pred(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._proc.poll() is not None:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
                self._cond.wait(left)

    def wait_call(self, action: str, timeout: float, start: int = 0, **fields: Any) -> Event:
        """The first CALL `action` received at or after `start` whose payload has `fields`."""

        def match(e: Event) -> bool:
            return (
                e["ev"] == "call"
                and e["action"] == action
                and all(e["payload"].get(k) == v for k, v in fields.items())
            )

        return self.wait(match, timeout, f"{action} {fields}", start)

    def call(self, action: str, payload: dict[str, Any], timeout: float = 5.0) -> Event:
        """Send a CALL; return its "sent" event (with `t`, the instant before the write)."""
        start = self.mark()
        assert self._proc.stdin is not None
        self._proc.stdin.write(
            json.dumps({"cmd": "call", "action": action, "payload": payload}) + "\n"
        )
        self._proc.stdin.flush()
        return self.wait(
            lambda e: e["ev"] in ("sent", "error") and e.get("action", action) == action,
            timeout,
            f"{action} sent",
            start,
        )

    def call_result(self, action: str, payload: dict[str, Any], timeout: float = 5.0) -> Any:
        """Send a CALL and return the chargepoint's answer payload."""
        sent = self.call(action, payload, timeout)
        got = self.wait(
            lambda e: e["ev"] == "result" and e["id"] == sent.get("id"),
            timeout,
            f"answer to {action}",
        )
        return got["payload"][0]

    def stall(self, flood: int, timeout: float = 10.0) -> Event:
        """Make the central system stop reading its newest link, after `flood` CALLs."""
        start = self.mark()
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"cmd": "stall", "flood": flood}) + "\n")
        self._proc.stdin.flush()
        return self.wait(lambda e: e["ev"] == "stalled", timeout, "the stall", start)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(5)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- daemon configuration ------------------------------------------------------------------


def write_config(
    directory: Path,
    url: str,
    *,
    chargepoint_id: str,
    poll_s: float,
    ping_s: float = 30.0,
    log_level: str = "INFO",
    state_dir: Path | None = None,
    pong_s: float = 10.0,
    max_current_a: float = 16.0,
    phases: int | None = None,
) -> Path:
    """A daemon config with one simulated connector (mock GPIO 17 relay, 27 plug, sim meter).

    The state (SQLite) goes to `state_dir`, by default `directory/state`. The simulated EV
    draws at most `max_current_a` x 230 V x `phases` (None: the default, 1).
    """
    from tests.support.sim_config import SimConnector, sim_config

    path = directory / "cpagent.toml"
    path.write_text(
        sim_config(
            cp_id=chargepoint_id,
            url=url,
            model="bench",
            csms={
                "protocol": "ocpp1.6",
                "call_timeout_s": 10.0,
                "backoff_min_s": 0.2,
                "backoff_max_s": 1.0,
                "ping_interval_s": ping_s,
                "pong_timeout_s": pong_s,
            },
            state=state_dir if state_dir is not None else directory / "state",
            socket="control.sock",
            log_level=log_level,
            connectors=[SimConnector(17, 27, max_current_a, poll_s, phases=phases)],
        )
    )
    return path


# -- figures -------------------------------------------------------------------------------


class MachineLoad:
    """CPU the whole machine spent between `__init__` and `others_pct()`, minus given PIDs.

    Other work on this 2-core machine (parallel test runs) delays our threads; the figure
    says how much of it there was during a measurement (from /proc/stat and /proc/PID/stat).
    """

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._t = time.monotonic()
        self._busy = _machine_busy_s()
        self._own = sum(_process_cpu_s(pid) for pid in pids)

    def others_pct(self) -> float:
        """Busy CPU of everything else, % of ONE core, averaged over the interval."""
        dt = time.monotonic() - self._t
        own = sum(_process_cpu_s(pid) for pid in self._pids) - self._own
        return 100.0 * (_machine_busy_s() - self._busy - own) / dt


def _machine_busy_s() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every figure."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def commit_baseline(directory: Path, count: int = 100) -> tuple[float, float]:
    """p50 and p99 (ms) of one small SQLite commit in `directory` with the store's durability
    settings (WAL, synchronous=FULL): the disk's share of every transaction message."""
    import sqlite3

    path = directory / "commit-probe.db"
    times = []
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE probe (payload TEXT)")
        for _ in range(count):
            began = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO probe VALUES (?)", ("x" * 300,))
            conn.execute("COMMIT")
            times.append((time.perf_counter() - began) * 1000)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return percentile(times, 50), percentile(times, 99)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank: a value that was actually measured."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n*q/100), at least 1
    return ordered[int(rank) - 1]


@dataclass(frozen=True, slots=True)
class ProcSample:
    """What /proc says about one process at one instant."""

    t: float
    cpu_s: float  # utime + stime of every thread, seconds
    hwm_kib: int  # VmHWM: peak resident set
    rss_kib: int  # VmRSS
    threads: int
    fds: int
    switches: int  # voluntary + nonvoluntary context switches summed over every thread


def proc_sample(pid: int) -> ProcSample:
    """Read /proc/PID (proc(5)); context switches are per thread, so every task is summed."""
    t = time.monotonic()
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; field 3 is fields[0]
    ticks = os.sysconf("SC_CLK_TCK")
    cpu_s = (int(fields[11]) + int(fields[12])) / ticks  # utime (14), stime (15)
    status = _status_fields(Path(f"/proc/{pid}/status"))
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields_t = _status_fields(task / "status")
        except FileNotFoundError:
            continue  # the thread ended between listing and reading
        switches += fields_t["voluntary_ctxt_switches"] + fields_t["nonvoluntary_ctxt_switches"]
    return ProcSample(
        t,
        cpu_s,
        status["VmHWM"],
        status["VmRSS"],
        status["Threads"],
        len(os.listdir(f"/proc/{pid}/fd")),
        switches,
    )


def _status_fields(path: Path) -> dict[str, int]:
    wanted = ("VmHWM", "VmRSS", "Threads", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            out[key] = int(value.split()[0])
    return out


# -- the reference chargepoint on the public `ocpp` package ----------------------------------


def reference_main(url: str, chargepoint_id: str, poll_s: float) -> None:
    """Boot, heartbeat at the interval the central system gives, read a SimMeter every poll_s."""
    import asyncio

    from ocpp.v16 import ChargePoint, call
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    from hw.meters.sim import SimMeter

    async def poll(meter: SimMeter) -> None:
        while True:
            await asyncio.sleep(poll_s)
            meter.read()  # the same simulated meter the daemon reads, same period

    async def main() -> None:
        async with connect(f"{url}/{chargepoint_id}", subprotocols=[Subprotocol("ocpp1.6")]) as ws:
            cp = ChargePoint(chargepoint_id, ws)
            runner = asyncio.ensure_future(cp.start())
            poller = asyncio.ensure_future(poll(SimMeter()))
            boot = await cp.call(
                call.BootNotification(
                    charge_point_model="bench", charge_point_vendor="ocpp-reference"
                )
            )
            await cp.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
            while True:
                await asyncio.sleep(boot.interval)
                await cp.call(call.Heartbeat())
            await asyncio.gather(runner, poller)

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m bench._common")
    sub = parser.add_subparsers(dest="what", required=True)
    cs = sub.add_parser("csms", help="the timestamping central system (JSON lines on stdout)")
    cs.add_argument("--port", type=int, required=True)
    cs.add_argument("--heartbeat", type=int, default=86400)
    ref = sub.add_parser("reference", help="minimal chargepoint on the public ocpp package")
    ref.add_argument("--url", required=True)
    ref.add_argument("--id", default="REFERENCE")
    ref.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.what == "csms":
        csms_main(args.port, args.heartbeat)
    else:
        reference_main(args.url, args.id, args.poll)


if __name__ == "__main__":
    main()
