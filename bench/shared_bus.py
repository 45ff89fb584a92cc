"""Bench: requests per second on one RS-485 bus shared by an SDM630 meter and an EVSE-DIN board.

Both twins sit on one simulated bus whose pty link paces every byte like a 9600 baud line
(11 bits per character, Modbus over Serial Line V1.02 §2.5.1), so the figures include wire
time. Rows: the EVSE-DIN's quiet gap off and at its default (200 ms, as evcc uses), and the
same with a third, dead unit polled on the bus (what it costs the live ones).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.errors import EvseError  # noqa: E402
from hw.evse.evse_din import DEFAULT_GAP_S, EvseDin  # noqa: E402
from hw.evse.evse_din_sim import EvseDinTwin  # noqa: E402
from hw.meters.rtu_sim import SdmTwin  # noqa: E402
from hw.meters.sdm import SdmMeter  # noqa: E402
from hw.modbus_bus import BusRegistry, BusSettings  # noqa: E402
from hw.rtu_twin import RtuBusSimulator, char_time_s  # noqa: E402

# One meter sample: request 8 bytes, reply 5 + 2 x 74 registers. One EVSE status: request 8,
# reply 5 + 2 x 7 (1000-1006). Plus 3.5 characters of silence after each frame.
METER_CHARS = 8 + 5 + 2 * 74 + 2 * 3.5
EVSE_CHARS = 8 + 5 + 2 * 7 + 2 * 3.5


def run(seconds: float, baudrate: int, gap_s: float, dead_unit: bool) -> dict[str, float]:
    meter_twin, evse_twin = SdmTwin("SDM630", unit=1), EvseDinTwin(unit=2)
    with RtuBusSimulator([meter_twin, evse_twin], baudrate=baudrate, wire_timing=True) as line:
        buses = BusRegistry(timeout_s=0.5, retries=1)
        bus = buses.bus(line.port, settings=BusSettings(baudrate))
        meter = SdmMeter("SDM630", line.port, unit=1, bus=bus)
        evse = EvseDin(line.port, unit=2, bus=bus, gap_s=gap_s)
        stop = threading.Event()
        dead_thread = None
        if dead_unit:
            dead = EvseDin(line.port, unit=9, bus=bus, gap_s=0.0)

            def hammer() -> None:
                while not stop.is_set():
                    with contextlib.suppress(EvseError):
                        dead.read_status()

            dead_thread = threading.Thread(target=hammer, daemon=True)
            dead_thread.start()
        meter.read()
        evse.read_status()  # first contact: firmware and config registers read once
        before = bus.stats.units[1].requests + bus.stats.units[2].requests
        samples = 0
        worst = 0.0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            meter.read()
            evse.read_status()
            worst = max(worst, time.perf_counter() - t)
            samples += 1
        elapsed = time.perf_counter() - start
        stop.set()
        if dead_thread is not None:
            dead_thread.join(5)
        live = bus.stats.units[1].requests + bus.stats.units[2].requests - before
        buses.close()
    return {
        "live_req_per_s": live / elapsed,
        "pairs_per_s": samples / elapsed,
        "worst_pair_ms": worst * 1000,
        "wire_bound_req_per_s": 2 / ((METER_CHARS + EVSE_CHARS) * char_time_s(baudrate)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per row")
    parser.add_argument("--baudrate", type=int, default=9600)
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    rows = []
    for gap_s in (0.0, DEFAULT_GAP_S):
        for dead in (False, True):
            print(
                f"gap {gap_s:.1f} s, dead unit {'yes' if dead else 'no'}: {args.seconds} s ...",
                flush=True,
            )
            rows.append((gap_s, dead, run(args.seconds, args.baudrate, gap_s, dead)))
    print()
    print(
        f"{'EVSE gap':>8} {'dead unit':>9} {'live req/s':>10} {'meter+EVSE/s':>12} "
        f"{'worst pair ms':>13} {'wire bound req/s':>16}"
    )
    for gap_s, dead, fig in rows:
        print(
            f"{gap_s:8.1f} {'yes' if dead else 'no':>9} {fig['live_req_per_s']:10.1f} "
            f"{fig['pairs_per_s']:12.2f} {fig['worst_pair_ms']:13.0f} "
            f"{fig['wire_bound_req_per_s']:16.1f}"
        )
    print(
        f"(pty paced at {args.baudrate} baud, 11 bits per character; "
        f"date {time.strftime('%Y-%m-%d')})"
    )


if __name__ == "__main__":
    main()
