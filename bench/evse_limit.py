"""Benchmark: SetChargingProfile -> the EVSE-DIN board's register 1000, through the daemon.

The daemon (`cpagent run`, a subprocess) drives a real `EvseDin` driver and a real `SdmMeter`
on one simulated RS-485 bus (`hw.rtu_twin.RtuBusSimulator`: an `EvseDinTwin` unit 2 and an
`SdmTwin` unit 1 on one pty, paced at 9600 baud with `--wire-timing`); the central system is
`bench._common`'s timestamping server in its own process. A simulated EV is plugged in and a
RemoteStartTransaction starts charging; then each cycle sets a TxDefaultProfile of 10 A or
12 A (alternating) and measures from the instant the central system writes the CALL to the
instant the twin's register 1000 holds the new value (the twin is polled every 1 ms, so the
figures carry up to 1 ms of polling error). Printed: p50 / p99 / max in ms.

Usage: python3 -m bench.evse_limit [--cycles 20] [--no-wire-timing]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import CentralSystem, free_port, load_average, percentile

CP_ID = "BENCH-EVSE"
POLL_S = 0.001  # how often the twin's register is looked at
WAIT_S = 10.0


def _profile(limit: float) -> dict[str, object]:
    start = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "startSchedule": start,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            },
        },
    }


def _until(check: object, what: str) -> float:
    deadline = time.monotonic() + WAIT_S
    while True:
        if check():  # type: ignore[operator]
            return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--no-wire-timing", action="store_true", help="do not pace the pty")
    args = parser.parse_args(argv)

    from hw.evse.evse_din_sim import EvseDinTwin
    from hw.meters.rtu_sim import SdmTwin
    from hw.rtu_twin import RtuBusSimulator
    from tests.support.daemon import DaemonProcess
    from tests.support.sim_config import sim_config

    board = EvseDinTwin(unit=2)
    meter = SdmTwin("SDM630", unit=1)
    meter.set(voltage_v=230.0, current_a=0.0, power_w=0.0, energy_wh=1000.0, frequency_hz=50.0)
    work = Path(tempfile.mkdtemp(prefix="cpevse-bench-"))
    csms = CentralSystem(free_port())
    try:
        with RtuBusSimulator([meter, board], wire_timing=not args.no_wire_timing) as bus:
            connector = (
                "[[connector]]\nmax_current_a = 16.0\n\n"
                f'[connector.meter]\ndriver = "sdm630"\nport = "{bus.port}"\nunit = 1\n'
                "poll_interval_s = 5.0\n\n"
                f'[connector.evse]\ndriver = "evse-din"\nport = "{bus.port}"\nunit = 2\n'
            )
            text = sim_config(
                cp_id=CP_ID,
                url=csms.url,
                model="bench",
                state=work / "state",
                socket=work / "ctl.sock",
                connectors=(),
                extra="\n" + connector,
            )
            daemon = DaemonProcess(work, work / "ctl.sock", text)
            daemon.launch()
            try:
                daemon.wait(lambda s: s["registration"] == "Accepted", what="registration")
                board.vehicle.plug(wants_charge=True)
                csms.call("RemoteStartTransaction", {"idTag": "BENCH", "connectorId": 1})
                _until(lambda: board.configured_a == 16, "16 A offered")
                samples: list[float] = []
                for cycle in range(args.cycles):
                    limit = 10.0 if cycle % 2 == 0 else 12.0
                    sent = csms.call("SetChargingProfile", _profile(limit))
                    done = _until(
                        lambda want=limit: board.configured_a == want, f"{limit} A offered"
                    )
                    samples.append((done - sent["t"]) * 1000.0)
            finally:
                daemon.stop()
    finally:
        csms.close()
        shutil.rmtree(work, ignore_errors=True)
    timing = "9600 baud wire timing" if not args.no_wire_timing else "no wire timing"
    print(
        f"SetChargingProfile -> EVSE-DIN register 1000 ({timing}, {len(samples)} cycles, "
        f"load {load_average()}): p50 {statistics.median(samples):.1f} ms, "
        f"p99 {percentile(samples, 99):.1f} ms, max {max(samples):.1f} ms"
    )


if __name__ == "__main__":
    main()
