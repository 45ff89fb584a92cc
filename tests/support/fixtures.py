"""Pytest fixtures over the shared test servers; import the ones a test module uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.central_system import CentralSystem
from tests.support.certs import Pki, make_pki
from tests.support.mosquitto import Mosquitto
from tests.support.recorder import EventRecorder


@pytest.fixture
def central_system() -> Iterator[CentralSystem]:
    """A started plain-ws OCPP 1.6 central system on loopback (see CentralSystem)."""
    with CentralSystem() as central:
        yield central


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A fresh test CA with server and client certificates written under tmp_path."""
    return make_pki(tmp_path)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Debian mosquitto broker on a free loopback port; fails if not installed."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def recorder() -> EventRecorder:
    """Collects events posted by a transport or driver."""
    return EventRecorder()
