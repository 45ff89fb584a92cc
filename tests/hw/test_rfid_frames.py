"""RDM6300 frame parser and once-per-presentation filter (pure)."""

from __future__ import annotations

import pytest

from hw.rfid.frames import PresentationFilter, Rdm6300Parser
from hw.rfid.frames import encode_frame as frame

# Checked by hand: 01^02^03^04^05 = 01.
GOOD = b"\x020102030405" + b"01\x03"


def test_encode_frame_rejects_wrong_length():
    with pytest.raises(ValueError):
        frame("0102")


def test_hand_checked_frame():
    assert frame("0102030405") == GOOD
    parser = Rdm6300Parser()
    assert parser.feed(GOOD) == ["0102030405"]
    assert (parser.frames_ok, parser.frames_bad, parser.bytes_dropped) == (1, 0, 0)


@pytest.mark.parametrize(
    ("stream", "tags", "ok", "bad", "dropped"),
    [
        pytest.param(frame("0F002A3B4C"), ["0F002A3B4C"], 1, 0, 0, id="good"),
        pytest.param(
            frame("0f002a3b4c"), ["0F002A3B4C"], 1, 0, 0, id="lowercase-becomes-uppercase"
        ),
        pytest.param(frame("0F002A3B4C", checksum=0x00), [], 0, 1, 13, id="bad-checksum"),
        pytest.param(
            frame("0F002A3B4C")[:9] + frame("1122334455"),
            ["1122334455"],
            1,
            1,
            8,
            id="truncated-then-good",
        ),
        pytest.param(
            b"\xff\x00noise\r\n" + frame("1122334455") + b"zz",
            ["1122334455"],
            1,
            0,
            11,
            id="noise-around",
        ),
        pytest.param(b"\x02GGGGGGGGGGGG\x03", [], 0, 1, 13, id="not-hex"),
        pytest.param(frame("1122334455")[:-1] + b"X", [], 0, 1, 13, id="no-etx"),
        pytest.param(frame("1122334455") * 3, ["1122334455"] * 3, 3, 0, 0, id="repeated"),
    ],
)
def test_parser_table(stream, tags, ok, bad, dropped):
    parser = Rdm6300Parser()
    assert parser.feed(stream) == tags
    assert (parser.frames_ok, parser.frames_bad, parser.bytes_dropped) == (ok, bad, dropped)


def test_frames_split_across_reads_byte_by_byte():
    parser = Rdm6300Parser()
    out = []
    for byte in frame("A1B2C3D4E5") + frame("0102030405"):
        out += parser.feed(bytes([byte]))
    assert out == ["A1B2C3D4E5", "0102030405"]


@pytest.mark.parametrize(
    ("sightings", "reported"),
    [
        pytest.param([("A", 0.0), ("A", 0.1), ("A", 0.2)], [True, False, False], id="held"),
        pytest.param(
            [("A", 0.0), ("A", 0.5), ("A", 1.2)], [True, False, False], id="held-longer-than-gap"
        ),
        pytest.param([("A", 0.0), ("A", 1.5)], [True, True], id="taken-away-and-back"),
        pytest.param([("A", 0.0), ("B", 0.1), ("A", 0.2)], [True, True, False], id="two-cards"),
    ],
)
def test_presentation_filter(sightings, reported):
    filt = PresentationFilter(gap_s=1.0)
    assert [filt.seen(tag, now) for tag, now in sightings] == reported
