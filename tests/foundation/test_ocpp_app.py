"""The daemon with the OCPP 1.6 chargepoint against the bench CSMS on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cpagent.config import load_config
from cpagent.csms.server import CentralSystem
from cpagent.daemon.client import request
from cpagent.daemon.context import AppContext
from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.loop import Application
from cpagent.daemon.runner import run_daemon
from cpagent.daemon.wiring import build_application

from .conftest import control_status, wait_until


@dataclass
class Daemon:
    socket: Path
    contexts: list[AppContext] = field(default_factory=list)
    result: list[int] = field(default_factory=list)
    thread: threading.Thread | None = None

    def ask(self, **message: Any) -> dict[str, Any]:
        answer = request(self.socket, message)
        assert answer["ok"], answer
        return answer

    def connector(self, index: int) -> dict[str, Any]:
        connectors: list[dict[str, Any]] = self.ask(cmd="status")["connectors"]
        return connectors[index]

    def wait_exit(self) -> int:
        assert self.thread is not None
        self.thread.join(30.0)
        assert not self.thread.is_alive()
        return self.result[0]


@pytest.fixture
def csms() -> Iterator[CentralSystem]:
    central = CentralSystem(port=0)
    central.start()
    yield central
    central.stop()


@pytest.fixture
def daemon(bench_config: Path, csms: CentralSystem) -> Iterator[Daemon]:
    text = bench_config.read_text()
    start = text.index('url = "') + len('url = "')
    end = text.index('"', start)
    bench_config.write_text(text[:start] + csms.url + "/ocpp" + text[end:])
    config = load_config(bench_config)
    running = Daemon(config.control.socket)

    def build(ctx: AppContext) -> Application:
        running.contexts.append(ctx)
        return build_application(ctx, "chargepoint")

    running.thread = threading.Thread(
        target=lambda: running.result.append(run_daemon(config, env={}, build_app=build))
    )
    running.thread.start()
    wait_until(lambda: control_status(config.control.socket), what="control socket")
    yield running
    if running.thread.is_alive():
        running.contexts[0].post(ShutdownRequested("teardown"))
    running.thread.join(30.0)


def test_boot_card_and_plug_start_a_transaction_and_sigterm_opens_the_relay(
    daemon: Daemon,
) -> None:
    wait_until(
        lambda: daemon.ask(cmd="status")["registration"] == "Accepted",
        what="BootNotification accepted",
    )
    assert daemon.ask(cmd="status")["connection"] == "connected"
    assert daemon.connector(0)["relay"] is False

    daemon.ask(cmd="plug", connector=1)
    wait_until(lambda: daemon.connector(0)["status"] == "Preparing", what="Preparing")
    daemon.ask(cmd="tap", id_tag="AABBCCDDEE")
    wait_until(
        lambda: (daemon.connector(0)["transaction"] or {}).get("id") is not None,
        what="transaction id from the CSMS",
    )
    wait_until(lambda: daemon.connector(0)["relay"], what="relay closed")
    assert daemon.connector(0)["status"] == "Charging"
    pins = daemon.contexts[0].hardware.pin_factory
    assert pins.pin(17).state and not pins.pin(22).state

    daemon.contexts[0].post(ShutdownRequested("test"))
    assert daemon.wait_exit() == 0
    assert not pins.pin(17).state


def test_reset_from_the_csms_restarts_with_exit_75(daemon: Daemon, csms: CentralSystem) -> None:
    wait_until(
        lambda: daemon.ask(cmd="status")["registration"] == "Accepted",
        what="BootNotification accepted",
    )
    assert csms.call("TEST-1", "Reset", {"type": "Soft"}, timeout=10) == {"status": "Accepted"}
    assert daemon.wait_exit() == 75
