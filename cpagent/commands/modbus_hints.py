"""Why a Modbus RTU device did not answer, in words a builder can act on."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

# Modbus Application Protocol V1.1b3 §7: the exception codes a device answers with.
EXCEPTION_CODES: dict[int, str] = {
    1: "illegal function (this device does not support that request)",
    2: "illegal data address (this device has no such register: another model or device?)",
    3: "illegal data value (the device refused the value or the register count)",
    4: "server device failure (the device failed while answering)",
    5: "acknowledge (busy with a long request)",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond (a gateway answers: no device at this unit)",
}
_EXCEPTION = re.compile(
    r"ExceptionResponse\(dev_id=(\d+), function_code=(\d+), "
    r"exception_code=(\d+)\)"
)


def exception_words(text: str) -> str | None:
    """'unit 1 answered function 04 with exception 04: server device failure (...)' for a
    text holding pymodbus's ExceptionResponse repr; None if it holds none."""
    match = _EXCEPTION.search(text)
    if match is None:
        return None
    unit, function, code = (int(g) for g in match.groups())
    # §7: an exception reply echoes the function code with its high bit set (0x84 for 0x04).
    words = EXCEPTION_CODES.get(code, "an exception code the standard does not define")
    return f"unit {unit} answered function {function & 0x7F:02d} with exception {code:02d}: {words}"


def crc16(data: bytes) -> int:
    """Modbus over Serial Line V1.02 §6.2.2: CRC-16 (poly 0xA001 reflected, init 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def read_request(unit: int, address: int, count: int, function: int = 4) -> bytes:
    """An RTU read request frame (function 03/04), CRC low byte first (§2.5.1.2)."""
    pdu = bytes([unit, function, address >> 8, address & 0xFF, count >> 8, count & 0xFF])
    crc = crc16(pdu)
    return pdu + bytes([crc & 0xFF, crc >> 8])


def raw_listen(port: str, baudrate: int, frame: bytes, listen_s: float = 0.5) -> bytes:
    """Send `frame` and return every byte that comes back within `listen_s`."""
    import serial

    with serial.Serial(port, baudrate, timeout=0.05) as line:
        line.reset_input_buffer()
        line.write(frame)
        got = bytearray()
        deadline = time.monotonic() + listen_s
        while time.monotonic() < deadline:
            got += line.read(256)
        return bytes(got)


def valid_reply(data: bytes, unit: int) -> bool:
    """True if `data` starts with a well-formed RTU reply from `unit` (CRC checked)."""
    if len(data) < 5 or data[0] != unit:
        return False
    size = 5 if data[1] & 0x80 else 5 + data[2]
    body = data[: size - 2]
    return len(data) >= size and crc16(body) == data[size - 2] | data[size - 1] << 8


def silence_hint(
    port: str,
    baudrate: int,
    unit: int,
    *,
    others_answering: Callable[[], list[int]],
    listen: Callable[[str, int, bytes], bytes] = raw_listen,
) -> str:
    """Name the likely cause after a unit did not answer: garbage on the line (baud rate,
    A/B swapped), another unit id answering (wrong --unit), or nothing at all (wiring)."""
    try:
        heard = listen(port, baudrate, read_request(unit, 0, 2))
    except OSError as exc:
        return f"the port failed while listening: {exc}"
    if heard and not valid_reply(heard, unit):
        return (
            f"bytes came back but no valid Modbus frame ({heard[:12].hex(' ')}...): a wrong "
            f"baud rate (is the device at {baudrate}? try --baudrate 9600/19200/38400), "
            "A and B swapped, or a missing common ground / termination"
        )
    others = others_answering()
    if others:
        listed = ", ".join(str(u) for u in others)
        return (
            f"no answer at unit {unit}, but unit(s) {listed} answer: wrong unit id "
            f"(use --unit {others[0]}, or set the device's address in its menu)"
        )
    return (
        "no answer at all: check the wiring (A to A, B to B - on some adapters swap them), "
        "the device's power, and that the adapter is the right port; a different baud rate "
        "also looks like this (--baudrate); --scan looks for other unit ids"
    )
