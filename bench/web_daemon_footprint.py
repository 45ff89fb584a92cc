"""Benchmark: the idle daemon's footprint with the web page off and on (`[web]` in its config).

The daemon of `bench/footprint.py` (one simulated connector, meter polled every `--poll` s,
the timestamping central system on loopback) is measured twice with its `measure()`: once
with its config as is, once with `[web] listen = "127.0.0.1:<free port>"` added. Figures
(proc(5)) as there: peak RSS (VmHWM), RSS at the end, CPU share, wake-ups, threads, fds over
an idle window of `--seconds`. With --serve, every route (`/`, `/sessions`, `/api/status`,
`/api/sessions`, `/metrics`) is fetched once in the middle of the page-on window, so its
figures include what serving leaves behind.
Usage: python3 -m bench.web_daemon_footprint [--seconds 60] [--poll 1] [--serve]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench._common import CentralSystem, free_port, write_config
from bench.footprint import SETTLE_S, TARGET_RSS_MIB, Footprint, measure

ROUTES = ("", "sessions", "api/status", "api/sessions", "metrics")


def one(seconds: float, poll: float, web: bool, serve: bool) -> Footprint:
    """One daemon's figures; with `web`, the page on a free loopback port."""
    with tempfile.TemporaryDirectory(prefix="cpagent-web-footprint-") as tmp:
        cs = CentralSystem(free_port(), heartbeat_s=10)
        try:
            config = write_config(
                Path(tmp), cs.url, chargepoint_id="BENCH-WEB", poll_s=poll, ping_s=30.0
            )
            port = free_port()
            if web:
                config.write_text(config.read_text() + f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
            if web and serve:
                threading.Thread(target=_browse, args=(port, seconds), daemon=True).start()
            argv = [sys.executable, "-m", "cpagent", "run", "--config", str(config)]
            log = Path(tmp) / "cpagent.log"
            return measure("cpagent", argv, cs, seconds, log, dict(os.environ))
        finally:
            cs.close()


def _browse(port: int, seconds: float) -> None:
    """Every route once, in the middle of the idle window (after boot and settling)."""
    time.sleep(SETTLE_S + 2.0 + seconds / 2)
    for route in ROUTES:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{route}", timeout=10) as reply:
            reply.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window (default 60)")
    parser.add_argument("--poll", type=float, default=1.0, help="meter poll, s (default 1)")
    parser.add_argument(
        "--serve", action="store_true", help="fetch every route once mid-window (page on)"
    )
    args = parser.parse_args(argv)
    off = one(args.seconds, args.poll, web=False, serve=False)
    on = one(args.seconds, args.poll, web=True, serve=args.serve)
    label = "page on, routes served once" if args.serve else "page on, idle"
    print(
        f"daemon footprint, web page off and on: window {args.seconds:g} s, meter poll "
        f"{args.poll:g} s, python {sys.version.split()[0]}"
    )
    print(f"{'figure':<28} {'page off':>10} {label:>28}")
    rows = (
        ("peak RSS (VmHWM), MiB", f"{off.peak_rss_mib:.1f}", f"{on.peak_rss_mib:.1f}"),
        ("RSS at the end, MiB", f"{off.rss_mib:.1f}", f"{on.rss_mib:.1f}"),
        ("CPU, % of one core", f"{off.cpu_pct:.2f}", f"{on.cpu_pct:.2f}"),
        ("wake-ups /s", f"{off.wakeups_per_s:.1f}", f"{on.wakeups_per_s:.1f}"),
        ("threads", str(off.threads), str(on.threads)),
        ("open fds", str(off.fds), str(on.fds)),
        ("exit code after SIGTERM", str(off.exit_code), str(on.exit_code)),
    )
    for name, a, b in rows:
        print(f"{name:<28} {a:>10} {b:>28}")
    verdict = "PASS" if on.peak_rss_mib <= TARGET_RSS_MIB else "MISS"
    print(
        f"page adds {on.peak_rss_mib - off.peak_rss_mib:+.1f} MiB peak; target <= "
        f"{TARGET_RSS_MIB:g} MiB with the page on: {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
