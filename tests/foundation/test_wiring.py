"""Wiring: config -> real drivers and transports; bench commands refuse real hardware."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.store import DATABASE_FILE, Store
from cpagent.config import load_config
from cpagent.daemon.bench import BenchControls
from cpagent.daemon.context import AppContext
from cpagent.daemon.hardware import Hardware
from cpagent.daemon.loop import CommandError
from cpagent.daemon.wiring import build_application, build_hardware, build_transport
from cpagent.transports.mqtt import MqttTransport
from cpagent.transports.websocket import WebSocketTransport
from hw.events import MeterSampled
from hw.meters.rtu_sim import RtuMeterSimulator

Built = tuple[Hardware, queue.Queue[object]]


@pytest.fixture
def rtu_meter() -> Iterator[RtuMeterSimulator]:
    sim = RtuMeterSimulator("SDM630", unit=3)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def built(bench_config: Path) -> Iterator[Built]:
    events: queue.Queue[object] = queue.Queue()
    hardware = build_hardware(load_config(bench_config), events.put)
    yield hardware, events
    hardware.close()


def test_bench_hardware_starts_with_relays_open(built: Built) -> None:
    hardware, _ = built
    assert hardware.simulated
    assert [c.source for c in hardware.connectors] == ["connector1", "connector2"]
    assert [c.relay.energised for c in hardware.connectors] == [False, False]
    assert not hardware.pin_factory.pin(17).state and not hardware.pin_factory.pin(22).state


def test_close_releases_relays_and_is_safe_twice(built: Built) -> None:
    hardware, _ = built
    hardware.connectors[0].relay.energise()
    assert hardware.pin_factory.pin(17).state
    hardware.close()
    hardware.close()
    assert not hardware.pin_factory.pin(17).state


def test_real_sdm630_meter_is_wired_from_config(
    bench_config: Path, rtu_meter: RtuMeterSimulator
) -> None:
    text = bench_config.read_text().replace(
        'driver = "sim"\npoll_interval_s = 0.1\n\n[[connector]]',
        f'driver = "sdm630"\nport = "{rtu_meter.port}"\nunit = 3\npoll_interval_s = 0.1\n\n'
        "[[connector]]",
        1,
    )
    bench_config.write_text(text)
    rtu_meter.set(energy_wh=12_345.0, power_w=7_000.0)
    events: queue.Queue[object] = queue.Queue()
    hardware = build_hardware(load_config(bench_config), events.put)
    try:
        hardware.connectors[0].poller.poll_once()
        event = events.get(timeout=10)
        assert isinstance(event, MeterSampled) and event.source == "connector1:meter"
        assert event.sample.energy_wh == pytest.approx(12_345.0)
        with pytest.raises(CommandError, match="meter is a real sdm630"):
            BenchControls(hardware).handle(
                {"cmd": "fault", "connector": 1, "code": "PowerMeterFailure"}
            )
    finally:
        hardware.close()


def test_plug_is_refused_on_real_gpio(built: Built) -> None:
    hardware, _ = built
    real = Hardware(hardware.pin_factory, simulated=False, connectors=hardware.connectors)
    with pytest.raises(CommandError, match="plug input is real GPIO"):
        BenchControls(real).handle({"cmd": "plug", "connector": 1})


def test_websocket_transport_from_config(bench_config: Path) -> None:
    transport = build_transport(load_config(bench_config), lambda event: None)
    assert isinstance(transport, WebSocketTransport)
    assert transport.url.endswith("/ocpp/TEST-1") and transport.subprotocol == "ocpp1.6"


@pytest.mark.parametrize(("stored", "expected"), [(None, 30.0), ("120", 120.0), ("0", 0.0)])
def test_websocket_ping_interval_set_by_the_csms_applies_at_the_next_start(
    bench_config: Path, stored: str | None, expected: float
) -> None:
    config = load_config(bench_config)
    config.state.dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(config.state.dir / DATABASE_FILE)
    if stored is not None:
        store.save_config({"WebSocketPingInterval": stored})
    store.close()
    transport = build_transport(config, lambda event: None)
    assert isinstance(transport, WebSocketTransport)
    hardware = build_hardware(config, lambda event: None)
    try:  # the application applies it when it starts, before the runner starts the transport
        app = build_application(AppContext(config, hardware, transport, lambda event: None))
        app.shutdown("test")
    finally:
        hardware.close()
    assert transport.ping_interval_s == expected


def test_pong_timeout_comes_from_config(bench_config: Path) -> None:
    bench_config.write_text(
        bench_config.read_text().replace("[csms]\n", "[csms]\npong_timeout_s = 2.5\n")
    )
    transport = build_transport(load_config(bench_config), lambda event: None)
    assert isinstance(transport, WebSocketTransport)
    assert transport.pong_timeout_s == 2.5


def test_mqtt_transport_from_config(bench_config: Path) -> None:
    text = bench_config.read_text().replace("[csms]\n", '[csms]\ntransport = "mqtt"\n')
    bench_config.write_text(
        text + '\n[mqtt]\nhost = "127.0.0.1"\nport = 1884\ntopic_prefix = "bench"\n'
    )
    transport = build_transport(load_config(bench_config), lambda event: None)
    assert isinstance(transport, MqttTransport)
    assert transport.chargepoint_id == "TEST-1"


REAL_RELAY_CASES = [
    ({"cmd": "tap", "id_tag": "STRANGER"}, "tap refused: the relays are real GPIO"),
    ({"cmd": "clear-fault", "connector": 1}, "clear-fault refused: the relays are real GPIO"),
    ({"cmd": "ev-load", "connector": 1, "watts": 7400}, "ev-load refused: the relays are real"),
]


@pytest.mark.parametrize(("command", "refusal"), REAL_RELAY_CASES)
def test_simulated_inputs_cannot_drive_real_relays(
    built: Built, command: dict[str, object], refusal: str
) -> None:
    # a real relay with a simulated reader / meter: `ctl tap` must not start charging
    hardware, _ = built
    real = Hardware(
        hardware.pin_factory,
        simulated=False,
        connectors=hardware.connectors,
        reader=hardware.reader,
    )
    with pytest.raises(CommandError, match=refusal):
        BenchControls(real).handle(command)


@pytest.mark.parametrize(("command", "refusal"), REAL_RELAY_CASES)
def test_the_bench_flag_lets_simulated_inputs_drive_real_relays(
    built: Built, command: dict[str, object], refusal: str
) -> None:
    hardware, _ = built
    rig = Hardware(
        hardware.pin_factory,
        simulated=False,
        connectors=hardware.connectors,
        reader=hardware.reader,
        ctl_on_real_relays=True,
    )
    assert hardware.reader is not None
    hardware.reader.start()  # stopped by the fixture's close()
    assert BenchControls(rig).handle(command)


def test_a_simulated_fault_is_allowed_with_real_relays(built: Built) -> None:
    hardware, _ = built  # a fault only ever opens a relay
    real = Hardware(hardware.pin_factory, simulated=False, connectors=hardware.connectors)
    answer = BenchControls(real).handle(
        {"cmd": "fault", "connector": 1, "code": "PowerMeterFailure"}
    )
    assert answer == {"connector": 1, "fault": "PowerMeterFailure"}


def test_the_bench_flag_comes_from_the_config(bench_config: Path) -> None:
    bench_config.write_text(
        bench_config.read_text().replace(
            "[control]\n", "[control]\nallow_ctl_with_real_relays = true\n"
        )
    )
    hardware = build_hardware(load_config(bench_config), lambda _e: None)
    try:
        assert hardware.ctl_on_real_relays is True
    finally:
        hardware.close()
