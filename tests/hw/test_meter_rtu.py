"""Hardware in the loop: the real SdmMeter driver against pymodbus's RTU server on a pty pair."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hw.errors import MeterError
from hw.events import DeviceFaulted, DeviceRecovered, MeterReadFailed, MeterSampled
from hw.meters.poller import MeterPoller
from hw.meters.rtu_sim import RtuMeterSimulator
from hw.meters.sdm import SdmMeter


@pytest.fixture(params=["SDM630", "SDM120"])
def sim(request) -> Iterator[RtuMeterSimulator]:
    with RtuMeterSimulator(request.param) as simulator:
        yield simulator


@pytest.fixture
def meter(sim) -> Iterator[SdmMeter]:
    driver = SdmMeter(sim.regmap.model, sim.port, timeout=0.5, retries=1)
    yield driver
    driver.close()


def test_one_sample_is_one_request_with_every_value(sim, meter):
    sim.set(voltage_v=231.0, current_a=16.0, power_w=11040.0, energy_wh=12345.0)
    before = sim.requests
    sample = meter.read()
    assert sim.requests - before == meter.requests_per_sample == 1
    phases = sim.regmap.phases
    assert sample.voltage_v == pytest.approx((231.0, 231.5, 232.0)[:phases])
    assert sample.current_a == pytest.approx((16.0, 16.5, 17.0)[:phases])
    assert sample.power_w == pytest.approx(11040.0)
    assert sample.energy_wh == pytest.approx(12345.0, abs=1.0)  # float32 kWh resolution
    assert sample.frequency_hz == pytest.approx(50.0)


def test_smaller_requests_give_the_same_sample(sim):
    sim.set(voltage_v=229.0, current_a=8.0, power_w=5000.0, energy_wh=42000.0)
    meter = SdmMeter(sim.regmap.model, sim.port, timeout=0.5, retries=1, max_registers=20)
    try:
        before = sim.requests
        sample = meter.read()
        assert sim.requests - before == meter.requests_per_sample > 1
        assert (sample.power_w, sample.energy_wh) == (5000.0, 42000.0)
    finally:
        meter.close()


def test_the_register_is_reported_as_read_never_clamped(sim, meter):
    """A high corrupt reading must not become the floor for later ones (the chargepoint's
    plausibility check drops it); a lower one is counted."""
    reported = []
    for energy in (5000.0, 905000.0, 5010.0, 4000.0):
        sim.set(energy_wh=energy)
        reported.append(meter.read().energy_wh)
    assert reported == pytest.approx([5000.0, 905000.0, 5010.0, 4000.0])
    assert meter.energy_regressions == 2


def test_a_corrupted_reply_is_retried_transparently(sim, meter):
    sim.set(energy_wh=777.0)
    sim.link.corrupt_replies(1)
    before = sim.requests
    assert meter.read().energy_wh == pytest.approx(777.0, abs=0.01)
    assert sim.requests - before == 2


def test_a_silent_meter_raises_meter_error_after_bounded_retries(sim, meter):
    sim.link.unplug()
    before = sim.requests
    with pytest.raises(MeterError, match="No response"):
        meter.read()
    assert sim.requests == before


def test_a_missing_port_raises_meter_error():
    meter = SdmMeter("SDM630", "/dev/does-not-exist", timeout=0.5, retries=0)
    with pytest.raises(MeterError, match="SDM630 unit 1: cannot open /dev/does-not-exist"):
        meter.read()
    meter.close()


def _faults(seen):
    return [e for e in seen if isinstance(e, DeviceFaulted)]


@pytest.mark.parametrize("outage", ["cable unplugged", "meter powered off"])
def test_poller_reports_fault_once_then_recovers(sim, meter, events, outage):
    sim.set(energy_wh=1000.0)
    poller = MeterPoller(meter, post=events.post, source="c1", interval_s=0.02)
    poller.start()
    try:
        assert events.wait_for(lambda seen: any(isinstance(e, MeterSampled) for e in seen))
        if outage == "cable unplugged":
            sim.link.unplug()
        else:
            sim.stop_server()
        assert events.wait_for(lambda seen: len(_faults(seen)) == 1)
        failed_reads = meter.failures
        assert events.wait_for(lambda _seen: meter.failures >= failed_reads + 1)
        if outage == "cable unplugged":
            sim.link.replug()
        else:
            sim.start()
        sim.set(energy_wh=1500.0)
        assert events.wait_for(
            lambda seen: isinstance(seen[-1], MeterSampled) and seen[-1].sample.energy_wh == 1500.0
        )
    finally:
        assert poller.stop(timeout=5.0)
    kinds = [type(e).__name__ for e in events.seen]
    first_fault = kinds.index("DeviceFaulted")
    assert kinds[first_fault + 1] == "DeviceRecovered"  # one fault, then the recovery
    assert kinds.count("DeviceFaulted") == kinds.count("DeviceRecovered") == 1
    fault = events.of(DeviceFaulted)[0]
    assert (fault.source, fault.code) == ("c1", "PowerMeterFailure")
    assert events.of(DeviceRecovered) == [DeviceRecovered("c1")]


def test_read_now_is_one_request_answered_by_a_tagged_sample(sim, meter, events):
    """A transaction start/stop asks for a reading at once (one Modbus request, on the poller's
    thread); the sample carries the request so the owner knows it was taken after it asked."""
    sim.set(energy_wh=1000.0)
    poller = MeterPoller(meter, post=events.post, source="c1", interval_s=3600.0)
    poller.start()
    try:
        assert events.wait_for(lambda seen: any(isinstance(e, MeterSampled) for e in seen))
        before = sim.requests
        sim.set(energy_wh=1002.5)
        poller.read_now(7)
        assert events.wait_for(
            lambda seen: any(isinstance(e, MeterSampled) and e.request == 7 for e in seen)
        )
        [answer] = [e for e in events.seen if isinstance(e, MeterSampled) and e.request == 7]
        assert answer.sample.energy_wh == pytest.approx(1002.5)
        assert sim.requests - before == meter.requests_per_sample == 1
        sim.link.unplug()
        poller.read_now(8)
        assert events.wait_for(
            lambda seen: any(isinstance(e, MeterReadFailed) and e.request == 8 for e in seen)
        )
    finally:
        assert poller.stop(timeout=5.0)
