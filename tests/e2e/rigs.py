"""What the hardware-in-the-loop e2e tests share: a daemon on one connector of their own TOML,
and the TxProfile they send (OCPP 1.6 §3.13.2, §7.8)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
