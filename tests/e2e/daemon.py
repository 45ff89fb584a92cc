"""The real daemon as a subprocess: temp config, control-socket client, waits with deadlines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.daemon import REPO, DaemonProcess
from tests.support.sim_config import SimConnector, sim_config

CHARGEPOINT_ID = "E2E-1"
RESTART_EXIT = 75  # docs/foundation.md: the CSMS's Reset was accepted (systemd restarts it)

CONNECTORS = (SimConnector(17, 27, 16.0, 0.2), SimConnector(22, 23, 32.0, 0.2))


class Daemon(DaemonProcess):
    """`python3 -m cpagent run --config FILE` with mock GPIO, a sim meter and a sim reader.

    The state dir persists across `start()`s (restart after kill -9 or Reset); the log of
    every run is appended to `log_path` and quoted when a wait times out.
    """

    def __init__(
        self,
        workdir: Path,
        socket_path: Path,
        csms_url: str,
        csms_extra: str = "",
        extra: str = "",
        connectors: int = 1,
        layout: tuple[SimConnector, ...] = CONNECTORS,
    ) -> None:
        """`csms_extra`: more `[csms]` lines (password, TLS files); `extra`: more sections;
        `layout`: the connectors to take the first `connectors` of."""
        super().__init__(
            workdir,
            socket_path,
            sim_config(
                cp_id=CHARGEPOINT_ID,
                url=csms_url,
                model="e2e",
                identity={"serial_number": "e2e-0001", "firmware_version": "0.1.0"},
                csms={
                    "call_timeout_s": 5.0,
                    "backoff_min_s": 0.1,
                    "backoff_max_s": 0.5,
                    "ping_interval_s": 30.0,
                },
                csms_extra=csms_extra,
                state=workdir / "state",
                socket=socket_path,
                log_level="DEBUG",
                connectors=layout[:connectors],
                extra=extra,
            ),
        )

    def start(self) -> Daemon:
        self.launch()
        return self


def cli(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """Run `python3 -m cpagent ARGS...` from the checkout; its completed process."""
    return subprocess.run(
        [sys.executable, "-m", "cpagent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
