"""The running daemon against a central system that stops reading or sends too much: the
contactor opens at once, `status` answers, memory stays bounded, the link is replaced."""

from __future__ import annotations

import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.campaign import Daemon
from tests.reliability.hostile_ws import TEXT, frame
from tests.reliability.mini_csms import MiniCsms
from tests.support.net import wait_until

TAG = "WEDGE-1"
MIB = 1024 * 1024
PING_INTERVAL_S = 1.0  # [csms] ping_interval_s
PONG_TIMEOUT_S = 2.0  # [csms] pong_timeout_s: also the bound for a frame that cannot be written
AT_ONCE_S = 2.0  # the relay opens "at once": long before any network bound
DETECT_S = 15.0  # pong timeout + reconnect + slack on a loaded 2-core box


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Daemon, MiniCsms]]:
    sock_dir = Path(tempfile.mkdtemp(prefix="cpwedge-"))  # sun_path is 107 bytes at most
    with MiniCsms() as csms:
        daemon = Daemon(tmp_path, sock_dir / "ctl.sock", csms.url)
        config = daemon.config_path.read_text().replace(
            "ping_interval_s = 30.0",
            f"ping_interval_s = {PING_INTERVAL_S}\npong_timeout_s = {PONG_TIMEOUT_S}",
        )
        daemon.config_path.write_text(config)
        try:
            daemon.start()
            daemon.wait_settled()
            yield daemon, csms
        finally:
            daemon.stop()
            shutil.rmtree(sock_dir, ignore_errors=True)


def _vm(daemon: Daemon, field: str) -> int:
    """A /proc/<pid>/status memory field of the daemon, in KiB (VmRSS, VmHWM: peak RSS)."""
    for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{daemon.pid}/status")


def _more_than(csms: MiniCsms, connections: int) -> Callable[[], bool]:
    return lambda: csms.connections > connections


@pytest.mark.parametrize("how", ["unplug", "remote-stop"])
def test_session_ends_at_once_while_the_central_system_does_not_read(
    rig: tuple[Daemon, MiniCsms], how: str
) -> None:
    daemon, csms = rig
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag=TAG)
    daemon.wait_connector(
        lambda c: c["relay"] is True and c["transaction"] and c["transaction"]["id"] is not None,
        what="charging",
    )
    # Answers of a few KB each that nobody reads: the socket buffers fill (the receiver's is
    # 4 KiB) and the daemon's writes block in the kernel.
    csms.wedge(flood=2000)

    # Before: the owner thread sat in a blocking send, so neither of these was served until
    # the keep-alive (if it got the send lock at all) gave up on the link.
    began = time.monotonic()
    if how == "unplug":
        daemon.do("unplug", connector=1)
    else:  # OCPP 1.6 §5.12: the central system can still send, though it reads nothing
        csms.send_raw(frame(TEXT, b'[2,"rs-1","RemoteStopTransaction",{"transactionId":1}]'))
    left = AT_ONCE_S - (time.monotonic() - began)
    assert left > 0, "the command took longer than the relay may"
    daemon.wait_connector(
        lambda c: c["relay"] is False, left, "the relay open at once, whatever the network does"
    )
    assert daemon.status()["ok"] is True

    wait_until(lambda: csms.connections >= 2, DETECT_S, "the wedged link replaced")
    daemon.wait_settled(DETECT_S)
    # The Stop written into the dead link is resent from the outbox on the new one, once.
    stops = [s for s in csms.calls("StopTransaction") if s.connection >= 2]
    assert [s.payload["transactionId"] for s in stops] == [1], csms.calls("StopTransaction")
    log = daemon.last_run_log()
    assert "central system not reading" in log or "no pong within" in log, log[-2000:]


OVERSIZED = {  # announced size, bytes actually sent after the header
    "just-over-the-cap": (8 * MIB + 1, 8 * MIB + 1),
    "100-MB": (100_000_000, 100_000_000),
    "2**62": (2**62, 64 * 1024),
}


def test_oversized_frames_leave_memory_bounded_and_the_link_replaced(
    rig: tuple[Daemon, MiniCsms],
) -> None:
    """Frames over [csms] max_frame_bytes (8 MiB): refused at their header (close 1009), so
    the daemon's peak RSS stays put (before: a 100 MB frame was buffered whole, peak 34 -> 225 MiB).
    The peak is the kernel's VmHWM, so a buffer that was allocated and freed still shows."""
    daemon, csms = rig
    peak_before = _vm(daemon, "VmHWM")
    for name, (announced, sent) in OVERSIZED.items():
        connections = csms.connections
        chunk = b"x" * MIB
        header = bytes([0x81, 127]) + struct.pack(">Q", announced)
        csms.send_raw(header)
        for _ in range(sent // MIB):
            csms.send_raw(chunk)
        csms.send_raw(chunk[: sent % MIB])
        wait_until(
            _more_than(csms, connections), DETECT_S, f"the link replaced after the {name} frame"
        )
        daemon.wait_settled(DETECT_S)
    grown_mib = (_vm(daemon, "VmHWM") - peak_before) / 1024
    assert grown_mib < 16, f"peak RSS grew {grown_mib:.1f} MiB"
    assert daemon.last_run_log().count("close 1009") >= len(OVERSIZED)
