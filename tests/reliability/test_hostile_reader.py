"""An RDM6300 reader spewing noise on a pty: valid cards still reported once, nothing crashes."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import tty
from collections.abc import Callable, Iterator

import pytest

from hw.events import CardPresented, DeviceFaulted
from hw.rfid.frames import ETX, STX, encode_frame
from hw.rfid.rdm6300 import Rdm6300Reader
from tests.support.recorder import EventRecorder

CARDS = [f"{0x0400000000 + n * 7919:010X}" for n in range(40)]


class Uart:
    """A raw pseudo-terminal: the reader opens `path`, the test writes to the master side."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class Clock:
    """Injected into the reader's presentation filter; the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def rig() -> Iterator[tuple[Uart, Rdm6300Reader, EventRecorder, Clock]]:
    uart, events, clock = Uart(), EventRecorder(), Clock()
    reader = Rdm6300Reader(
        uart.path,
        post=events.post,
        source="rfid",
        gap_s=1.0,
        backoff_s=0.02,
        backoff_max_s=0.1,
        clock=clock,
    )
    reader.start()
    try:
        assert reader.opened.wait(5.0)
        yield uart, reader, events, clock
    finally:
        reader.stop()
        uart.close()
    assert not [t for t in threading.enumerate() if t.name == "rdm6300-rfid"]  # joined


def noise(rng: random.Random, size: int) -> bytes:
    """Random bytes rich in STX, ETX and hex digits, the bytes a parser must not trust."""
    pool = bytes([STX, ETX]) * 8 + b"0123456789ABCDEF" + bytes(range(256))
    return bytes(rng.choice(pool) for _ in range(size))


def damaged(rng: random.Random, tag: str) -> bytes:
    """A frame of `tag` that must not be accepted: truncated, bad checksum or bad hex."""
    good = bytearray(encode_frame(tag))
    kind = rng.randrange(3)
    if kind == 0:
        return bytes(good[: rng.randrange(1, 13)])
    if kind == 1:
        return encode_frame(tag, checksum=(int(good[11:13], 16) ^ 0x5A))
    good[rng.randrange(1, 11)] = ord("G")
    return bytes(good)


def tag_is(tag: str) -> Callable[[CardPresented], bool]:
    return lambda event: event.id_tag == tag


def test_cards_in_noise_are_reported_once_each(
    rig: tuple[Uart, Rdm6300Reader, EventRecorder, Clock],
) -> None:
    uart, reader, events, clock = rig
    rng = random.Random(8)
    for tag in CARDS:
        uart.write(noise(rng, rng.randrange(0, 3000)))
        uart.write(damaged(rng, CARDS[-1 - CARDS.index(tag)]))  # another card's bad frame
        for _ in range(3):  # the card stays in the field: the reader repeats its frame
            uart.write(encode_frame(tag) + noise(rng, rng.randrange(0, 40)))
        # A frame followed by noise is complete as soon as its ETX arrives.
        events.wait_for(CardPresented, tag_is(tag), timeout=10.0)
    uart.write(noise(rng, 20_000))
    clock.advance(5.0)  # every card left the field
    uart.write(encode_frame(CARDS[0]))  # the first card comes back: a new presentation
    events.wait_for(CardPresented, lambda e: e.id_tag == CARDS[0], timeout=10.0, count=2)
    assert [e.id_tag for e in events.of(CardPresented)] == CARDS + [CARDS[0]]
    assert all(e.source == "rfid" for e in events.of(CardPresented))
    assert events.of(DeviceFaulted) == []
    assert reader.parser.frames_ok >= 3 * len(CARDS)
    assert reader.parser.frames_bad > 0 and reader.parser.bytes_dropped > 0


def test_a_flood_of_noise_does_not_hide_the_next_card(
    rig: tuple[Uart, Rdm6300Reader, EventRecorder, Clock],
) -> None:
    uart, reader, events, _clock = rig
    rng = random.Random(80)
    flood = noise(rng, 256 * 1024)
    for chunk in range(0, len(flood), 4096):
        uart.write(flood[chunk : chunk + 4096])
    uart.write(bytes([STX]) + encode_frame(CARDS[5]))  # a dangling STX right before it
    card = events.wait_for(CardPresented, timeout=10.0)
    assert card.id_tag == CARDS[5]
    assert events.of(CardPresented) == [card]  # noise produced no phantom card
    assert reader.opened.is_set() and events.of(DeviceFaulted) == []


def test_only_noise_reports_no_card(rig: tuple[Uart, Rdm6300Reader, EventRecorder, Clock]) -> None:
    uart, reader, events, _clock = rig
    rng = random.Random(800)
    for _ in range(50):
        uart.write(noise(rng, 2000) + damaged(rng, CARDS[rng.randrange(len(CARDS))]))
    uart.write(encode_frame(CARDS[1]))  # a sentinel: once it is reported, the noise was read
    events.wait_for(CardPresented, timeout=10.0)
    assert [e.id_tag for e in events.of(CardPresented)] == [CARDS[1]]
    assert reader.parser.frames_bad >= 50
