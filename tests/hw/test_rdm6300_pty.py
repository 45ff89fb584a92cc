"""Hardware in the loop: the real Rdm6300Reader reading frames written into a pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.events import CardPresented, DeviceFaulted, DeviceRecovered
from hw.rfid.frames import encode_frame as frame
from hw.rfid.rdm6300 import Rdm6300Reader


class FakeUart:
    """A pty whose slave is reached through a stable symlink, like /dev/serial/by-id/…"""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.slave = -1
        self.plug_in()

    def plug_in(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self.slave))

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def pull_out(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master = self.slave = -1
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()


@pytest.fixture
def uart(tmp_path) -> Iterator[FakeUart]:
    fake = FakeUart(tmp_path / "ttyRFID")
    yield fake
    fake.pull_out()


@pytest.fixture
def reader(uart, events, clock) -> Iterator[Rdm6300Reader]:
    rdm = Rdm6300Reader(
        str(uart.link),
        post=events.post,
        source="rfid",
        gap_s=1.0,
        backoff_s=0.02,
        backoff_max_s=0.1,
        clock=clock,
    )
    rdm.start()
    assert rdm.opened.wait(5)
    yield rdm
    rdm.stop(timeout=5)


def _cards(seen):
    return [e for e in seen if isinstance(e, CardPresented)]


def test_good_bad_truncated_noise_and_repeated_frames(uart, reader, events, clock):
    uart.write(b"\x00\xffnoise")
    uart.write(frame("0F002A3B4C", checksum=0x55))  # bad checksum
    uart.write(frame("1122334455")[:7])  # truncated
    uart.write(frame("a1b2c3d4e5") * 5)  # one card held in the field
    assert events.wait_for(lambda _s: reader.parser.frames_ok == 5)
    assert _cards(events.seen) == [CardPresented("rfid", "A1B2C3D4E5")]
    assert reader.parser.frames_bad == 2
    assert reader.parser.bytes_dropped >= 7


def test_same_card_again_after_it_was_taken_away(uart, reader, events, clock):
    uart.write(frame("A1B2C3D4E5"))
    assert events.wait_for(lambda s: len(_cards(s)) == 1)
    clock.advance(0.5)
    uart.write(frame("A1B2C3D4E5"))  # still held
    assert events.wait_for(lambda _s: reader.parser.frames_ok == 2)
    clock.advance(2.0)  # absent for longer than the gap, then presented again
    uart.write(frame("A1B2C3D4E5"))
    assert events.wait_for(lambda s: len(_cards(s)) == 2)
    assert reader.parser.frames_ok == 3


def test_port_vanishing_faults_then_reopens(uart, reader, events):
    uart.pull_out()
    assert events.wait_for(lambda s: any(isinstance(e, DeviceFaulted) for e in s))
    fault = events.of(DeviceFaulted)[0]
    assert (fault.source, fault.code) == ("rfid", "ReaderFailure")
    uart.plug_in()
    assert events.wait_for(lambda s: any(isinstance(e, DeviceRecovered) for e in s))
    assert reader.opened.wait(5)
    uart.write(frame("0102030405"))
    assert events.wait_for(lambda s: len(_cards(s)) == 1)
    assert len(events.of(DeviceFaulted)) == 1  # retries while absent do not repeat the fault


def test_missing_port_at_start_faults_and_stop_ends_the_thread(tmp_path, events):
    rdm = Rdm6300Reader(str(tmp_path / "nothing"), post=events.post, backoff_s=0.01)
    rdm.start()
    assert events.wait_for(lambda s: len(s) >= 1)
    rdm.stop(timeout=5)
    assert [type(e) for e in events.seen] == [DeviceFaulted]
