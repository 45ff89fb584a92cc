"""Fixtures for the foundation tests: bench configs in temp dirs, waiting on conditions."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.sim_config import sim_config


def bench_text(port: int) -> str:
    """Two simulated connectors on mock pins 17/27 and 22/23, the CSMS at `port`."""
    return sim_config(
        cp_id="TEST-1",
        url=f"ws://127.0.0.1:{port}/ocpp",
        csms={"backoff_min_s": 0.2, "backoff_max_s": 1.0},
        log_level="DEBUG",
    )


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
    path.write_text(bench_text(closed_port()))
    path.chmod(0o600)
    return path


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def control_status(path: Path) -> dict[str, Any]:
    """The daemon's status answer on control socket `path`, or {} while it is not up yet
    (the web page starts before the control socket)."""
    from cpagent.daemon.client import DaemonUnavailable, request

    try:
        return request(path, {"cmd": "status"})
    except DaemonUnavailable:
        return {}
