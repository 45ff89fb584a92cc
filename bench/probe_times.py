"""Bench: how long the bring-up probes take on a 9600 baud bus - a reading, a wrong-unit
diagnosis, a scan - with an SDM630 twin at unit 1 on a pty paced like the real line.

Figures, not assertions: the scan's bound is `--timeout` (default 0.2 s) per silent unit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cpagent.cli import main  # noqa: E402
from hw.meters.rtu_sim import SdmTwin  # noqa: E402
from hw.rtu_twin import RtuBusSimulator  # noqa: E402


def _timed(argv: list[str]) -> tuple[float, int]:
    start = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return time.monotonic() - start, code


def run(last_unit: int) -> None:
    with RtuBusSimulator([SdmTwin("SDM630", unit=1)], wire_timing=True) as bus:
        port = ["probe", "meter", "--port", bus.port]
        rows = [
            ("one reading, unit 1", [*port, "--unit", "1"]),
            ("wrong unit 5: diagnosis (raw listen + units 1-16)", [*port, "--unit", "5"]),
            (
                f"scan 1-{last_unit} at 0.2 s per unit",
                [*port, "--scan", "--units", f"1-{last_unit}"],
            ),
        ]
        print("| probe (9600 baud, paced pty) | seconds | exit |")
        print("|---|---|---|")
        for name, argv in rows:
            seconds, code = _timed(argv)
            print(f"| {name} | {seconds:.2f} | {code} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--last-unit", type=int, default=247, help="scan 1..N (default 247)")
    run(parser.parse_args().last_unit)
