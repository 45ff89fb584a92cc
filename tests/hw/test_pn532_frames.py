"""PN532 frames (UM0701-02 §6.2.1) and answers (§7.2.2, §7.3.5), against hand-checked bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.rfid.pn532_frames import (
    Ack,
    Command,
    ErrorFrame,
    FirmwareVersion,
    Information,
    Nack,
    Pn532FrameParser,
    encode_command,
    parse_firmware_version,
    parse_targets_a,
)

# Command frames: preamble 00, start code 00 FF, LEN, LCS, TFI D4, data, DCS, postamble 00.
# The first three as printed in NXP's PN532 documents (UM0701-02, AN10609); RFConfiguration's
# checksum by hand (D4+32+05+FF+01+01 = 0x20C, DCS = 0x100 - 0x0C = 0xF4).
COMMAND_FRAMES = [
    (Command.GET_FIRMWARE_VERSION, "", "0000ff02fed4022a00"),
    (Command.SAM_CONFIGURATION, "011401", "0000ff05fbd414011401 0200"),
    (Command.IN_LIST_PASSIVE_TARGET, "0100", "0000ff04fcd44a0100e100"),
    (Command.RF_CONFIGURATION, "05ff0101", "0000ff06fad43205ff0101f400"),
]


@pytest.mark.parametrize(
    ("command", "params", "wire"), COMMAND_FRAMES, ids=[c[0].name for c in COMMAND_FRAMES]
)
def test_command_frames_match_the_manual(command: int, params: str, wire: str) -> None:
    assert encode_command(command, bytes.fromhex(params)) == bytes.fromhex(wire)


FIRMWARE_ANSWER = bytes.fromhex("0000ff06fad50332010607e800")
CARD_ANSWER = bytes.fromhex("0000ff0cf4d54b0101000408 04922e5832 8400".replace(" ", ""))


def test_ack_nack_error_and_information_frames() -> None:
    parser = Pn532FrameParser()
    stream = (
        bytes.fromhex("0000ff00ff00")
        + bytes.fromhex("0000ffff0000")
        + bytes.fromhex("0000ff01ff7f8100")
        + FIRMWARE_ANSWER
    )
    assert parser.feed(stream) == [
        Ack(),
        Nack(),
        ErrorFrame(),
        Information(0xD5, bytes.fromhex("0332010607")),
    ]
    assert (parser.frames_ok, parser.frames_bad, parser.bytes_dropped) == (4, 0, 0)


def test_frames_split_across_reads_byte_by_byte() -> None:
    parser = Pn532FrameParser()
    frames = [f for byte in CARD_ANSWER + FIRMWARE_ANSWER for f in parser.feed(bytes([byte]))]
    assert [f.data[0] for f in frames if isinstance(f, Information)] == [0x4B, 0x03]


def _corrupt(frame: bytes, index: int) -> bytes:
    out = bytearray(frame)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize(
    ("what", "bad"),
    [
        ("LCS", _corrupt(CARD_ANSWER, 4)),
        ("LEN", _corrupt(CARD_ANSWER, 3)),
        ("DCS", _corrupt(CARD_ANSWER, -2)),
        ("data", _corrupt(CARD_ANSWER, 12)),
        ("truncated", CARD_ANSWER[:9]),
    ],
)
def test_bad_frames_are_dropped_and_the_next_frame_still_parses(what: str, bad: bytes) -> None:
    parser = Pn532FrameParser()
    frames = parser.feed(bad + FIRMWARE_ANSWER)
    assert frames[-1] == Information(0xD5, bytes.fromhex("0332010607")), what
    assert not any(isinstance(f, Information) and f.data[:1] == b"\x4b" for f in frames)
    assert parser.frames_bad >= 1


def test_garbage_containing_start_codes_is_skipped_and_counted() -> None:
    parser = Pn532FrameParser()
    garbage = b"\xff\x13\x00\xff\x07\x00noise\x00\xff"
    assert parser.feed(garbage + FIRMWARE_ANSWER) == [
        Information(0xD5, bytes.fromhex("0332010607"))
    ]
    assert parser.bytes_dropped >= 5 and parser.frames_bad >= 1


def test_extended_frame() -> None:
    body = bytes([0xD5, 0x4B]) + bytes(range(1, 9))
    lenm, lenl = 0, len(body)
    frame = (
        bytes.fromhex("0000ffffff")
        + bytes([lenm, lenl, -(lenm + lenl) & 0xFF])
        + body
        + bytes([-sum(body) & 0xFF, 0])
    )
    assert Pn532FrameParser().feed(frame) == [Information(0xD5, body[1:])]


def test_firmware_version() -> None:
    assert parse_firmware_version(bytes.fromhex("32010607")) == FirmwareVersion(0x32, 1, 6, 7)
    with pytest.raises(ValueError):
        parse_firmware_version(b"\x32")


TARGETS = [
    ("MIFARE Classic, 4-byte UID", "01 01 0004 08 04 922e5832", "922E5832"),
    ("NTAG, 7-byte UID", "01 01 0044 00 07 04a1b2c3d4e5f6", "04A1B2C3D4E5F6"),
    ("triple size, 10-byte UID", "01 01 0044 00 0a 0102030405060708090a", "0102030405060708090A"),
    (
        "ISO/IEC 14443-4 with ATS",
        "01 01 0344 20 07 04112233445566 06 75778102 80",
        "04112233445566",
    ),
]


@pytest.mark.parametrize(("what", "answer", "id_tag"), TARGETS, ids=[t[0] for t in TARGETS])
def test_target_uid_is_the_id_tag_in_upper_case_hex(what: str, answer: str, id_tag: str) -> None:
    (target,) = parse_targets_a(bytes.fromhex(answer.replace(" ", "")))
    assert target.id_tag == id_tag
    assert len(target.id_tag) <= 20  # OCPP 1.6 §7.28 IdToken: CiString20Type


def test_no_card_in_the_field() -> None:
    assert parse_targets_a(b"\x00") == []


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "01",
        "01 01 0004 08 04 922e58",
        "01 01 0004 08 05 0102030405",
        "01 01 0344 20 04 01020304 00",
    ],
)
def test_malformed_target_answers_are_refused(answer: str) -> None:
    with pytest.raises(ValueError):
        parse_targets_a(bytes.fromhex(answer.replace(" ", "")))


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=8))
def test_any_bytes_in_any_chunks_give_the_same_frames_and_never_raise(
    stream: bytes, cuts: list[int]
) -> None:
    whole = Pn532FrameParser().feed(stream)
    chunked, parser, at = [], Pn532FrameParser(), 0
    for cut in sorted(cuts) + [len(stream)]:
        chunked += parser.feed(stream[at:cut])
        at = max(at, cut)
    assert chunked == whole


@settings(max_examples=300, deadline=None)
@given(noise=st.binary(max_size=64).filter(lambda b: b"\x00\xff" not in b))
def test_a_frame_after_noise_without_start_codes_is_always_found(noise: bytes) -> None:
    parser = Pn532FrameParser()
    assert parser.feed(noise + FIRMWARE_ANSWER) == [Information(0xD5, bytes.fromhex("0332010607"))]
    assert parser.bytes_dropped == len(noise)  # the frame's own preamble is not noise
