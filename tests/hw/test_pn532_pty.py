"""Hardware in the loop: the real Pn532Reader against the PN532 twin on a pseudo-terminal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hw.events import CardPresented, DeviceFaulted, DeviceRecovered
from hw.rfid.pn532 import Pn532Reader
from hw.rfid.pn532_twin import Pn532Twin
from tests.support.net import wait_until

SAM_CONFIGURATION, GET_FIRMWARE_VERSION, RF_CONFIGURATION, IN_LIST_PASSIVE_TARGET = (
    0x14,
    0x02,
    0x32,
    0x4A,
)


@pytest.fixture
def twin(tmp_path) -> Iterator[Pn532Twin]:
    device = Pn532Twin(tmp_path / "ttyNFC").start()
    yield device
    device.close()


def _reader(twin: Pn532Twin, events, clock) -> Pn532Reader:
    return Pn532Reader(
        twin.port,
        post=events.post,
        source="rfid",
        poll_interval_s=0.02,
        gap_s=1.0,
        ack_timeout_s=0.3,
        answer_timeout_s=0.6,
        backoff_s=0.02,
        backoff_max_s=0.1,
        clock=clock,
    )


@pytest.fixture
def reader(twin, events, clock) -> Iterator[Pn532Reader]:
    pn532 = _reader(twin, events, clock)
    pn532.start()
    assert pn532.ready.wait(5), "the reader never finished its start-up"
    yield pn532
    pn532.stop(timeout=5)


def _cards(seen) -> list[str]:
    return [e.id_tag for e in seen if isinstance(e, CardPresented)]


def _tags(events) -> list[str]:
    """Every card reported so far (drains the queue first)."""
    return [e.id_tag for e in events.of(CardPresented)]


def _polls(twin: Pn532Twin, more: int) -> None:
    """Wait until the reader has polled the twin `more` more times."""
    target = twin.polls_answered + more
    wait_until(lambda: twin.polls_answered >= target, 5, f"{more} more polls")


def test_start_up_wakes_the_reader_and_sets_it_up(twin, reader, events):
    assert twin.awake  # the 0x55 wake-up came before anything was answered
    assert twin.sam_mode == 0x01  # SAMConfiguration normal mode
    assert reader.firmware is not None and reader.firmware.ic == 0x32
    assert twin.max_retries_passive == 0x01  # InListPassiveTarget answers "no card" at once
    for command in (SAM_CONFIGURATION, GET_FIRMWARE_VERSION, RF_CONFIGURATION):
        assert twin.commands[command] == 1
    _polls(twin, 3)
    assert _tags(events) == [] and events.of(DeviceFaulted) == []


def test_a_card_held_in_the_field_for_seconds_is_reported_once(twin, reader, events, clock):
    twin.place("922E5832")
    assert events.wait_for(lambda s: _cards(s) == ["922E5832"])
    for _ in range(8):  # 4 s held, polled all along
        _polls(twin, 2)
        clock.advance(0.5)
    _polls(twin, 2)
    assert _tags(events) == ["922E5832"]


def test_two_cards_one_after_another_and_the_first_again(twin, reader, events, clock):
    twin.place("04A1B2C3D4E5F6")  # 7-byte UID: 14 hex characters
    assert events.wait_for(lambda s: _cards(s) == ["04A1B2C3D4E5F6"])
    twin.remove()
    twin.place("0102030405060708090A")  # 10-byte UID: 20 characters, OCPP's CiString20 limit
    assert events.wait_for(lambda s: len(_cards(s)) == 2)
    twin.remove()
    _polls(twin, 2)
    clock.advance(2.0)  # both away for longer than gap_s
    _polls(twin, 2)
    twin.place("04A1B2C3D4E5F6")
    assert events.wait_for(lambda s: len(_cards(s)) == 3)
    _polls(twin, 2)
    assert _tags(events) == ["04A1B2C3D4E5F6", "0102030405060708090A", "04A1B2C3D4E5F6"]


def test_an_iso14443_4_card_with_ats(twin, reader, events):
    twin.place("04112233445566", sens_res=0x0344, sel_res=0x20, ats=bytes.fromhex("0675778102 80"))
    assert events.wait_for(lambda s: _cards(s) == ["04112233445566"])


@pytest.mark.parametrize("field", ["dcs", "lcs"])
def test_bad_checksums_are_dropped_and_the_answer_asked_for_again(twin, reader, events, field):
    twin.place("922E5832")
    twin.corrupt_answers(3, field=field)
    wait_until(lambda: twin.nacks >= 3, 5, "three NACKs")  # UM0701-02 §6.2.1.4
    _polls(twin, 2)
    assert reader.parser.frames_bad >= 3
    assert _tags(events) == ["922E5832"]  # the answers sent again are not new cards
    assert events.of(DeviceFaulted) == []


def test_garbage_on_the_line_is_dropped_and_reading_goes_on(twin, reader, events):
    for _ in range(5):
        twin.inject(b"\x00\xff\x05\x00junk\xff\x00\x00\xff\x03\xfd\xd5\x4b\x00\x00" + bytes(20))
        _polls(twin, 1)
    twin.place("922E5832")
    assert events.wait_for(lambda s: _cards(s) == ["922E5832"])
    assert reader.parser.bytes_dropped >= 5 * 4 and reader.parser.frames_bad >= 5
    assert events.of(DeviceFaulted) == []


def test_reader_unplugged_faults_once_then_comes_back(twin, reader, events):
    twin.unplug()
    assert events.wait_for(lambda s: any(isinstance(e, DeviceFaulted) for e in s))
    fault = events.of(DeviceFaulted)[0]
    assert (fault.source, fault.code) == ("rfid", "ReaderFailure")
    assert not reader.ready.is_set()
    twin.plug_in()  # a chip just powered up: asleep, default settings
    assert events.wait_for(lambda s: any(isinstance(e, DeviceRecovered) for e in s))
    assert reader.ready.wait(5)
    assert twin.awake and twin.sam_mode == 0x01 and twin.max_retries_passive == 0x01
    twin.place("922E5832")
    assert events.wait_for(lambda s: _cards(s) == ["922E5832"])
    assert len(events.of(DeviceFaulted)) == 1  # the retries while absent did not repeat it


def test_reader_silent_on_a_live_port_faults_then_recovers(twin, reader, events):
    twin.muted = True  # reader unpowered, UART wires still in (a Pi's /dev/serial0)
    assert events.wait_for(lambda s: any(isinstance(e, DeviceFaulted) for e in s))
    assert "polls failed" in events.of(DeviceFaulted)[0].detail
    twin.muted = False
    assert events.wait_for(lambda s: any(isinstance(e, DeviceRecovered) for e in s))
    twin.place("922E5832")
    assert events.wait_for(lambda s: _cards(s) == ["922E5832"])


def test_a_poll_left_waiting_is_aborted_and_the_reader_set_up_again(twin, reader, events):
    twin.max_retries_passive = 0xFF  # as after a reset: InListPassiveTarget waits for a card
    assert events.wait_for(lambda s: any(isinstance(e, DeviceFaulted) for e in s))
    assert twin.aborts >= 1  # UM0701-02 §6.2.1.3: the host's ACK ended the waiting command
    assert events.wait_for(lambda s: any(isinstance(e, DeviceRecovered) for e in s))
    assert twin.max_retries_passive == 0x01 and twin.commands[RF_CONFIGURATION] == 2
    twin.place("922E5832")
    assert events.wait_for(lambda s: _cards(s) == ["922E5832"])


def test_error_frames_fail_polls_until_the_reader_is_reported(twin, reader, events):
    twin.refused.add(IN_LIST_PASSIVE_TARGET)
    assert events.wait_for(lambda s: any(isinstance(e, DeviceFaulted) for e in s))
    assert "error frame in answer to command 0x4A" in events.of(DeviceFaulted)[0].detail
    twin.refused.clear()
    assert events.wait_for(lambda s: any(isinstance(e, DeviceRecovered) for e in s))
    twin.place("922E5832")
    assert events.wait_for(lambda s: _cards(s) == ["922E5832"])


def test_a_device_that_is_not_a_pn532_is_a_reader_failure(tmp_path, events, clock):
    other = Pn532Twin(tmp_path / "ttyPN533", firmware=bytes([0x33, 0x02, 0x01, 0x07])).start()
    try:
        pn532 = _reader(other, events, clock)
        pn532.start()
        assert events.wait_for(lambda s: len(s) >= 1)
        pn532.stop(timeout=5)
        (fault,) = events.of(DeviceFaulted)
        assert "not a PN532" in fault.detail and not pn532.ready.is_set()
    finally:
        other.close()


def test_missing_port_at_start_faults_and_stop_ends_the_thread(tmp_path, events):
    pn532 = Pn532Reader(str(tmp_path / "nothing"), post=events.post, backoff_s=0.01)
    pn532.start()
    assert events.wait_for(lambda s: len(s) >= 1)
    pn532.stop(timeout=5)
    assert [type(e) for e in events.seen] == [DeviceFaulted]


def test_stop_while_polling_posts_nothing(twin, reader, events):
    _polls(twin, 2)
    reader.stop(timeout=5)
    assert events.of(DeviceFaulted) == [] and events.of(DeviceRecovered) == []
