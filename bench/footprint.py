"""Benchmark: the idle daemon's memory, CPU, wake-ups, threads, fds and time to BootNotification.

Two subjects, one after the other, each a separate process against the same timestamping
central system (`bench._common`, its own process, on loopback):
- cpagent: `python3 -m cpagent run --config FILE`, the real chargepoint application with one
  simulated connector (mock GPIO relay and plug, SimMeter polled every `--poll` s, simulated
  card reader), SQLite state in a temp dir, WebSocket pings every 30 s, log level INFO.
- reference: `python3 -m bench._common reference`, a minimal chargepoint on the public
  `ocpp` package over `websockets` that boots, heartbeats and reads the same SimMeter every
  `--poll` s from an asyncio task.
The central system gives both the same heartbeat interval (`--heartbeat`, default 10 s, so
heartbeats happen inside the window).

Figures (proc(5)): boot = from just before the process is spawned to the central system
receiving its BootNotification (CLOCK_MONOTONIC in both processes); then, once the
chargepoint is settled (its StatusNotification seen, plus 2 s), an idle window of
`--seconds`: CPU share = (utime + stime) growth / wall time; wake-ups = growth of voluntary
+ nonvoluntary context switches summed over every thread (/proc/PID/task/*/status) per
second; peak RSS = VmHWM at the end (the whole life, start-up included); threads and fds at
the end. Targets are for cpagent; the reference has none.
With --session, cpagent first runs one charging session (control socket plug,
RemoteStartTransaction, unplug), so the validators and code of the charging path are loaded.
With --web, cpagent's config also has `[web] listen = "127.0.0.1:<free port>"` and nobody
opens the page (page on, idle). With --serve (implies --web), every route (`/`, `/sessions`,
`/api/status`, `/api/sessions`, `/metrics`) is fetched once at the middle of the window, so
the figures at the end are "after serving" (the peak includes serving).
The RSS target is the issue's 35 MB (10^6 bytes) = 33.4 MiB; RSS is printed as MiB (MB).
First, cpagent/ and hw/ are byte-compiled (`compileall`; only what is stale), so the daemon
loads .pyc files as an installed one does (pip byte-compiles on install, ./install.sh does it
for the editable checkout): a module without a current .pyc is compiled at every start where
PYTHONDONTWRITEBYTECODE is set, which costs ~1.6 MiB of peak RSS for the daemon's modules and
~2 MiB more for the generated validators of a session.
Usage: python3 -m bench.footprint [--seconds 60] [--poll 1] [--heartbeat 10] [--session]
       [--web | --serve]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import signal
import site
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    REPO,
    CentralSystem,
    MachineLoad,
    ProcSample,
    free_port,
    load_average,
    proc_sample,
    write_config,
)

TARGET_RSS_MB = 35.0  # the issue's "35 MB": 35 * 10^6 bytes = 33.4 MiB
MIB = 1024 * 1024
TARGET_RSS_MIB = TARGET_RSS_MB * 1e6 / MIB
TARGET_CPU_PCT = 1.0
TARGET_BOOT_S = 1.5
SETTLE_S = 2.0
WAIT_S = 15.0


@dataclass(frozen=True, slots=True)
class Footprint:
    """One subject's figures."""

    name: str
    boot_s: float
    window_s: float
    cpu_pct: float
    wakeups_per_s: float
    peak_rss_mib: float
    rss_mib: float
    threads: int
    fds: int
    heartbeats: int  # Heartbeat CALLs the central system received in the window
    exit_code: int | None
    others_pct: float  # CPU of every other process during the window, % of one core
    served: str = ""  # with --serve: what each route answered, e.g. "/ 200, /sessions 200"


def measure(
    name: str,
    argv: list[str],
    cs: CentralSystem,
    seconds: float,
    log: Path,
    env: dict[str, str],
    session: Path | None = None,
    web: str | None = None,
) -> Footprint:
    """Spawn `argv`, wait for its boot, sample /proc over an idle window, stop it (SIGTERM).

    With `session` (the daemon's control socket), one charging session runs first. With `web`
    (the page's base URL), every route is fetched once at the middle of the window.
    """
    served = ""
    mark = cs.mark()
    with log.open("w") as err:
        spawned = time.monotonic()
        proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            try:
                boot = cs.wait_call("BootNotification", WAIT_S, mark)
            except AssertionError:
                if proc.poll() is None:
                    raise
                err.flush()
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(
                    f"{name} exited with {proc.returncode} before booting: {' | '.join(tail)}"
                ) from None
            cs.wait_call("StatusNotification", WAIT_S, mark)
            if session is not None:
                charge_once(cs, session)
            time.sleep(SETTLE_S)  # let start-up work (first meter reads, statuses) finish
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited early with {proc.returncode}; see {log}")
            window = cs.mark()
            first = proc_sample(proc.pid)
            load = MachineLoad([proc.pid, cs.pid, os.getpid()])
            if web is None:
                time.sleep(seconds)
            else:
                time.sleep(seconds / 2)
                served = fetch_pages(web)
                time.sleep(max(0.0, first.t + seconds - time.monotonic()))
            last = proc_sample(proc.pid)
            others = load.others_pct()
            beats = sum(
                1 for e in cs.events[window:] if e["ev"] == "call" and e["action"] == "Heartbeat"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code: int | None = proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
    return _figures(name, boot["t"] - spawned, first, last, beats, code, others, served)


WEB_ROUTES = ("/", "/sessions", "/api/status", "/api/sessions", "/metrics")


def fetch_pages(base: str) -> str:
    """GET every route once (loopback); what each answered, for the report."""
    answers = []
    for route in WEB_ROUTES:
        try:
            with urllib.request.urlopen(base + route, timeout=WAIT_S) as reply:
                reply.read()
                answers.append(f"{route} {reply.status}")
        except OSError as exc:  # URLError and HTTPError are OSErrors: report, do not abort
            answers.append(f"{route} {exc}")
    return ", ".join(answers)


def charge_once(cs: CentralSystem, control: Path) -> None:
    """Plug (control socket), RemoteStartTransaction, Charging, unplug, StopTransaction."""
    mark = cs.mark()
    _ctl(control, {"cmd": "plug", "connector": 1})
    cs.wait_call("StatusNotification", WAIT_S, mark, status="Preparing")
    cs.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "BENCH0001"})
    cs.wait_call("StatusNotification", WAIT_S, mark, status="Charging")
    _ctl(control, {"cmd": "unplug", "connector": 1})
    cs.wait_call("StopTransaction", WAIT_S, mark)
    cs.wait_call("StatusNotification", WAIT_S, mark, status="Available")


def _ctl(path: Path, request: dict[str, object]) -> None:
    """One request on the daemon's control socket (docs/foundation.md); raise if refused."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT_S)
        sock.connect(str(path))
        sock.sendall(json.dumps(request).encode() + b"\n")
        answer = json.loads(sock.makefile("rb").readline())
    if not answer.get("ok"):
        raise RuntimeError(f"control socket refused {request}: {answer}")


def _figures(
    name: str,
    boot_s: float,
    first: ProcSample,
    last: ProcSample,
    beats: int,
    code: int | None,
    others_pct: float,
    served: str = "",
) -> Footprint:
    dt = last.t - first.t
    return Footprint(
        name=name,
        boot_s=boot_s,
        window_s=dt,
        cpu_pct=100.0 * (last.cpu_s - first.cpu_s) / dt,
        wakeups_per_s=(last.switches - first.switches) / dt,
        peak_rss_mib=last.hwm_kib / 1024,
        rss_mib=last.rss_kib / 1024,
        threads=last.threads,
        fds=last.fds,
        heartbeats=beats,
        exit_code=code,
        others_pct=others_pct,
        served=served,
    )


def _mib_mb(mib: float) -> str:
    """An RSS in MiB (2^20 bytes) and, in brackets, MB (10^6 bytes): "32.9 (34.5)"."""
    return f"{mib:.1f} ({mib * MIB / 1e6:.1f})"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(cp: Footprint, ref: Footprint) -> list[str]:
    """The table: one row per figure, cpagent, reference, target and verdict."""
    rows = [
        (
            "peak RSS (VmHWM), MiB (MB)",
            _mib_mb(cp.peak_rss_mib),
            _mib_mb(ref.peak_rss_mib),
            f"<= {TARGET_RSS_MIB:.1f} ({TARGET_RSS_MB:g})",
            _verdict(cp.peak_rss_mib <= TARGET_RSS_MIB),
        ),
        ("RSS at the end, MiB (MB)", _mib_mb(cp.rss_mib), _mib_mb(ref.rss_mib), "", ""),
        (
            "CPU, % of one core",
            f"{cp.cpu_pct:.2f}",
            f"{ref.cpu_pct:.2f}",
            f"<= {TARGET_CPU_PCT:g}",
            _verdict(cp.cpu_pct <= TARGET_CPU_PCT),
        ),
        (
            "wake-ups (context switches) /s",
            f"{cp.wakeups_per_s:.1f}",
            f"{ref.wakeups_per_s:.1f}",
            "",
            "",
        ),
        ("threads", str(cp.threads), str(ref.threads), "", ""),
        ("open fds", str(cp.fds), str(ref.fds), "", ""),
        (
            "start -> BootNotification received, s",
            f"{cp.boot_s:.3f}",
            f"{ref.boot_s:.3f}",
            f"<= {TARGET_BOOT_S:g}",
            _verdict(cp.boot_s <= TARGET_BOOT_S),
        ),
        ("heartbeats in the window", str(cp.heartbeats), str(ref.heartbeats), "", ""),
        ("exit code after SIGTERM", str(cp.exit_code), str(ref.exit_code), "", ""),
        (
            "other processes' CPU in the window, %",
            f"{cp.others_pct:.0f}",
            f"{ref.others_pct:.0f}",
            "",
            "",
        ),
    ]
    lines = [f"{'figure':<40} {'cpagent':>11} {'ocpp ref':>11} {'target':>12}  verdict"]
    lines += [f"{a:<40} {b:>11} {c:>11} {d:>12}  {e}" for a, b, c, d, e in rows]
    if cp.served:
        lines.append(f"web pages fetched mid-window (cpagent): {cp.served}")
    return lines


def add_web(config: Path) -> str:
    """Turn the web page on in `config` on a free loopback port; its base URL."""
    port = free_port()
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
    return f"http://127.0.0.1:{port}"


def byte_compile() -> bool:
    """Write current .pyc files for cpagent/ and hw/ (as pip does on install); False if not."""
    return all(
        compileall.compile_dir(REPO / package, quiet=2, workers=0) for package in ("cpagent", "hw")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window (default 60)")
    parser.add_argument("--poll", type=float, default=1.0, help="meter poll, s (default 1)")
    parser.add_argument(
        "--heartbeat",
        type=int,
        default=10,
        help="heartbeat interval the central system gives, s (default 10)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for both subjects, e.g. MALLOC_ARENA_MAX=2",
    )
    parser.add_argument(
        "--no-pth",
        action="store_true",
        help="start both subjects with `python3 -S` and site-packages on "
        "PYTHONPATH: no .pth start-up hooks of this machine's site-packages",
    )
    parser.add_argument(
        "--session",
        action="store_true",
        help="cpagent runs one charging session (control socket plug, "
        "RemoteStart, unplug) before its idle window",
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help='cpagent\'s config gets [web] listen = "127.0.0.1:<free port>"; nobody opens '
        "the page (page on, idle)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="as --web, and every route of the page is fetched once at the middle of the "
        "window (figures after serving)",
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.update(item.split("=", 1) for item in args.env)
    python = [sys.executable]
    if args.no_pth:
        python.append("-S")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *site.getsitepackages()])

    compiled = byte_compile()
    with tempfile.TemporaryDirectory(prefix="cpagent-footprint-") as tmp:
        cs = CentralSystem(free_port(), heartbeat_s=args.heartbeat)
        try:
            config = write_config(
                Path(tmp), cs.url, chargepoint_id="BENCH-FOOT", poll_s=args.poll, ping_s=30.0
            )
            web = add_web(config) if args.web or args.serve else None
            cp = measure(
                "cpagent",
                [*python, "-m", "cpagent", "run", "--config", str(config)],
                cs,
                args.seconds,
                Path(tmp) / "cpagent.log",
                env,
                Path(tmp) / "control.sock" if args.session else None,
                web if args.serve else None,
            )
            ref = measure(
                "reference",
                [
                    *python,
                    "-m",
                    "bench._common",
                    "reference",
                    "--url",
                    cs.url,
                    "--id",
                    "REFERENCE",
                    "--poll",
                    str(args.poll),
                ],
                cs,
                args.seconds,
                Path(tmp) / "reference.log",
                env,
            )
        finally:
            cs.close()
    print(
        f"cpagent idle footprint: window {cp.window_s:.1f} s (reference {ref.window_s:.1f} s),"
        f" meter poll {args.poll:g} s, heartbeat {args.heartbeat} s, python "
        f"{sys.version.split()[0]}{' -S (no .pth hooks)' if args.no_pth else ''}; "
        f"extra env {' '.join(args.env) or 'none'}; "
        f"{'one session before the window' if args.session else 'no session (idle since boot)'}"
        f"{'; web page on, every route fetched mid-window' if args.serve else ''}"
        f"{'; web page on, idle' if args.web and not args.serve else ''}"
        f"; {'byte-compiled' if compiled else 'byte-compiling FAILED (figures from source)'}"
        f"; load average {load_average()} (2 cores)"
    )
    for line in report(cp, ref):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
