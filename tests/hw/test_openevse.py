"""Hardware in the loop: the real OpenEvse RAPI driver against an OpenEVSE twin on a pty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hw.errors import EvseError
from hw.events import DeviceFaulted, EvseFault, PilotChanged, PilotState
from hw.evse import rapi
from hw.evse.openevse import OpenEvse
from hw.evse.openevse_sim import OpenEvseTwin
from hw.evse.poller import EvsePoller
from hw.evse.rapi import EvseState


@pytest.mark.parametrize(
    ("command", "params", "seq", "wire"),
    [
        # The examples of rapi_proc.h: "$GS^30", "$F0 1^43", "$ST 0 0 0 0^23", "$SK 0^2C".
        ("GS", (), None, b"$GS^30\r"),
        ("F0", (1,), None, b"$F0 1^43\r"),
        ("ST", (0, 0, 0, 0), None, b"$ST 0 0 0 0^23\r"),
        ("SK", (0,), None, b"$SK 0^2C\r"),
    ],
)
def test_frames_carry_the_documented_xor_checksum(command, params, seq, wire):
    assert rapi.encode(command, *params, seq=seq) == wire
    assert rapi.parse(wire.decode().rstrip("\r")).kind == command


def test_replies_with_a_sequence_id_and_bad_checksums():
    frame = rapi.parse("$OK 02 0 02 0100 :1A^" + f"{rapi.checksum('$OK 02 0 02 0100 :1A'):02X}")
    assert (frame.kind, frame.args, frame.seq) == ("OK", ("02", "0", "02", "0100"), 0x1A)
    with pytest.raises(ValueError, match="checksum mismatch"):
        rapi.parse("$OK^00")
    with pytest.raises(ValueError, match="checksum"):
        rapi.parse("$OK")


@pytest.fixture
def twin() -> Iterator[OpenEvseTwin]:
    with OpenEvseTwin() as board:
        yield board


@pytest.fixture
def evse(twin) -> Iterator[OpenEvse]:
    driver = OpenEvse(twin.port, max_current_a=16.0, timeout_s=0.5)
    yield driver
    driver.close()


def test_the_board_sleeps_from_the_moment_the_driver_opens(evse, twin):
    assert twin.mode == EvseState.SLEEPING
    assert twin.commands[0] == "FS"
    assert evse.read_status().offered_current_a == 0


def test_the_ev_charges_at_the_offered_current_and_changes_are_volatile(evse, twin):
    twin.vehicle.plug(wants_charge=True)
    assert evse.read_status().pilot is PilotState.B  # sleeping board, EV connected
    evse.set_current_a(10)
    status = evse.read_status()
    assert (status.pilot, status.offered_current_a, status.faults) == (PilotState.C, 10, set())
    assert twin.vehicle.draw_a == 10
    assert "SC 10 V" in twin.commands and twin.eeprom_current_a == 32  # EEPROM untouched
    evse.set_current_a(0)
    assert twin.mode == EvseState.SLEEPING and twin.vehicle.draw_a == 0
    assert evse.read_status().pilot is PilotState.B


def test_a_board_that_rebooted_is_put_back_to_sleep(evse, twin):
    twin.reboot()  # wakes up offering its EEPROM 32 A
    assert twin.mode == EvseState.UNKNOWN
    evse.read_status()
    assert twin.mode == EvseState.SLEEPING


@pytest.mark.parametrize(
    ("state", "fault", "code"),
    [
        (EvseState.GFCI_FAULT, EvseFault.RESIDUAL_CURRENT, "GroundFailure"),
        (EvseState.STUCK_RELAY, EvseFault.STUCK_RELAY, "PowerSwitchFailure"),
        (EvseState.NO_GROUND, EvseFault.NO_GROUND, "OtherError"),
        (EvseState.OVER_TEMPERATURE, EvseFault.OVER_TEMPERATURE, "HighTemperature"),
        (EvseState.DIODE_CHECK_FAILED, EvseFault.DIODE_CHECK, "EVCommunicationError"),
        (EvseState.D, EvseFault.VENTILATION, "OtherError"),
    ],
)
def test_fault_states_latch_zero_amps_and_post_their_code(evse, twin, events, state, fault, code):
    poller = EvsePoller(evse, post=events.post, source="c1")
    twin.vehicle.plug(wants_charge=True)
    evse.set_current_a(16)
    poller.poll_once()
    twin.inject_fault(state)
    poller.poll_once()
    assert events.of(DeviceFaulted)[0].code == code
    assert events.of(DeviceFaulted)[0].vendor_code == fault.value
    assert evse.offered_current_a == 0 and twin.mode == EvseState.SLEEPING


def test_state_notices_wake_the_poller(evse, twin, events):
    poller = EvsePoller(evse, post=events.post, source="c1", interval_s=3600.0)
    poller.start()
    try:
        assert events.wait_for(lambda seen: PilotChanged("c1", "A", None) in seen)
        twin.vehicle.plug(wants_charge=False)  # the board sends $AT by itself
        # Only the notice can make the poller read again within the hour-long interval.
        assert events.wait_for(lambda seen: PilotChanged("c1", "B", "A") in seen)
    finally:
        assert poller.stop()


def test_a_corrupted_reply_is_asked_again(evse, twin):
    twin.corrupt_replies = 1
    assert evse.read_status().pilot is PilotState.A
    assert evse.bad_frames == 1


def test_a_silent_board_raises_and_latches_zero(evse, twin):
    evse.set_current_a(12)
    twin.silent = True
    with pytest.raises(EvseError, match="no reply"):
        evse.read_status()
    assert evse.offered_current_a == 0
    twin.silent = False
    evse.read_status()
    assert twin.mode == EvseState.SLEEPING  # 0 A reached the board once it answered


def test_heartbeat_supervision_is_armed_and_pulsed(twin):
    driver = OpenEvse(twin.port, timeout_s=0.5, heartbeat_s=30)
    driver.read_status()
    driver.read_status()
    assert twin.heartbeat == (30, 0)
    assert twin.commands.count("SY") == 2
    driver.close()


def test_supervision_left_armed_on_the_board_is_switched_off_without_heartbeat(twin):
    # the interval lives in the board's EEPROM: armed by an earlier host, it would drop the
    # current to 6 A one interval after cpagent started and never pulsed it
    twin.heartbeat = (30, 0)
    driver = OpenEvse(twin.port, timeout_s=0.5)
    driver.read_status()
    driver.read_status()
    assert twin.heartbeat == (0, 0)
    assert twin.commands.count("SY 0 0") == 1  # once, then no pulses
    assert "SY" not in twin.commands
    driver.close()


def test_a_driver_told_to_leave_supervision_alone_writes_no_sy(twin):
    twin.heartbeat = (30, 0)
    driver = OpenEvse(twin.port, timeout_s=0.5, heartbeat_s=None)  # what `probe evse` does
    driver.read_status()
    assert twin.heartbeat == (30, 0) and not [c for c in twin.commands if c.startswith("SY")]
    driver.close()


def test_firmware_without_supervision_is_no_fault_without_heartbeat(twin):
    twin.heartbeat_supported = False  # built without HEARTBEAT_SUPERVISION: $SY is $NK
    driver = OpenEvse(twin.port, timeout_s=0.5)
    status = driver.read_status()
    assert not status.faults and "SY 0 0" in twin.commands
    driver.close()


def test_close_sleeps_the_board(twin):
    driver = OpenEvse(twin.port, timeout_s=0.5)
    driver.set_current_a(8)
    assert twin.mode == EvseState.UNKNOWN
    driver.close()
    assert twin.mode == EvseState.SLEEPING


def test_a_missing_port_is_an_evse_error():
    driver = OpenEvse("/dev/does-not-exist", timeout_s=0.2)
    with pytest.raises(EvseError, match="cannot open /dev/does-not-exist"):
        driver.read_status()
    driver.close()
