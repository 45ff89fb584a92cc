"""A simulated PN532 on a pseudo-terminal speaking HSU frames (UM0701-02 §6.2), for HIL tests."""

from __future__ import annotations

import collections
import contextlib
import os
import select
import threading
import tty
from dataclasses import dataclass
from pathlib import Path

# Written from the user manual, not from the driver's code: frames are built and checked here
# byte by byte, so that a mistake in `hw.rfid.pn532_frames` is not mirrored by its twin.
ACK = b"\x00\x00\xff\x00\xff\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"  # §6.2.1.5, "syntax error"
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, version 1.6, supports ISO A/B, 18092


def _frame(body: bytes) -> bytes:
    """Preamble, start code, LEN, LCS, body (TFI + data), DCS, postamble (§6.2.1.1)."""
    length = len(body)
    return (
        b"\x00\x00\xff"
        + bytes([length, (0x100 - length) & 0xFF])
        + body
        + bytes([(0x100 - sum(body)) & 0xFF, 0x00])
    )


@dataclass(frozen=True, slots=True)
class Card:
    """An ISO/IEC 14443 Type A card in the field."""

    uid: bytes
    sens_res: int = 0x0044  # ATQA of a MIFARE Ultralight / NTAG; 0x0004 for a Classic 1K
    sel_res: int = 0x00  # SAK; 0x08 for a MIFARE Classic 1K, 0x20 for ISO/IEC 14443-4
    ats: bytes = b""  # for SAK 0x20: the ATS including its length byte


class Pn532Twin:
    """A PN532 in HSU mode on a pty, reached through the symlink `link` (as /dev/serial/by-id).

    Starts asleep (Low VBat, as after power-up): bytes are ignored until a 0x55 wake-up byte.
    Answers GetFirmwareVersion, SAMConfiguration, RFConfiguration (MaxRetries) and
    InListPassiveTarget (BrTy 0x00) with an ACK and then the answer; anything else gets the
    error frame. Host frames with a bad LCS/DCS are ignored (counted in `rejected`); a host
    NACK re-sends the last answer, a host ACK aborts a waiting InListPassiveTarget. With
    MxRtyPassiveActivation at its default 0xFF, InListPassiveTarget waits for a card.
    """

    def __init__(self, link: Path, *, firmware: bytes = FIRMWARE) -> None:
        self.link = link
        self.firmware = firmware
        self._lock = threading.Lock()
        self._master = -1
        self._slave = -1
        self._buffer = bytearray()
        self._card: Card | None = None
        self._pending = False  # an InListPassiveTarget waits for a card
        self._last_answer = b""
        self._corrupt = 0
        self._corrupt_field = "dcs"
        self.muted = False  # powered off with the wires still in: reads and drops everything
        self.refused: set[int] = set()  # command codes answered with the error frame
        self.awake = False
        self.sam_mode: int | None = None
        self.max_retries_passive = 0xFF
        self.commands: collections.Counter[int] = collections.Counter()
        self.polls_answered = 0  # InListPassiveTarget answers sent
        self.nacks = 0
        self.aborts = 0
        self.rejected = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.plug_in()

    @property
    def port(self) -> str:
        return str(self.link)

    # -- the test's hands ------------------------------------------------------------------
    def start(self) -> Pn532Twin:
        self._thread = threading.Thread(target=self._run, name="pn532-twin", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.unplug()

    def place(self, uid: str | bytes, **card: int | bytes) -> None:
        """Hold a card in the field (until `remove`); `card`: sens_res, sel_res, ats."""
        raw = bytes.fromhex(uid) if isinstance(uid, str) else uid
        with self._lock:
            self._card = Card(raw, **card)  # type: ignore[arg-type]
            if self._pending:
                self._pending = False
                self._answer_list()

    def remove(self) -> None:
        with self._lock:
            self._card = None

    def inject(self, data: bytes) -> None:
        """Bytes on the line towards the host (noise, a stray frame)."""
        with self._lock:
            self._write(data)

    def corrupt_answers(self, count: int, *, field: str = "dcs") -> None:
        """The next `count` answer frames carry a wrong DCS (or LCS with field="lcs")."""
        with self._lock:
            self._corrupt = count
            self._corrupt_field = field

    def unplug(self) -> None:
        """The USB adapter pulled out: the pty and its link vanish; the chip loses power."""
        with self._lock:
            for fd in (self._master, self._slave):
                with contextlib.suppress(OSError):
                    if fd >= 0:
                        os.close(fd)
            self._master = self._slave = -1
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def plug_in(self) -> None:
        """A fresh pty behind the link and a chip just powered up (asleep, defaults)."""
        with self._lock:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            self.link.symlink_to(os.ttyname(self._slave))
            self._buffer.clear()
            self._pending = False
            self.awake = False
            self.sam_mode = None
            self.max_retries_passive = 0xFF

    # -- the chip --------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._master >= 0:
            with contextlib.suppress(OSError):
                os.write(self._master, data)

    def _run(self) -> None:
        while not self._stop.is_set():
            fd = self._master
            if fd < 0:
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                data = os.read(fd, 4096) if ready else b""
            except (OSError, ValueError):
                self._stop.wait(0.02)  # unplugged under our feet
                continue
            if data and not self.muted:
                with self._lock:
                    if fd == self._master:
                        self._receive(data)

    def _receive(self, data: bytes) -> None:
        self._buffer.extend(data)
        if not self.awake:
            at = self._buffer.find(0x55)
            if at < 0:
                self._buffer.clear()
                return
            self.awake = True
            del self._buffer[: at + 1]
        while True:
            start = self._buffer.find(b"\x00\xff")
            if start < 0 or len(self._buffer) < start + 4:
                return
            del self._buffer[:start]
            code = bytes(self._buffer[2:4])
            if code == b"\x00\xff":  # ACK from the host: abort the command in progress
                del self._buffer[:4]
                self.aborts += 1
                self._pending = False
                continue
            if code == b"\xff\x00":  # NACK: send the last answer again
                del self._buffer[:4]
                self.nacks += 1
                self._write(self._last_answer)
                continue
            length, lcs = self._buffer[2], self._buffer[3]
            if (length + lcs) & 0xFF or length == 0:
                self.rejected += 1
                del self._buffer[:2]
                continue
            if len(self._buffer) < 4 + length + 1:
                return
            body = bytes(self._buffer[4 : 4 + length])
            dcs = self._buffer[4 + length]
            del self._buffer[: 4 + length + 1]
            if (sum(body) + dcs) & 0xFF or body[0] != 0xD4 or len(body) < 2:
                self.rejected += 1
                continue
            self._command(body[1], body[2:])

    def _answer(self, body: bytes) -> None:
        self._last_answer = _frame(b"\xd5" + body)
        frame = bytearray(self._last_answer)
        if self._corrupt > 0:  # garbled on the wire: a NACK gets the clean frame
            self._corrupt -= 1
            frame[4 if self._corrupt_field == "lcs" else -2] ^= 0x5A
        self._write(bytes(frame))

    def _command(self, code: int, params: bytes) -> None:
        self.commands[code] += 1
        self._write(ACK)  # §6.2.2: the ACK comes first, then the answer
        if code in self.refused:
            self._write(ERROR_FRAME)
        elif code == 0x02:
            self._answer(b"\x03" + self.firmware)
        elif code == 0x14 and params:
            self.sam_mode = params[0]
            self._answer(b"\x15")
        elif code == 0x32 and params[:1] == b"\x05" and len(params) == 4:
            self.max_retries_passive = params[3]
            self._answer(b"\x33")
        elif code == 0x4A and len(params) >= 2 and params[0] in (1, 2) and params[1] == 0x00:
            if self._card is not None:
                self._answer_list()
            elif self.max_retries_passive == 0xFF:
                self._pending = True
            else:
                self.polls_answered += 1
                self._answer(b"\x4b\x00")
        else:
            self._write(ERROR_FRAME)

    def _answer_list(self) -> None:
        card = self._card
        assert card is not None
        target = (
            bytes([0x01, card.sens_res >> 8, card.sens_res & 0xFF, card.sel_res, len(card.uid)])
            + card.uid
            + card.ats
        )
        self.polls_answered += 1
        self._answer(b"\x4b\x01" + target)
