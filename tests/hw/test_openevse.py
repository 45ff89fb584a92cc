"""Hardware in the loop: the real OpenEvse RAPI driver against an OpenEVSE twin on a pty."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hw.errors import EvseError
from hw.events import DeviceFaulted, EvseFault, EvseStatus, PilotChanged, PilotState
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
    status = _settled(evse)
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
    assert evse.offered_current_a == 0 and twin.vehicle.draw_a == 0
    # no `$FS` while the board holds the fault: Sleep() would replace the fault state
    assert twin.mode != EvseState.SLEEPING and "FS" not in twin.commands[-3:]


def test_a_fault_stays_reported_while_the_board_has_it(evse, twin):
    # J1772EvseController::Sleep() sets EVSE_STATE_SLEEPING whatever the state was, and
    # Update() returns early while sleeping: a `$FS` after a GFCI trip made the next `$GS`
    # show 0xFE and the fault vanished from the status while the board still had it.
    twin.vehicle.plug(wants_charge=True)
    evse.set_current_a(16)
    assert _settled(evse).pilot is PilotState.C
    twin.inject_fault(EvseState.GFCI_FAULT)
    for _ in range(3):
        assert evse.read_status().faults == {EvseFault.RESIDUAL_CURRENT}
    evse.set_current_a(0)  # what the charger does on a fault: still no `$FS`
    assert evse.read_status().faults == {EvseFault.RESIDUAL_CURRENT}
    assert twin.vehicle.draw_a == 0
    twin.clear_fault()  # the board leaves the fault awake: it is put to sleep at once
    status = evse.read_status()
    assert (status.faults, status.offered_current_a) == (set(), 0)
    assert twin.mode == EvseState.SLEEPING and twin.vehicle.draw_a == 0


def test_close_puts_a_faulted_board_to_sleep(twin):
    # The safety rule: 0 A on every exit path. Left awake in its fault, the board would
    # offer its current again as soon as the fault ends, with nobody there to stop it.
    driver = OpenEvse(twin.port, timeout_s=0.5)
    twin.vehicle.plug(wants_charge=True)
    driver.set_current_a(16)
    _settled(driver)
    twin.inject_fault(EvseState.NO_GROUND)
    assert driver.read_status().faults == {EvseFault.NO_GROUND}
    driver.close()
    assert twin.mode == EvseState.SLEEPING
    twin.clear_fault()
    assert twin.vehicle.draw_a == 0


def test_a_sleeping_board_shows_the_ev_through_its_connected_flag(evse, twin):
    # Asleep, Update() does not read the pilot state: `$GS` repeats the one from before the
    # sleep and only vflags' ECVF_EV_CONNECTED (0x0100) follows the EV.
    assert evse.read_status().pilot is PilotState.A
    twin.vehicle.plug(wants_charge=True)
    reply = evse.command("GS")
    assert reply.args[0] == "fe" and reply.args[2] == "01" and int(reply.args[3], 16) & 0x100
    assert evse.read_status().pilot is PilotState.B
    twin.vehicle.unplug()
    assert evse.read_status().pilot is PilotState.A


def test_a_board_just_woken_is_not_read_as_unplugged(evse, twin):
    # Enable() leaves the state 00 (UNKNOWN) with the pilot state from before the sleep until
    # Update() has seen the new state for DELAY_STATE_TRANSITION (250 ms). The EV was plugged
    # in while the board slept, so that old pilot state says A: read as such it would end
    # the transaction the moment charging starts.
    twin.vehicle.plug(wants_charge=True)
    assert evse.read_status().pilot is PilotState.B
    evse.set_current_a(16)  # `$SC 16 V`, `$FE`
    assert twin.evse_state() == EvseState.UNKNOWN
    assert evse.read_status().pilot is PilotState.B
    assert _settled(evse).pilot is PilotState.C and twin.vehicle.draw_a == 16


def test_a_board_disabled_elsewhere_is_put_to_sleep_to_see_the_ev(evse, twin):
    # Disabled, Update() returns before reading the pilot at all (not even EV connected).
    evse.read_status()
    with twin._lock:
        twin.mode = EvseState.DISABLED  # the front panel or another host: `$FD`
    twin.vehicle.plug(wants_charge=True)
    assert evse.read_status().pilot is PilotState.B
    assert twin.mode == EvseState.SLEEPING and twin.vehicle.draw_a == 0


def test_firmware_without_pilot_state_in_gs_is_named(evse, twin):
    # Before D6.0.0 (RAPI 5.0.0) `$GS` answered `state(decimal) elapsed` (CHANGELOG D6.0.0).
    twin.legacy_gs = True
    with pytest.raises(EvseError, match=r"firmware before D6\.0\.0"):
        evse.read_status()
    assert evse.offered_current_a == 0
    with pytest.raises(EvseError, match=r"firmware before D6\.0\.0"):
        evse.set_current_a(10)  # `$SC 10 V`, then `$GS` to see whether it must wake it


def test_a_missed_heartbeat_acknowledged_gets_the_asked_current_back(twin):
    # HsAckMissedPulse() restores the board's saved capacity (EEPROM 32 A here), not the
    # volatile `$SC 10 V`: the driver must write its current again after the `$SY 165`.
    driver = OpenEvse(twin.port, timeout_s=0.5, max_current_a=32.0, heartbeat_s=30)
    try:
        twin.vehicle.plug(wants_charge=True)
        driver.set_current_a(10)
        assert driver.read_status().offered_current_a == 10
        twin.miss_heartbeat()  # the Pi was silent for an interval: the board falls to 6 A
        assert twin.current_a == 6 and twin.vehicle.draw_a == 6
        status = driver.read_status()  # the pulse gets `$NK`: acknowledged
        assert "SY 165" in twin.commands and twin.heartbeat_trigger == 1
        assert (twin.current_a, twin.vehicle.draw_a, status.offered_current_a) == (10, 10, 10)
    finally:
        driver.close()


@pytest.mark.parametrize("seconds", [-1, 66])
def test_a_heartbeat_the_board_cannot_count_is_refused(seconds):
    # HsExpirationCheck: `m_HsInterval * 1000` in the ATmega328P's 16-bit int: 66 s -> 464 ms
    with pytest.raises(ValueError, match="0-65"):
        OpenEvse("/dev/null", heartbeat_s=seconds)


def test_volatile_current_is_capped_by_the_saved_capacity():
    # SetCurrentCapacity(nosave): "temporary amps can't be > max set in EEPROM"; $GC's 4th
    # field is that capacity. The driver reports what the board offers.
    with OpenEvseTwin(max_hw_a=32, eeprom_current_a=16) as board:
        assert _ask(board, "SC", 20, "V").args == ("16",)
        assert _ask(board, "SC", 20, "V").kind == "NK"
        assert _ask(board, "GC").args == ("6", "32", "16", "16")
        driver = OpenEvse(board.port, timeout_s=0.5, max_current_a=32.0)
        try:
            board.vehicle.plug(wants_charge=True)
            driver.set_current_a(20)
            assert driver.read_status().offered_current_a == 16 == board.vehicle.draw_a
        finally:
            driver.close()


def _settled(evse: OpenEvse, timeout_s: float = 3.0) -> EvseStatus:
    """The first status after a woken board has taken its state (open_evse.h
    DELAY_STATE_TRANSITION), read with a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = evse.read_status()
        if evse.firmware_state != EvseState.UNKNOWN or time.monotonic() > deadline:
            return status


def _ask(twin: OpenEvseTwin, command: str, *params: object) -> rapi.Frame:
    """One raw RAPI exchange with the twin, as a test bench's terminal would do it."""
    import serial

    with serial.Serial(twin.port, 115200, timeout=0.05) as port:
        port.write(rapi.encode(command, *params, seq=0x42))
        buffer = b""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            buffer += port.read(64)
            for line in buffer.split(b"\r"):
                if line.startswith(b"$OK") or line.startswith(b"$NK"):
                    frame = rapi.parse(line.decode("ascii"))
                    if frame.seq == 0x42:
                        return frame
    raise AssertionError(f"no reply to ${command}")


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
