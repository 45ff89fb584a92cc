"""Fixtures: a strict `ocpp` central system and the real daemon, both torn down after each test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon

FAST_KEYS = {"MeterValueSampleInterval": "1", "TransactionMessageRetryInterval": "1"}


@pytest.fixture
def csms() -> Iterator[StrictCentralSystem]:
    """The public `ocpp` central system on loopback; any frame that fails its schema
    validation fails the test."""
    central = StrictCentralSystem(heartbeat_interval=300)
    central.start()
    try:
        yield central
    finally:
        central.close()
    violations = central.violations
    assert not violations, f"the central system refused frames: {violations}"


@pytest.fixture
def daemon(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[Daemon]:
    """A daemon (not started) pointed at `csms`; killed on teardown whatever happened."""
    yield from _daemon(tmp_path, csms)


def _daemon(
    workdir: Path, csms: StrictCentralSystem, extra: str = "", connectors: int = 1
) -> Iterator[Daemon]:
    sock_dir = Path(tempfile.mkdtemp(prefix="cpe2e-"))  # sun_path is 107 bytes at most
    process = Daemon(workdir, sock_dir / "ctl.sock", csms.url, extra=extra, connectors=connectors)
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def _shared_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Daemon, StrictCentralSystem]]:
    central = StrictCentralSystem(heartbeat_interval=300)
    central.start()
    try:
        for process in _daemon(tmp_path_factory.mktemp("shared"), central):
            boot(process, central)
            yield process, central
    finally:
        central.close()


@pytest.fixture
def shared(
    _shared_pair: tuple[Daemon, StrictCentralSystem],
) -> Iterator[tuple[Daemon, StrictCentralSystem]]:
    """One booted daemon and its central system shared by a module's tests that leave no
    state behind (queries, answers); each test still fails on a refused frame or a dead
    daemon."""
    process, central = _shared_pair
    seen = len(central.violations)
    yield process, central
    assert central.violations[seen:] == [], "the central system refused frames"
    assert process.process is not None and process.process.poll() is None, "daemon died"


def boot(daemon: Daemon, csms: StrictCentralSystem, **keys: str) -> None:
    """Start the daemon, wait until it is Accepted and Available, then set `keys`
    (plus FAST_KEYS) by ChangeConfiguration."""
    daemon.start()
    daemon.wait(
        lambda s: s["registration"] == "Accepted" and s["connection"] == "connected",
        what="BootNotification Accepted",
    )
    csms.wait_status(1, "Available")
    configure(csms, **{**FAST_KEYS, **keys})


def configure(csms: StrictCentralSystem, **keys: str) -> None:
    for key, value in keys.items():
        answer = csms.call(CHARGEPOINT_ID, call.ChangeConfiguration(key=key, value=value))
        assert answer.status == "Accepted", f"ChangeConfiguration {key}={value}: {answer}"


@pytest.fixture
def running(daemon: Daemon, csms: StrictCentralSystem) -> Daemon:
    """The daemon started and accepted, with one-second sample and retry intervals."""
    boot(daemon, csms)
    return daemon
