"""OpenEVSE RAPI framing (firmware rapi_proc.h): commands, replies, async notices; pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hw.events import EvseFault, PilotState

SOC = "$"  # start of command
EOC = "\r"  # end of command
SOS = ":"  # start of sequence id (RAPI v3.0.0+); 00 is reserved as invalid


@dataclass(frozen=True, slots=True)
class BoardState:
    """A `$GS` reply: `$OK evsestate(hex) elapsed(dec) pilotstate(hex) vflags(hex)`."""

    evse: int
    pilot: int
    vflags: int | None  # None: a reply without the vflags field (CHANGELOG D5.2.0)


def parse_state(args: tuple[str, ...]) -> BoardState:
    """The fields of a `$GS` reply; ValueError names the firmware for an older format.

    Firmware before D6.0.0 (RAPI 5.0.0) answers `$GS` with `state(decimal) elapsed` only:
    no pilot state, and a state in another base, so it cannot drive a connector.
    """
    if len(args) < 3:
        raise ValueError(
            f"$GS answered {' '.join(args)!r}: firmware before D6.0.0 (RAPI 5.0.0) has no pilot"
            " state in $GS; update the OpenEVSE firmware"
        )
    vflags = int(args[3], 16) if len(args) > 3 else None
    return BoardState(int(args[0], 16), int(args[2], 16), vflags)


class EvseState(IntEnum):
    """EVSE_STATE_xxx of J1772EvseController.h: `$GS` and `$AT` report these (hex)."""

    UNKNOWN = 0x00
    A = 0x01  # not connected
    B = 0x02  # connected, ready
    C = 0x03  # charging
    D = 0x04  # vent required (a fault when vent-required checking is on)
    DIODE_CHECK_FAILED = 0x05
    GFCI_FAULT = 0x06
    NO_GROUND = 0x07
    STUCK_RELAY = 0x08
    GFI_TEST_FAILED = 0x09
    OVER_TEMPERATURE = 0x0A
    OVER_CURRENT = 0x0B
    RELAY_CLOSURE_FAULT = 0x0E
    SLEEPING = 0xFE  # $FS: pilot steady +12 V, relay open once the EV opened S2
    DISABLED = 0xFF  # $FD: pilot -12 V, relay opened at once


# m_wVFlags bits (J1772EvseController.h ECVF_xxx), the 4th field of `$GS` and `$AT`.
ECVF_EV_CONNECTED = 0x0100  # "EV connected - valid only when pilot not N12"

PILOT_LETTERS: dict[int, PilotState] = {
    EvseState.A: PilotState.A,
    EvseState.B: PilotState.B,
    EvseState.C: PilotState.C,
    EvseState.D: PilotState.D,
}

# OpenEVSE has no ventilated charging: in state D it refuses to charge (EVSE_FAULT_STATE_BEGIN).
STATE_FAULTS: dict[int, EvseFault] = {
    EvseState.D: EvseFault.VENTILATION,
    EvseState.DIODE_CHECK_FAILED: EvseFault.DIODE_CHECK,
    EvseState.GFCI_FAULT: EvseFault.RESIDUAL_CURRENT,
    EvseState.NO_GROUND: EvseFault.NO_GROUND,
    EvseState.STUCK_RELAY: EvseFault.STUCK_RELAY,
    EvseState.GFI_TEST_FAILED: EvseFault.RCD_SELF_TEST,
    EvseState.OVER_TEMPERATURE: EvseFault.OVER_TEMPERATURE,
    EvseState.OVER_CURRENT: EvseFault.OVER_CURRENT,
    EvseState.RELAY_CLOSURE_FAULT: EvseFault.STUCK_RELAY,
}


def checksum(text: str) -> int:
    """8-bit XOR of every character before '^' (rapi_proc.h, "with XOR checksum")."""
    value = 0
    for char in text:
        value ^= ord(char)
    return value


def encode(command: str, *params: object, seq: int | None = None) -> bytes:
    """`$cc pp pp .. :ss^xk\\r` as bytes; `seq` 1-255 is echoed in the reply."""
    text = SOC + " ".join([command, *(str(p) for p in params)])
    if seq is not None:
        if not 1 <= seq <= 255:
            raise ValueError(f"RAPI sequence id must be 1-255, not {seq}")
        text += f" {SOS}{seq:02X}"
    return f"{text}^{checksum(text):02X}{EOC}".encode("ascii")


@dataclass(frozen=True, slots=True)
class Frame:
    """One line from the controller: `kind` is "OK", "NK", "AT", "AB", ...; `seq` or None."""

    kind: str
    args: tuple[str, ...]
    seq: int | None


def parse(line: str) -> Frame:
    """Parse one line (without the \\r); raises ValueError for a bad frame or checksum.

    A line without a checksum is refused: firmware 2.0.0+ always sends one.
    """
    line = line.strip("\n")
    start = line.find(SOC)
    if start < 0:
        raise ValueError(f"no {SOC!r} in {line!r}")
    body, caret, check = line[start:].rpartition("^")
    if not caret or len(check) != 2:
        raise ValueError(f"no ^xk checksum in {line!r}")
    try:
        given = int(check, 16)
    except ValueError:
        raise ValueError(f"bad checksum digits in {line!r}") from None
    if given != checksum(body):
        raise ValueError(f"checksum mismatch in {line!r}")
    tokens = body[1:].split(" ")
    seq = None
    if len(tokens) > 1 and tokens[-1].startswith(SOS):
        seq = int(tokens.pop()[1:], 16)
    return Frame(tokens[0], tuple(t for t in tokens[1:] if t), seq)
