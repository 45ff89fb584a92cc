"""Bench: requests per sample and samples per second of SdmMeter against the simulated RTU meter."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw.meters.registers import MAX_REGISTERS_PER_READ, plan_blocks, register_map  # noqa: E402
from hw.meters.rtu_sim import RtuMeterSimulator  # noqa: E402
from hw.meters.sdm import SdmMeter  # noqa: E402

# Modbus over Serial Line V1.02 §2.5.1: 11 bits per character with parity (8N1: 10), and a
# 3.5-character silence between frames.
BITS_PER_CHAR = 10


def line_time_s(blocks: int, registers: int, baudrate: int) -> float:
    """Time a real line needs per sample: request 8 bytes, reply 5 + 2 per register, gaps."""
    chars = blocks * (8 + 5 + 3.5 * 2) + 2 * registers
    return chars * BITS_PER_CHAR / baudrate


def run(model: str, max_registers: int, seconds: float, baudrate: int) -> dict[str, float]:
    with RtuMeterSimulator(model, baudrate=baudrate) as sim:
        sim.set(voltage_v=230.0, current_a=16.0, power_w=11040.0, energy_wh=1000.0)
        meter = SdmMeter(
            model, sim.port, baudrate=baudrate, timeout=1.0, retries=1, max_registers=max_registers
        )
        try:
            samples = 0
            start_requests = sim.requests
            start = time.perf_counter()
            deadline = start + seconds
            while time.perf_counter() < deadline:
                meter.read()
                samples += 1
            elapsed = time.perf_counter() - start
            requests = sim.requests - start_requests
        finally:
            meter.close()
    blocks = plan_blocks(register_map(model).registers, max_registers)
    return {
        "samples": samples,
        "requests_per_sample": requests / samples,
        "samples_per_s_pty": samples / elapsed,
        "samples_per_s_line": 1.0
        / line_time_s(len(blocks), sum(b.count for b in blocks), baudrate),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per configuration")
    parser.add_argument("--baudrate", type=int, default=9600)
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    rows = []
    for model in ("SDM630", "SDM120"):
        for max_registers in (MAX_REGISTERS_PER_READ, 20, 2):
            print(
                f"polling {model} max_registers={max_registers} for {args.seconds}s ...", flush=True
            )
            rows.append(
                (model, max_registers, run(model, max_registers, args.seconds, args.baudrate))
            )
    print()
    print(
        f"{'model':8} {'max_regs':>8} {'samples':>8} {'req/sample':>10} "
        f"{'samples/s (pty)':>16} {'samples/s (line est.)':>22}"
    )
    for model, max_registers, fig in rows:
        print(
            f"{model:8} {max_registers:8d} {int(fig['samples']):8d} "
            f"{fig['requests_per_sample']:10.2f} {fig['samples_per_s_pty']:16.1f} "
            f"{fig['samples_per_s_line']:22.1f}"
        )
    print(f"(pty has no baud-rate timing; line est. = {args.baudrate} baud 8N1 wire time)")


if __name__ == "__main__":
    main()
