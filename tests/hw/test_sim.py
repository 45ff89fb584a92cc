"""Simulated twins: SimMeter, SimRelay, SimCurrentLimiter, SimCardReader, plug via a mock pin."""

from __future__ import annotations

import pytest

from hw.errors import MeterError, RelayError
from hw.events import (
    CardPresented,
    DeviceFaulted,
    DeviceRecovered,
    MeterSampled,
    PlugChanged,
)
from hw.interfaces import (
    CardReader,
    CurrentLimiter,
    EnergyMeter,
    FaultInjectable,
    PlugInput,
    RelayOutput,
)
from hw.meters.poller import MeterPoller
from hw.meters.sim import SimMeter
from hw.pins import drive_mock_pin
from hw.plug import GpioPlug
from hw.relay import GpioRelay
from hw.rfid.sim import SimCardReader
from hw.sim import SimCurrentLimiter, SimRelay


def test_sim_twins_satisfy_the_interfaces(events, factory):
    relay = SimRelay(post=events.post)
    reader = SimCardReader(post=events.post)
    meter = SimMeter(relay)
    plug = GpioPlug(5, post=events.post, pin_factory=factory)
    assert isinstance(relay, RelayOutput) and isinstance(relay, FaultInjectable)
    assert isinstance(GpioRelay(6, pin_factory=factory), RelayOutput)
    assert isinstance(meter, EnergyMeter) and isinstance(meter, FaultInjectable)
    assert isinstance(reader, CardReader) and isinstance(reader, FaultInjectable)
    assert isinstance(SimCurrentLimiter(), CurrentLimiter)
    assert isinstance(plug, PlugInput)


def test_sim_meter_integrates_only_while_the_relay_is_energised(events, clock):
    relay = SimRelay(post=events.post)
    meter = SimMeter(relay, load_w=7200.0, clock=clock)
    clock.advance(3600)
    assert meter.read().energy_wh == 0.0
    relay.energise()
    clock.advance(1800)
    sample = meter.read()
    assert (sample.energy_wh, sample.power_w) == (3600.0, 7200.0)
    assert sample.current_a == (pytest.approx(7200.0 / 230.0),)
    relay.de_energise()
    clock.advance(3600)
    assert meter.read().energy_wh == 3600.0


def test_sim_meter_load_change_and_current_limit(clock):
    limiter = SimCurrentLimiter()
    meter = SimMeter(None, load_w=11000.0, phases=3, clock=clock, limiter=limiter)
    clock.advance(360)
    assert meter.read().energy_wh == pytest.approx(1100.0)
    limiter.set_limit_a(10.0)
    assert meter.read().power_w == pytest.approx(3 * 230.0 * 10.0)
    limiter.set_limit_a(None)
    meter.set_load_w(1000.0)
    clock.advance(3600)
    sample = meter.read()
    assert (sample.power_w, sample.energy_wh) == (1000.0, pytest.approx(2100.0))
    assert len(sample.voltage_v) == 3
    assert limiter.history == [10.0, None]
    with pytest.raises(ValueError):
        limiter.set_limit_a(-1)


@pytest.mark.parametrize(
    ("phases", "limit_a", "power_w"),
    [
        (1, None, 16.0 * 230.0),  # the connector's rating caps the EV's 7400 W
        (1, 10.0, 10.0 * 230.0),  # a smart-charging limit below the rating
        (1, 20.0, 16.0 * 230.0),  # a limit above the rating: the rating still holds
        (3, None, 7400.0),  # 3 x 16 A = 11040 W: all of the 7400 W
    ],
)
def test_sim_meter_never_draws_more_than_the_connector_allows(clock, phases, limit_a, power_w):
    limiter = SimCurrentLimiter()
    limiter.set_limit_a(limit_a)
    meter = SimMeter(
        None, load_w=7400.0, phases=phases, limiter=limiter, max_current_a=16.0, clock=clock
    )
    clock.advance(3600)
    sample = meter.read()
    assert sample.power_w == pytest.approx(power_w)
    assert sample.energy_wh == pytest.approx(power_w)


@pytest.mark.parametrize("amps", [0.0, -16.0])
def test_sim_meter_refuses_a_rating_of_no_current(amps):
    with pytest.raises(ValueError, match="max_current_a"):
        SimMeter(None, max_current_a=amps)


@pytest.mark.parametrize("code", ["PowerMeterFailure", "OtherError"])
def test_sim_meter_fault_injection_through_the_poller(events, clock, code):
    meter = SimMeter(None, load_w=1000.0, clock=clock)
    poller = MeterPoller(meter, post=events.post, source="c1", interval_s=1.0)
    poller.poll_once()
    meter.inject_fault(code)
    with pytest.raises(MeterError):
        meter.read()
    poller.poll_once()
    poller.poll_once()
    meter.clear_fault()
    poller.poll_once()
    kinds = [type(e) for e in events.of(object)]
    assert kinds == [MeterSampled, DeviceFaulted, DeviceRecovered, MeterSampled]
    assert events.of(DeviceFaulted)[0].code == code


def test_energy_keeps_counting_during_a_fault(clock):
    meter = SimMeter(None, load_w=3600.0, clock=clock)
    meter.inject_fault("PowerMeterFailure")
    clock.advance(3600)
    with pytest.raises(MeterError):
        meter.read()
    meter.clear_fault()
    assert meter.read().energy_wh == pytest.approx(3600.0)


def test_sim_relay_switches_and_injected_fault_freezes_it(events):
    relay = SimRelay(post=events.post, source="c1")
    relay.energise()
    relay.energise()
    assert relay.energised and relay.switches == 1
    relay.inject_fault("PowerSwitchFailure")
    relay.inject_fault("PowerSwitchFailure")
    relay.de_energise()
    assert relay.energised  # stuck
    relay.clear_fault()
    relay.de_energise()
    assert not relay.energised
    assert events.of(object) == [
        DeviceFaulted("c1", "PowerSwitchFailure", "injected fault"),
        DeviceRecovered("c1"),
    ]
    relay.close()
    with pytest.raises(RelayError):
        relay.energise()


def test_sim_card_reader_taps_and_faults(events):
    reader = SimCardReader(post=events.post, source="rfid")
    assert reader.tap("abc") is False  # not started
    reader.start()
    assert reader.tap("a1b2c3d4e5") is True
    reader.inject_fault("ReaderFailure")
    assert reader.tap("FFFFFFFFFF") is False
    reader.clear_fault()
    assert reader.tap("0102030405") is True
    reader.stop()
    assert events.of(object) == [
        CardPresented("rfid", "A1B2C3D4E5"),
        DeviceFaulted("rfid", "ReaderFailure", "injected fault"),
        DeviceRecovered("rfid"),
        CardPresented("rfid", "0102030405"),
    ]


def test_bench_plug_is_the_real_plug_driver_on_a_driven_mock_pin(events, factory):
    plug = GpioPlug(23, post=events.post, source="c2", pin_factory=factory, bounce_time=None)
    drive_mock_pin(factory, 23, True)
    assert plug.plugged
    drive_mock_pin(factory, 23, False)
    assert events.of(PlugChanged) == [PlugChanged("c2", True), PlugChanged("c2", False)]
    plug.close()
