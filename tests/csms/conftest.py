"""Fixtures: a real bench CSMS on an ephemeral loopback port, and public-`ocpp` chargepoints."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cpagent.csms.control import ControlServer
from cpagent.csms.handlers import HandlerSettings
from cpagent.csms.server import CentralSystem
from tests.csms.ocpp_client import OcppChargepointThread

ACCEPTED_TAG = "ABC123"

ChargepointFactory = Callable[..., OcppChargepointThread]


@pytest.fixture
def central() -> Iterator[CentralSystem]:
    system = CentralSystem(
        port=0, settings=HandlerSettings.with_id_tags([ACCEPTED_TAG]), call_timeout=5.0
    )
    system.start()
    try:
        yield system
    finally:
        system.stop()


@pytest.fixture
def control(central: CentralSystem) -> Iterator[ControlServer]:
    server = ControlServer(central, port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def connect(central: CentralSystem) -> Iterator[ChargepointFactory]:
    """Start public-`ocpp` chargepoints against `central`; all are stopped afterwards."""
    started: list[OcppChargepointThread] = []

    def factory(cp_id: str = "CP001", **kwargs: object) -> OcppChargepointThread:
        client = OcppChargepointThread(central.url, cp_id, **kwargs)  # type: ignore[arg-type]
        client.start()
        started.append(client)
        # The handshake ends before the server thread posts the link: wait until it is seen.
        seen = central.wait_for(lambda view: _link_seen(view, cp_id, client.local_address), 10.0)
        assert seen, f"{cp_id} never showed up as connected"
        return client

    try:
        yield factory
    finally:
        for client in started:
            client.stop()


def _link_seen(view: dict[str, Any], cp_id: str, address: str) -> bool:
    return any(
        c["id"] == cp_id and c["connected"] and c["remoteAddress"] == address
        for c in view["chargepoints"]
    )


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every test stops the threads it started (daemon helpers may take a moment to end)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked or time.monotonic() > deadline:
            break
        leaked[0].join(0.1)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
