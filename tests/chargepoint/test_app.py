"""OcppApplication on real (simulated) drivers from the bench config, against a scripted CSMS."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.app import EX_TEMPFAIL, OcppApplication
from cpagent.chargepoint.clock import to_wire
from cpagent.config import StateConfig, load_config
from cpagent.core import CallAnswered, CallReceived, Session
from cpagent.daemon.context import AppContext
from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.wiring import Hardware, build_hardware
from cpagent.transports.events import FrameReceived, TransportUp
from hw.events import CardPresented, PlugChanged

from .schemas import validate

ROOT = Path(__file__).resolve().parents[2]
ANSWERS: dict[str, dict[str, Any]] = {
    "BootNotification": {"status": "Accepted", "currentTime": to_wire(1_764_460_800.0),
                         "interval": 300},
    "StatusNotification": {}, "Authorize": {"idTagInfo": {"status": "Accepted"}},
    "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
    "StopTransaction": {}, "MeterValues": {}, "Heartbeat": {"currentTime": to_wire(0)},
}


class RecordingTransport:
    """Stands in for the WebSocket transport: keeps what the application sends."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def start(self) -> None: ...

    def send(self, text: str) -> bool:
        self.sent.append(text)
        return True

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclasses.dataclass
class Bench:
    app: OcppApplication
    hardware: Hardware
    transport: RecordingTransport
    posted: list[object]
    csms: Session
    received: list[str]
    now: float = 100.0
    ids: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    def event(self, ev: object) -> None:
        self.app.on_event(ev, self.now)
        self.pump()

    def pump(self) -> None:
        while self.transport.sent:
            text = self.transport.sent.pop(0)
            self.csms.receive(text, self.now)
            for ev in self.csms.drain_events():
                if isinstance(ev, CallReceived):
                    validate(ev.action, ev.payload)
                    self.received.append(ev.action)
                    self.csms.answer(ev.message_id, ANSWERS[ev.action], self.now)
                elif isinstance(ev, CallAnswered):
                    self.last = ev.payload
            for out in self.csms.drain_frames():
                self.app.on_event(FrameReceived(out.text), self.now)

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.csms.call(f"c{next(self.ids)}", action, payload, self.now)
        for out in self.csms.drain_frames():
            self.app.on_event(FrameReceived(out.text), self.now)
        self.pump()
        return self.last


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    config = load_config(ROOT / "config" / "bench.toml")
    config = dataclasses.replace(config, state=StateConfig(tmp_path / "state"))
    posted: list[object] = []
    hardware = build_hardware(config, posted.append)
    transport = RecordingTransport()
    app = OcppApplication(AppContext(config, hardware, transport, posted.append), now=100.0)
    csms = Session("ocpp1.6")
    csms.connected(100.0)
    b = Bench(app, hardware, transport, posted, csms, [])
    try:
        yield b
    finally:
        app.shutdown("test over")
        hardware.close()


def test_card_session_closes_the_real_relay_driver(bench: Bench) -> None:
    relay = bench.hardware.connector(1).relay
    bench.event(TransportUp("ocpp1.6"))
    assert bench.received[0] == "BootNotification"
    assert bench.app.status()["registration"] == "Accepted"
    bench.event(PlugChanged("connector1", True))
    assert not relay.energised
    bench.event(CardPresented("rfid", "CAFE01"))  # the reader serves connector 1 (plugged)
    assert relay.energised and not bench.hardware.connector(2).relay.energised
    [one, _] = bench.app.status()["connectors"]
    assert (one["status"], one["transaction"]["transaction_id"]) == ("Charging", 1)
    assert bench.call("Reset", {"type": "Hard"}) == {"status": "Accepted"}
    assert not relay.energised
    assert "StopTransaction" in bench.received
    assert ShutdownRequested("OCPP Hard reset", EX_TEMPFAIL) in bench.posted


def test_state_database_lives_in_the_state_dir(bench: Bench, tmp_path: Path) -> None:
    assert (tmp_path / "state" / "cpagent.db").exists()
    assert bench.app.status()["queued_messages"] == 0
