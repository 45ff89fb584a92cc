"""Fixtures for the foundation tests: bench configs in temp dirs, waiting on conditions."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

BENCH = """\
[chargepoint]
id = "TEST-1"
vendor = "cpagent"
model = "test"

[csms]
url = "ws://127.0.0.1:{port}/ocpp"
backoff_min_s = 0.2
backoff_max_s = 1.0

[state]
dir = "state"

[control]
socket = "ctl.sock"

[gpio]
pin_factory = "mock"

[log]
level = "DEBUG"

[[connector]]
relay_pin = 17
plug_pin = 27
[connector.meter]
driver = "sim"
poll_interval_s = 0.1

[[connector]]
relay_pin = 22
plug_pin = 23
[connector.meter]
driver = "sim"
poll_interval_s = 0.1

[rfid]
driver = "sim"
"""


def closed_port() -> int:
    """A loopback port nothing listens on (the CSMS is absent in these tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def bench_config(tmp_path: Path) -> Path:
    """A bench config (mock GPIO, sim meters and reader) whose paths are all under tmp_path."""
    path = tmp_path / "bench.toml"
    path.write_text(BENCH.format(port=closed_port()))
    path.chmod(0o600)
    return path


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)
