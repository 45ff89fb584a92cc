"""RDM6300 frame parsing and once-per-presentation filtering, as pure classes (no I/O, no clock)."""

from __future__ import annotations

STX = 0x02
ETX = 0x03
FRAME_LEN = 14  # STX + 10 hex data + 2 hex checksum + ETX
_HEX = frozenset(b"0123456789ABCDEFabcdef")


class Rdm6300Parser:
    """Turns the reader's byte stream into id tags; drops and counts what is not a valid frame.

    Frame: 0x02, 10 ASCII hex characters (5 data bytes: version + 4-byte card number), 2 ASCII
    hex characters whose value is the XOR of the 5 data bytes, 0x03. After a bad frame the
    parser resynchronises on the next 0x02, so a truncated frame does not swallow the next one.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.frames_ok = 0
        self.frames_bad = 0  # bad checksum, non-hex characters, or missing 0x03 (truncated)
        self.bytes_dropped = 0  # noise between frames

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the id tags (10 uppercase hex characters) of the complete frames."""
        self._buffer.extend(data)
        tags: list[str] = []
        while True:
            start = self._buffer.find(STX)
            if start < 0:
                self.bytes_dropped += len(self._buffer)
                self._buffer.clear()
                return tags
            if start > 0:
                self.bytes_dropped += start
                del self._buffer[:start]
            if len(self._buffer) < FRAME_LEN:
                return tags
            frame = bytes(self._buffer[:FRAME_LEN])
            tag = self._decode(frame)
            if tag is None:
                self.frames_bad += 1
                del self._buffer[:1]  # resync on the next STX, which may be inside this frame
                continue
            self.frames_ok += 1
            tags.append(tag)
            del self._buffer[:FRAME_LEN]

    @staticmethod
    def _decode(frame: bytes) -> str | None:
        if frame[-1] != ETX or not all(b in _HEX for b in frame[1:13]):
            return None
        data = bytes.fromhex(frame[1:11].decode("ascii"))
        checksum = int(frame[11:13], 16)
        xor = 0
        for byte in data:
            xor ^= byte
        if xor != checksum:
            return None
        return frame[1:11].decode("ascii").upper()


class PresentationFilter:
    """Reports a card once per presentation.

    The RDM6300 repeats the frame while a card stays in the field. A tag is reported when it
    has not been seen for more than `gap_s` seconds (or never); every sighting restarts its gap.
    """

    def __init__(self, gap_s: float = 1.0) -> None:
        self.gap_s = gap_s
        self._last_seen: dict[str, float] = {}

    def seen(self, id_tag: str, now: float) -> bool:
        """Record a sighting at `now`; True when it starts a new presentation."""
        last = self._last_seen.get(id_tag)
        self._last_seen[id_tag] = now
        for tag, when in list(self._last_seen.items()):
            if now - when > self.gap_s:
                del self._last_seen[tag]
        return last is None or now - last > self.gap_s


def encode_frame(id_tag: str, checksum: int | None = None) -> bytes:
    """The RDM6300 frame for a 10-hex-character tag (for simulators); `checksum` overrides."""
    data = bytes.fromhex(id_tag)
    if len(data) != 5:
        raise ValueError(f"an RDM6300 tag is 10 hex characters, not {id_tag!r}")
    xor = 0
    for byte in data:
        xor ^= byte
    value = xor if checksum is None else checksum
    return bytes([STX]) + id_tag.encode("ascii") + f"{value:02X}".encode("ascii") + bytes([ETX])
