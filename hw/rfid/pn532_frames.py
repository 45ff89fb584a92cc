"""PN532 host-link frames (NXP UM0701-02 §6.2.1) and command payloads, as pure code (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# UM0701-02 §6.2.1: every frame starts with the start code 00 FF (after an optional 00
# preamble) and ends with a 00 postamble.
PREAMBLE = 0x00
START_CODE = b"\x00\xff"
POSTAMBLE = 0x00
ACK = b"\x00\x00\xff\x00\xff\x00"  # §6.2.1.3: "command received"; from the host: abort
NACK = b"\x00\x00\xff\xff\x00\x00"  # §6.2.1.4: from the host: send the last response again
ERROR = b"\x00\x00\xff\x01\xff\x7f\x81\x00"  # §6.2.1.5: application-level error
ERROR_CODE = 0x7F
# HSU wake-up: 0x55 wakes the PN532's UART (it starts in Low VBat / power-down mode); the
# zeros that follow are a long preamble that gives its oscillator time before the first
# command, which must be SAMConfiguration (UM0701-02 §7.2.10; NXP AN10609 "Low VBat mode").
WAKEUP = b"\x55\x55" + bytes(14)
MAX_NORMAL_DATA = 254  # LEN counts TFI + data and is one byte (§6.2.1.1); 0xFF marks extended


class Tfi(IntEnum):
    """Frame identifier: the direction of an information frame (UM0701-02 §6.2.1.1)."""

    HOST_TO_PN532 = 0xD4
    PN532_TO_HOST = 0xD5


class Command(IntEnum):
    """The command codes this driver uses (UM0701-02 §7); the answer carries code + 1."""

    GET_FIRMWARE_VERSION = 0x02  # §7.2.2
    SAM_CONFIGURATION = 0x14  # §7.2.10
    RF_CONFIGURATION = 0x32  # §7.3.1
    IN_LIST_PASSIVE_TARGET = 0x4A  # §7.3.5


SAM_NORMAL_MODE = 0x01  # §7.2.10 Mode: normal, the SAM is not used
RF_CFG_MAX_RETRIES = 0x05  # §7.3.1 CfgItem 5: MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
BRTY_106_TYPE_A = 0x00  # §7.3.5 BrTy: 106 kbps type A (ISO/IEC 14443 Type A)


@dataclass(frozen=True, slots=True)
class Ack:
    """An ACK frame."""


@dataclass(frozen=True, slots=True)
class Nack:
    """A NACK frame."""


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """A syntax error frame: the PN532 refused the command at the application level."""


@dataclass(frozen=True, slots=True)
class Information:
    """A normal or extended information frame whose LCS and DCS were right."""

    tfi: int
    data: bytes  # PD0 (command code) ... PDn


Frame = Ack | Nack | ErrorFrame | Information


def checksum(data: bytes) -> int:
    """The byte that makes the low byte of sum(data) + it zero (LCS and DCS, §6.2.1.1)."""
    return -sum(data) & 0xFF


def encode_information(tfi: int, data: bytes) -> bytes:
    """A normal information frame: 00 00 FF LEN LCS TFI PD0..PDn DCS 00."""
    if not 1 <= len(data) <= MAX_NORMAL_DATA:
        raise ValueError(f"a normal frame carries 1-{MAX_NORMAL_DATA} data bytes, not {len(data)}")
    body = bytes([tfi]) + data
    length = len(body)
    return (
        bytes([PREAMBLE])
        + START_CODE
        + bytes([length, checksum(bytes([length]))])
        + body
        + bytes([checksum(body), POSTAMBLE])
    )


def encode_command(command: int, params: bytes = b"") -> bytes:
    """The frame the host sends for `command` with its parameters."""
    return encode_information(Tfi.HOST_TO_PN532, bytes([command]) + params)


class Pn532FrameParser:
    """Turns the byte stream from the reader into frames; drops and counts what is not one.

    Resynchronises on the next start code 00 FF after a bad frame, so garbage or a corrupted
    frame never swallows the frame after it. A frame with a wrong LCS (length checksum) or
    DCS (data checksum) is dropped and counted in `frames_bad`; bytes outside frames are
    counted in `bytes_dropped`. Extended frames (LEN = FF FF, §6.2.1.2) are accepted too.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_dropped = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the complete frames found, in order."""
        self._buffer.extend(data)
        frames: list[Frame] = []
        while True:
            start = self._buffer.find(START_CODE)
            if start < 0:
                keep = 1 if self._buffer.endswith(b"\x00") else 0  # a start code may follow
                self._skip(len(self._buffer) - keep, before_start=False)
                return frames
            if start:
                self._skip(start)
            result = self._decode()
            if result is None:
                return frames  # incomplete: wait for more bytes
            frame, used = result
            if frame is None:
                self.frames_bad += 1
                del self._buffer[:2]  # resync after this 00 FF
                continue
            self.frames_ok += 1
            frames.append(frame)
            if self._buffer[used : used + 1] == bytes([POSTAMBLE]):
                used += 1
            del self._buffer[:used]

    def _skip(self, count: int, *, before_start: bool = True) -> None:
        """Drop `count` bytes; a 00 right before a start code is the preamble, not noise."""
        preamble = 1 if before_start and self._buffer[count - 1] == PREAMBLE else 0
        self.bytes_dropped += count - preamble
        del self._buffer[:count]

    def _decode(self) -> tuple[Frame | None, int] | None:
        """(frame or None if bad, bytes used) at the start code at 0; None if incomplete."""
        buf = self._buffer
        if len(buf) < 4:
            return None
        pair = bytes(buf[2:4])
        if pair == b"\x00\xff":
            return Ack(), 4
        if pair == b"\xff\x00":
            return Nack(), 4
        if pair == b"\xff\xff":  # extended frame: 00 FF FF FF LENM LENL LCS TFI ...
            if len(buf) < 7:
                return None
            length = buf[4] << 8 | buf[5]
            if (buf[4] + buf[5] + buf[6]) & 0xFF:
                return None, 0
            return self._body(7, length)
        length, lcs = buf[2], buf[3]
        if (length + lcs) & 0xFF:
            return None, 0
        return self._body(4, length)

    def _body(self, at: int, length: int) -> tuple[Frame | None, int] | None:
        buf = self._buffer
        if length == 0:
            return None, 0
        if len(buf) < at + length + 1:
            return None
        body = bytes(buf[at : at + length])
        if checksum(body) != buf[at + length]:
            return None, 0
        used = at + length + 1
        if len(body) == 1 and body[0] == ERROR_CODE:
            return ErrorFrame(), used
        return Information(body[0], body[1:]), used


@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    """GetFirmwareVersion's answer (UM0701-02 §7.2.2): IC 0x32 is a PN532."""

    ic: int
    version: int
    revision: int
    support: int


def parse_firmware_version(data: bytes) -> FirmwareVersion:
    """The payload after the answer code; ValueError when it is not 4 bytes."""
    if len(data) != 4:
        raise ValueError(f"GetFirmwareVersion answer of {len(data)} bytes, expected 4")
    return FirmwareVersion(*data)


@dataclass(frozen=True, slots=True)
class TargetA:
    """One ISO/IEC 14443 Type A target from InListPassiveTarget (UM0701-02 §7.3.5)."""

    number: int  # Tg: the logical number the PN532 gave the target
    sens_res: int  # ATQA
    sel_res: int  # SAK
    uid: bytes  # NFCID1: 4, 7 or 10 bytes (ISO/IEC 14443-3 single, double, triple size)

    @property
    def id_tag(self) -> str:
        """The UID as upper-case hex: 8, 14 or 20 characters (OCPP 1.6 idToken is CiString20)."""
        return self.uid.hex().upper()


UID_LENGTHS = (4, 7, 10)


def parse_targets_a(data: bytes) -> list[TargetA]:
    """InListPassiveTarget's answer for BrTy 0x00: NbTg, then per target Tg, SENS_RES (2),
    SEL_RES, NFCIDLength, NFCID1, and for ISO/IEC 14443-4 cards ATSLength + ATS (skipped).
    ValueError when the lengths do not add up or a UID is not 4, 7 or 10 bytes."""
    if not data:
        raise ValueError("empty InListPassiveTarget answer")
    count, at, targets = data[0], 1, []
    for _ in range(count):
        if len(data) < at + 5:
            raise ValueError("InListPassiveTarget answer cut short")
        number, sens_hi, sens_lo, sel_res, uid_len = data[at : at + 5]
        sens_res = sens_hi << 8 | sens_lo
        uid = data[at + 5 : at + 5 + uid_len]
        if uid_len not in UID_LENGTHS or len(uid) != uid_len:
            raise ValueError(f"InListPassiveTarget answer with a {uid_len}-byte UID")
        at += 5 + uid_len
        if sel_res & 0x20 and len(data) > at:  # SAK bit 6: ISO/IEC 14443-4, ATS follows
            if data[at] < 1:  # (unless the host turned the PN532's automatic RATS off)
                raise ValueError("InListPassiveTarget answer with an ATS length of 0")
            at += data[at]  # ATSLength counts itself
        targets.append(TargetA(number, sens_res, sel_res, bytes(uid)))
    if at > len(data):
        raise ValueError("InListPassiveTarget answer cut short")
    return targets
