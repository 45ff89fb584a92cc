"""A minimal OCPP 1.6 central system on hostile_ws's plain sockets that can stop reading or
send raw bytes on command: for faults the `ocpp` package's server cannot produce."""

from __future__ import annotations

import contextlib
import json
import select
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.reliability.hostile_ws import PING, PONG, TEXT, HostileServer, Link

ACCEPTED = {"status": "Accepted"}


@dataclass(frozen=True, slots=True)
class Seen:
    """A CALL from the chargepoint: on which connection (1 = first), action, payload."""

    connection: int
    action: str
    payload: dict[str, Any]


class MiniCsms:
    """Answers every CALL at once with a valid 1.6 answer (§4); `wedge()` makes the current
    connection stop reading for good (its receive buffer is `rcvbuf` bytes, so the
    chargepoint's writes block soon), `send_raw()` writes bytes on it. Later connections
    are served normally."""

    def __init__(self, rcvbuf: int | None = 4096) -> None:
        self.server = HostileServer(self._serve, rcvbuf=rcvbuf)
        self.url = self.server.url.removesuffix("/ocpp")
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._links: list[Link] = []
        self._wedged: set[int] = set()
        self._tx = 0

    def __enter__(self) -> MiniCsms:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def connections(self) -> int:
        return self.server.connections

    def calls(self, action: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if action is None or s.action == action]

    def wedge(self, flood: int = 0) -> None:
        """Stop reading the current connection; then send `flood` GetConfiguration CALLs
        (each answer is a few KB that the chargepoint cannot get rid of)."""
        with self._lock:
            number = len(self._links)
            self._wedged.add(number)
            link = self._links[-1]
        for n in range(flood):
            frame = json.dumps([2, f"flood-{n}", "GetConfiguration", {}]).encode()
            link.send_frame(TEXT, frame)

    def send_raw(self, data: bytes) -> None:
        """Write `data` on the current connection (until the chargepoint hangs up)."""
        with self._lock:
            link = self._links[-1]
        with contextlib.suppress(OSError):
            link.conn.sendall(data)

    def _serve(self, link: Link) -> None:
        link.handshake()
        with self._lock:
            self._links.append(link)
            number = len(self._links)
        while not link.stopping.is_set():
            with self._lock:
                wedged = number in self._wedged
            if wedged:
                link.stopping.wait()  # never read again
                return
            if not select.select([link.conn], [], [], 0.1)[0]:
                continue  # look at the wedge flag again
            opcode, data = link.read_frame()
            with self._lock:
                if number in self._wedged:
                    continue  # read as the wedge began: dropped, never answered
            if opcode == PING:
                link.send_frame(PONG, data)
            elif opcode == TEXT:
                self._answer(link, number, json.loads(data))

    def _answer(self, link: Link, number: int, message: list[Any]) -> None:
        if message[0] != 2:
            return
        _, message_id, action, payload = message
        with self._lock:
            self._seen.append(Seen(number, action, payload))
            if action == "StartTransaction":
                self._tx += 1
            tx = self._tx
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        answer: dict[str, Any] = {}
        if action == "BootNotification":
            answer = {"currentTime": now, "interval": 300, "status": "Accepted"}
        elif action == "Heartbeat":
            answer = {"currentTime": now}
        elif action == "Authorize":
            answer = {"idTagInfo": ACCEPTED}
        elif action == "StartTransaction":
            answer = {"transactionId": tx, "idTagInfo": ACCEPTED}
        link.send_frame(TEXT, json.dumps([3, message_id, answer]).encode())
