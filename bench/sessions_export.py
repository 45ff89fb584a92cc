"""Benchmark: `cpagent sessions --csv` / `--json` over a state database of many sessions.

Builds a state database with the real store schema holding --sessions finished sessions
(--samples meter samples each, as a day of 3-hour sessions at one sample a minute would
leave), then times the real command in a subprocess, start to exit, output to a file.
Prints the seconds, sessions/s, output and database size.
Usage: python3 -m bench.sessions_export [--sessions 10000] [--samples 180]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


def fill(path: Path, sessions: int, samples: int = 0, *, start_s: float = T0) -> None:
    """A state database at `path` with `sessions` finished sessions, one an hour from
    `start_s`, `samples` each a minute apart at 7.2 kW; written in one commit (the daemon
    writes them one by one, which is what the store tests are for)."""
    from cpagent.chargepoint.store import Store

    store = Store.open(path)
    try:
        with store._tx() as db:
            for i in range(1, sessions + 1):
                start = start_s + 3600.0 * i
                meter = 1000.0 * i
                db.execute(
                    "INSERT INTO history VALUES (?, ?, 1, ?, ?, ?, ?, ?, 'EVDisconnected', 1)",
                    (
                        i,
                        1000 + i,
                        f"CARD{i:08d}",
                        start,
                        start + 60 * (samples + 1),
                        meter,
                        meter + 120.0 * samples,
                    ),
                )
                db.executemany(
                    "INSERT INTO history_samples VALUES (?, ?, ?, 7200.0, ?, NULL)",
                    ((i, n, start + 60 * (n + 1), meter + 120.0 * n) for n in range(samples)),
                )
    finally:
        store.close()


def export(state: Path, form: str) -> tuple[float, int]:
    """Seconds for `cpagent sessions --<form>` (e.g. "json --samples") and the bytes it wrote."""
    config = state.parent / "bench.toml"
    config.write_text(_config(state))
    out = state.parent / "out"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    began = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cpagent",
                "sessions",
                *f"--{form}".split(),
                "--config",
                str(config),
            ],
            stdout=sink,
            check=True,
            env=env,
        )
    return time.perf_counter() - began, out.stat().st_size


def _config(state: Path) -> str:
    sys.path.insert(0, str(REPO))
    from tests.support.sim_config import sim_config

    return sim_config(
        cp_id="BENCH", url="ws://127.0.0.1:9/ocpp", state=state, socket=state / "ctl.sock"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=180)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cpagent-sessions-") as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        fill(state / "cpagent.db", args.sessions, args.samples)
        size = (state / "cpagent.db").stat().st_size
        print(
            f"state database: {args.sessions} sessions x {args.samples} samples,"
            f" {size / 1e6:.1f} MB ({size / max(args.sessions * args.samples, 1):.0f} B/sample)"
        )
        for form in ("csv", "json", "json --samples"):
            seconds, written = export(state, form)
            print(
                f"sessions --{form}: {seconds:.2f} s ({args.sessions / seconds:,.0f} sessions/s),"
                f" {written / 1e6:.1f} MB written"
            )


if __name__ == "__main__":
    main()
