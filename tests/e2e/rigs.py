"""What the hardware-in-the-loop e2e tests share: a daemon on one connector of their own TOML,
and the TxProfile they send (OCPP 1.6 §3.13.2, §7.8)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e.daemon import CHARGEPOINT_ID
from tests.support.daemon import DaemonProcess
from tests.support.sim_config import sim_config


def connector_daemon(
    tmp_path: Path, csms_url: str, connector: str, prefix: str, log_level: str = "DEBUG"
) -> Iterator[DaemonProcess]:
    """A daemon (not launched yet) whose only connector is the `[[connector]]` TOML given;
    stopped and its socket directory removed afterwards. For `yield from` in a fixture."""
    sock_dir = Path(tempfile.mkdtemp(prefix=prefix))  # sun_path is 107 bytes at most
    text = sim_config(
        cp_id=CHARGEPOINT_ID,
        url=csms_url,
        csms={"call_timeout_s": 5.0, "backoff_min_s": 0.1, "backoff_max_s": 0.5},
        state=tmp_path / "state",
        socket=sock_dir / "ctl.sock",
        log_level=log_level,
        connectors=(),
        extra="\n" + connector,
    )
    process = DaemonProcess(tmp_path, sock_dir / "ctl.sock", text)
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


def tx_profile(limit: float, transaction_id: int | None = None) -> dict[str, Any]:
    """A TxProfile of `limit` A from the start of the transaction (Relative)."""
    profile: dict[str, Any] = {
        "chargingProfileId": 3,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return profile
