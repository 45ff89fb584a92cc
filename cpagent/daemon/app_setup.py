"""What the chargepoint application is built from: the BootNotification fields, the OS boot
id, the stored WebSocketPingInterval and the Firmware Management worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cpagent.chargepoint.store import Store
from cpagent.config import Config
from cpagent.ids import uuid4_hex
from cpagent.transports.base import Transport
from cpagent.transports.websocket import WebSocketTransport

if TYPE_CHECKING:  # imported when the profile is on: it pulls in urllib, ftplib, tarfile (~1 MiB)
    from cpagent.firmware.worker import FirmwareWorker

OS_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: new at every OS boot


def os_boot_id(path: Path = OS_BOOT_ID) -> str:
    """The kernel's boot id (a fresh random id where there is none). Monotonic time
    (CLOCK_MONOTONIC) runs on across our own restarts within one OS boot, so what an earlier
    run queued without a wall clock is stamped exactly once the clock is known
    (`Store.backdate`), not at the reconnection, after a later run's messages."""
    try:
        return path.read_text().strip() or uuid4_hex()
    except OSError:
        return uuid4_hex()


def apply_stored_ping_interval(store: Store, transport: Transport) -> None:
    """WebSocketPingInterval as the central system last set it, else `[csms] ping_interval_s`.
    Its change answers RebootRequired (OCPP 1.6 §9.1.39), so it applies here, at the next
    start, before the runner starts the transport; 0 turns pings off."""
    stored = store.load_config().get("WebSocketPingInterval")
    if stored is not None and stored.isdigit() and isinstance(transport, WebSocketTransport):
        transport.ping_interval_s = float(stored)


def boot_payload(config: Config) -> dict[str, str]:
    """BootNotification.req fields from [chargepoint] (OCPP 1.6 §4.2)."""
    cp = config.chargepoint
    payload = {"chargePointVendor": cp.vendor, "chargePointModel": cp.model}
    if cp.serial_number is not None:
        payload["chargePointSerialNumber"] = cp.serial_number
    if cp.firmware_version is not None:
        payload["firmwareVersion"] = cp.firmware_version
    return payload


def firmware_worker(config: Config, post: Callable[[object], None]) -> FirmwareWorker | None:
    """The worker behind the Firmware Management profile; None (profile off) without an
    install command."""
    firmware = config.firmware
    if not firmware.install_command:
        return None
    from cpagent.firmware.worker import FirmwareWorker

    worker = FirmwareWorker(
        post,
        diagnostics_paths=list(config.diagnostics.paths),
        download_dir=firmware.download_dir or config.state.dir / "firmware",
        install_command=list(firmware.install_command),
        timeout_s=firmware.timeout_s,
        config_path=config.path,  # only a redacted copy is uploaded
        journal_unit=config.diagnostics.journal_unit,
        max_download_bytes=firmware.max_download_mb * 1024 * 1024,
        deadline_s=firmware.transfer_deadline_s,
        reserve_bytes=firmware.reserve_mb * 1024 * 1024,
    )
    worker.start()
    return worker
