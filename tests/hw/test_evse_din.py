"""Hardware in the loop: the real EvseDin and SdmMeter drivers on one simulated RS-485 bus."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from hw.errors import ConfigurationError, EvseError
from hw.events import DeviceFaulted, DeviceRecovered, EvseFault, PilotChanged, PilotState
from hw.evse.evse_din import EvseDin
from hw.evse.evse_din_sim import EvseDinTwin
from hw.evse.poller import EvsePoller
from hw.meters.poller import MeterPoller
from hw.meters.rtu_sim import SdmTwin
from hw.meters.sdm import SdmMeter
from hw.modbus_bus import BusRegistry, BusSettings
from hw.rtu_twin import RtuBusSimulator

RCD_CHECK_ERROR = 1 << 5


@pytest.fixture
def twin() -> EvseDinTwin:
    return EvseDinTwin(unit=2)


@pytest.fixture
def meter_twin() -> SdmTwin:
    return SdmTwin("SDM630", unit=1)


@pytest.fixture
def line(twin, meter_twin) -> Iterator[RtuBusSimulator]:
    with RtuBusSimulator([meter_twin, twin]) as simulator:
        yield simulator


@pytest.fixture
def registry() -> Iterator[BusRegistry]:
    buses = BusRegistry(timeout_s=0.3, retries=1)
    yield buses
    buses.close()


@pytest.fixture
def evse(line, registry) -> Iterator[EvseDin]:
    driver = EvseDin(line.port, unit=2, max_current_a=16.0, bus=registry.bus(line.port), gap_s=0.0)
    yield driver
    driver.close()


def test_the_board_offers_nothing_from_the_moment_the_driver_opens(line, registry, twin):
    assert twin.configured_a == 32  # the board booted with register 2000's factory 32 A
    driver = EvseDin(line.port, unit=2, bus=registry.bus(line.port), gap_s=0.0)
    assert twin.configured_a == 0
    assert driver.offered_current_a == 0
    driver.close()


def test_the_ev_draws_the_offered_current_and_never_more(evse, twin):
    twin.vehicle.plug(wants_charge=True)
    assert evse.read_status().pilot is PilotState.B  # nothing offered: the EV waits in B
    evse.set_current_a(10)
    status = evse.read_status()
    assert twin.configured_a == 10
    assert (status.pilot, status.offered_current_a, status.faults) == (PilotState.C, 10, set())
    assert twin.vehicle.draw_a == 10  # its charger could take 32 A
    evse.set_current_a(40)  # above the connector's 16 A: capped, never more
    assert twin.configured_a == 16
    assert twin.vehicle.draw_a == 16


@pytest.mark.parametrize("amps", [3.0, -1.0, float("nan")])
def test_a_current_the_pilot_cannot_offer_is_refused(evse, twin, amps):
    evse.set_current_a(10)
    with pytest.raises(ValueError):
        evse.set_current_a(amps)
    assert twin.configured_a == 10


def test_a_board_that_rebooted_is_set_back_to_what_was_asked(evse, twin):
    evse.set_current_a(0)
    twin.reboot()  # power blip: the board now offers register 2000's 32 A
    assert twin.configured_a == 32
    evse.read_status()
    assert twin.configured_a == 0
    assert evse.rewrites == 1


def test_a_residual_current_trip_latches_zero_amps_and_posts_ground_failure(evse, twin, events):
    poller = EvsePoller(evse, post=events.post, source="connector1")
    twin.vehicle.plug(wants_charge=True)
    evse.set_current_a(16)
    poller.poll_once()
    assert events.of(PilotChanged) == [PilotChanged("connector1", "C", None)]
    twin.inject_fault(RCD_CHECK_ERROR)
    poller.poll_once()
    assert twin.configured_a == 0 and evse.offered_current_a == 0
    assert events.of(DeviceFaulted) == [
        DeviceFaulted(
            "connector1",
            "GroundFailure",
            "controller reports ResidualCurrent",
            vendor_code="ResidualCurrent",
        )
    ]
    twin.clear_fault()
    poller.poll_once()
    poller.poll_once()
    assert events.of(DeviceRecovered) == [DeviceRecovered("connector1")]
    assert len(events.of(DeviceFaulted)) == 1
    assert twin.configured_a == 0  # still latched until the owner offers a current again
    assert twin.vehicle.pilot is PilotState.B


@pytest.mark.parametrize(
    ("bits", "fault"),
    [
        (1 << 1, EvseFault.DIODE_CHECK),
        (1 << 4, EvseFault.RESIDUAL_CURRENT),  # older firmware's RCD bit, with state 5
        (1 << 3, EvseFault.CONTROLLER_FAILURE),  # state 5, no known cause
    ],
)
def test_failure_bits_name_the_fault(evse, twin, bits, fault):
    twin.inject_fault(bits)
    status = evse.read_status()
    assert (status.pilot, status.faults) == (PilotState.F, {fault})


def test_older_firmware_without_register_1007_is_read_and_driven(registry):
    # A SimpleEVSE at firmware 10 does not answer a read that includes 1007 (esphome-evse-
    # wallbox issue #12); SimpleEVSE-WiFi reads 1000-1006. A 1000-1007 block read would
    # leave such a board "offline" for good.
    twin = EvseDinTwin(unit=2, firmware=10, status_register=False)
    with RtuBusSimulator([twin]) as line:
        driver = EvseDin(line.port, unit=2, bus=registry.bus(line.port), gap_s=0.0)
        try:
            twin.vehicle.plug(wants_charge=True)
            assert driver.read_status().pilot is PilotState.B
            driver.set_current_a(10)
            status = driver.read_status()
            assert (status.pilot, status.offered_current_a) == (PilotState.C, 10)
            assert twin.vehicle.draw_a == 10
            twin.inject_fault(1 << 1)  # a failure (state 5): its cause cannot be read
            assert driver.read_status().faults == {EvseFault.CONTROLLER_FAILURE}
            assert twin.configured_a == 0
        finally:
            driver.close()


def test_below_the_boards_own_minimum_nothing_is_offered(meter_twin, registry):
    twin = EvseDinTwin(unit=2, min_current_a=8)
    with RtuBusSimulator([twin]) as line:
        driver = EvseDin(line.port, unit=2, bus=registry.bus(line.port), gap_s=0.0)
        assert driver.min_current_a == 8
        driver.set_current_a(7)  # the board would refuse 7 A: never more than asked
        assert (twin.configured_a, driver.offered_current_a) == (0, 0)
        driver.set_current_a(8)
        assert twin.configured_a == 8
        driver.close()


def test_close_offers_zero_amps(line, registry, twin):
    driver = EvseDin(line.port, unit=2, bus=registry.bus(line.port), gap_s=0.0)
    driver.set_current_a(12)
    driver.close()
    assert twin.configured_a == 0
    with pytest.raises(EvseError, match="closed"):
        driver.set_current_a(6)


def test_hundredths_of_an_amp_when_the_board_is_set_for_them(meter_twin, registry):
    twin = EvseDinTwin(unit=2, firmware=18, hundredths=True)
    with RtuBusSimulator([twin]) as line:
        driver = EvseDin(line.port, unit=2, bus=registry.bus(line.port), gap_s=0.0)
        driver.set_current_a(10.567)
        assert twin.writes[-1] == 1056  # rounded down: never more than asked
        assert driver.read_status().offered_current_a == pytest.approx(10.56)
        driver.close()


def test_meter_and_evse_share_one_client_on_one_port(line, registry, evse, meter_twin):
    meter = SdmMeter("SDM630", line.port, unit=1, bus=registry.bus(line.port))
    meter_twin.set(energy_wh=4200.0)
    assert registry.bus(line.port) is registry.bus(line.port)
    assert len(registry.buses) == 1
    assert meter.read().energy_wh == pytest.approx(4200.0, abs=1)
    assert evse.read_status().pilot is PilotState.A
    meter.close()


def test_a_symlink_to_the_port_is_the_same_bus(line, registry, tmp_path):
    link = tmp_path / "usb-FTDI_RS485-if00-port0"
    link.symlink_to(line.port)
    assert registry.bus(str(link)) is registry.bus(line.port)


def test_meter_and_evse_pollers_share_the_bus_from_their_threads(line, registry, evse, events):
    meter = SdmMeter("SDM630", line.port, unit=1, bus=registry.bus(line.port))
    meter_poller = MeterPoller(meter, post=events.post, source="m", interval_s=0.0)
    evse_poller = EvsePoller(evse, post=events.post, source="e", interval_s=0.0)
    meter_poller.start()
    evse_poller.start()
    try:
        assert events.wait_for(
            lambda _seen: meter_poller.samples >= 20 and evse_poller.reads >= 20, timeout=30.0
        )
    finally:
        assert meter_poller.stop() and evse_poller.stop()
    assert events.of(DeviceFaulted) == []
    assert registry.bus(line.port).stats.failures == 0
    meter.close()


def test_one_port_with_two_line_settings_is_refused(registry):
    registry.bus("/dev/ttyUSB0", settings=BusSettings(9600))
    with pytest.raises(ConfigurationError, match="same line settings"):
        registry.bus("/dev/ttyUSB0", settings=BusSettings(19200))


def test_a_dead_unit_does_not_stall_the_live_ones(line, registry, meter_twin):
    """A board that never answers shares the bus with a live meter: the meter's reads keep
    succeeding, and the dead unit costs the wire at most one timeout per backoff window."""
    bus = registry.bus(line.port)
    meter = SdmMeter("SDM630", line.port, unit=1, bus=bus)
    dead = EvseDin(line.port, unit=9, bus=bus, gap_s=0.0)  # nobody answers unit 9
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            with contextlib.suppress(EvseError):
                dead.read_status()

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        began = time.monotonic()
        worst = 0.0
        for energy in range(1000, 1020):
            meter_twin.set(energy_wh=float(energy))
            t = time.monotonic()
            assert meter.read().energy_wh == pytest.approx(energy, abs=1)
            worst = max(worst, time.monotonic() - t)
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        thread.join(5)
    dead_unit = bus.stats.units[9]
    windows = elapsed / bus.dead_unit_backoff_s + 1
    # One full try (timeout x (retries + 1)) at first, then at most one timeout per backoff
    # window (the window doubles while the unit stays dead).
    assert dead_unit.requests <= (bus.retries + 1) + windows
    assert dead_unit.skipped > 0
    # Bounded, not a timing target: one dead-unit turn plus generous scheduling slack.
    assert worst < bus.timeout_s * (bus.retries + 1) + 1.0
    dead.close()
    meter.close()


def test_requests_to_a_slow_board_keep_its_quiet_gap(line, twin):
    slept: list[float] = []
    buses = BusRegistry(timeout_s=0.3, retries=1, sleep=slept.append)
    bus = buses.bus(line.port)
    meter = SdmMeter("SDM630", line.port, unit=1, bus=bus)
    evse = EvseDin(line.port, unit=2, bus=bus, gap_s=0.2)
    slept.clear()
    meter.read()
    evse.read_status()
    assert slept and 0 < max(slept) <= 0.2  # the board got its 200 ms, the meter did not wait
    assert len(slept) == 1
    buses.close()
