"""Benchmark: what the state store writes to the SD card during a charging session.

Runs the real daemon (simulated meter drawing --power-w, MeterValueSampleInterval as given)
against the bench central system, starts a transaction, then counts for --seconds what the
daemon process caused to be written to storage (/proc/PID/io write_bytes: page-cache level,
so every WAL page and checkpoint counts, once) and its write calls (syscw). Its log goes to
/dev/null at WARNING, so the figure is the store's (and the mock GPIO file's, on relay
switches only). Prints bytes/s, MB/day and the energy a power cut may lose at this power.
Usage: python3 -m bench.store_writes [--seconds 60] [--power-w 22000] [--sample-s 60]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import REPO, CentralSystem, free_port, write_config
from cpagent.chargepoint.meter_reports import PERSIST_METER_S, PERSIST_METER_WH

POLL_S = 1.0


def ask(sock_path: Path, **request: Any) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(sock_path))
        sock.sendall((json.dumps(request) + "\n").encode())
        with sock.makefile("rb") as reader:
            answer: dict[str, Any] = json.loads(reader.readline())
    return answer


def io_counters(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    return {k: int(v) for k, v in (line.split(": ") for line in lines)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--power-w", type=float, default=22000.0)
    parser.add_argument("--sample-s", type=int, default=60, help="MeterValueSampleInterval")
    parser.add_argument("--dir", type=Path, default=None, help="where the state dir goes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cpagent-writes-", dir=args.dir) as tmp:
        work = Path(tmp)
        central = CentralSystem(free_port())
        config = write_config(  # 3 x 32 A: up to 22 kW drawn (the sim EV keeps to it)
            work,
            central.url,
            chargepoint_id="BENCH-W",
            poll_s=POLL_S,
            log_level="WARNING",
            max_current_a=32.0,
            phases=3,
        )
        daemon = subprocess.Popen(
            [sys.executable, "-m", "cpagent", "run", "--config", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            central.wait_call("BootNotification", 20.0)
            central.call_result(
                "ChangeConfiguration",
                {"key": "MeterValueSampleInterval", "value": str(args.sample_s)},
            )
            sock = work / "control.sock"
            ask(sock, cmd="ev-load", connector=1, watts=args.power_w)
            ask(sock, cmd="plug", connector=1)
            ask(sock, cmd="tap", id_tag="BENCHW")
            central.wait_call("StartTransaction", 10.0)
            time.sleep(2 * POLL_S)  # settle: the start's own commits are not the steady rate
            before, t0 = io_counters(daemon.pid), time.monotonic()
            time.sleep(args.seconds)  # the measurement window
            after, t1 = io_counters(daemon.pid), time.monotonic()
            status = ask(sock, cmd="status")
        finally:
            daemon.terminate()
            daemon.wait(20)
            central.close()
    span = t1 - t0
    written = after["write_bytes"] - before["write_bytes"]
    calls = after["syscw"] - before["syscw"]
    rate = written / span
    meter = status["connectors"][0]["meter"] or {}
    at_risk = min(args.power_w * PERSIST_METER_S / 3600.0, PERSIST_METER_WH) + (
        args.power_w * POLL_S / 3600.0
    )
    print(
        f"store_writes: {args.power_w / 1000:.1f} kW, MeterValueSampleInterval "
        f"{args.sample_s} s, meter poll {POLL_S} s, {span:.0f} s window "
        f"(charged {meter.get('energy_wh', 0):.0f} Wh)"
    )
    print(
        f"  written to storage: {written} bytes = {rate:.0f} B/s = "
        f"{rate * 86400 / 1e6:.1f} MB/day; write calls {calls} ({calls / span:.2f}/s)"
    )
    print(
        f"  persist rule: every {PERSIST_METER_S:.0f} s or {PERSIST_METER_WH:.0f} Wh; "
        f"energy a power cut may lose at this power: <= {at_risk:.1f} Wh"
    )
    os.sync()


if __name__ == "__main__":
    main()
