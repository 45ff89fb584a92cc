"""The simulated EV + EVSE, and the EvsePoller's events, without any I/O."""

from __future__ import annotations

import pytest

from hw.errors import EvseError
from hw.events import (
    DeviceFaulted,
    DeviceRecovered,
    EvseFault,
    PilotChanged,
    PilotState,
)
from hw.evse.base import checked_current, primary_fault
from hw.evse.poller import EvsePoller
from hw.evse.sim import SimEvse, SimVehicle
from hw.interfaces import EvseController, FaultInjectable


def test_the_sim_is_an_evse_controller_and_fault_injectable():
    evse = SimEvse()
    assert isinstance(evse, EvseController)
    assert isinstance(evse, FaultInjectable)


def test_a_16_a_connector_never_lets_a_32_a_car_draw_more_than_offered():
    car = SimVehicle(max_draw_a=32.0)
    evse = SimEvse(max_current_a=16.0, vehicle=car)
    car.plug(wants_charge=True)
    assert (car.pilot, car.draw_a) == (PilotState.B, 0)  # nothing offered yet
    evse.set_current_a(32)
    assert (car.pilot, car.draw_a) == (PilotState.C, 16)
    assert car.power_w(230.0) == pytest.approx(16 * 230)
    evse.set_current_a(10)
    assert car.draw_a == 10
    evse.set_current_a(0)
    assert (car.pilot, car.draw_a) == (PilotState.B, 0)


def test_a_car_that_never_asks_stays_in_b():
    evse = SimEvse()
    evse.plug(wants_charge=False)
    evse.set_current_a(16)
    assert evse.read_status().pilot is PilotState.B
    evse.request_charge(True)
    assert evse.read_status().pilot is PilotState.C


@pytest.mark.parametrize(
    ("amps", "expected"),
    [
        (0, 0.0),
        (6, 6.0),
        (16.9, 16.0),
        (40, 16.0),
    ],
)
def test_checked_current_rounds_down_and_caps(amps, expected):
    assert checked_current(amps, 16.0) == expected


def test_the_most_serious_fault_is_reported():
    assert primary_fault({EvseFault.VENTILATION, EvseFault.RESIDUAL_CURRENT}) is (
        EvseFault.RESIDUAL_CURRENT
    )
    assert primary_fault(set()) is None


def test_poller_posts_pilot_changes_faults_and_recovery(events):
    evse = SimEvse()
    poller = EvsePoller(evse, post=events.post, source="connector1")
    poller.poll_once()
    evse.plug()
    poller.poll_once()
    evse.set_current_a(16)
    poller.poll_once()
    evse.inject_fault("StuckRelay")
    poller.poll_once()
    poller.poll_once()  # the same fault again: nothing new
    assert evse.offered_current_a == 0 and evse.vehicle.draw_a == 0
    evse.clear_fault()
    poller.poll_once()
    assert events.of(object) == [
        PilotChanged("connector1", "A", None),
        PilotChanged("connector1", "B", "A"),
        PilotChanged("connector1", "C", "B"),
        DeviceFaulted(
            "connector1",
            "PowerSwitchFailure",
            "controller reports StuckRelay",
            vendor_code="StuckRelay",
        ),
        PilotChanged("connector1", "B", "C"),
        DeviceRecovered("connector1"),
    ]


def test_a_shorted_pilot_is_an_ev_communication_error(events):
    evse = SimEvse()
    poller = EvsePoller(evse, post=events.post, source="c1")
    evse.vehicle.short_pilot()
    poller.poll_once()
    assert events.of(DeviceFaulted)[0].code == "EVCommunicationError"
    assert events.of(PilotChanged) == [PilotChanged("c1", "E", None)]


def test_an_unreadable_controller_is_reported_once_as_offline(events):
    evse = SimEvse()
    evse.close()
    poller = EvsePoller(evse, post=events.post, source="c1")
    poller.poll_once()
    poller.poll_once()
    faults = events.of(DeviceFaulted)
    assert [(f.code, f.vendor_code) for f in faults] == [("InternalError", "ControllerOffline")]
    with pytest.raises(EvseError):
        evse.set_current_a(6)


def test_poller_thread_reads_and_stops(events):
    evse = SimEvse()
    poller = EvsePoller(evse, post=events.post, source="c1", interval_s=0.01)
    poller.start()
    evse.plug()
    poller.poke()
    assert events.wait_for(lambda seen: PilotChanged("c1", "B", "A") in seen)
    assert poller.stop(timeout=5.0)


def test_an_unknown_fault_name_is_refused():
    with pytest.raises(ValueError):
        SimEvse().inject_fault("Gremlins")
