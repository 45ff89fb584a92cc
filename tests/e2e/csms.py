"""A strict central system: the shared one, recording every frame that fails the 1.6 schemas."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.exceptions import InternalError, OCPPError
from ocpp.exceptions import NotImplementedError as NotImplementedError_
from ocpp.messages import Call, MessageType, validate_payload
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import ServerConnection

from tests.support.central_system import CentralSystem, RecordingChargePoint
from tests.support.net import wait_until

OCPP_VERSION = "1.6"  # the `ocpp` package's name for the schemas it validates against


@dataclass(frozen=True, slots=True)
class Violation:
    """A CALL from the chargepoint that the `ocpp` package refused (schema, action, type)."""

    chargepoint_id: str
    text: str
    error: str


@dataclass(frozen=True, slots=True)
class Frame:
    """One OCPP-J frame the central system received, decoded."""

    type_id: int
    unique_id: str
    action: str | None  # CALLs only
    payload: Any


class StrictChargePoint(RecordingChargePoint):
    """Records every CALL the `ocpp` package refuses before answering it with a CALLERROR."""

    def __init__(
        self, cp_id: str, connection: ServerConnection, central: StrictCentralSystem
    ) -> None:
        super().__init__(cp_id, connection, central)
        self._strict = central

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=self._strict.now(),
            interval=self._strict.heartbeat_interval,
            status=RegistrationStatus(self._strict.boot_status),
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self._strict.now())

    async def screen(self, message: Call) -> OCPPError | None:
        if self._strict.take_failure(message.action):
            return InternalError(description="central system told to fail this CALL")
        try:  # what the package refuses (it answers with its own CALLERROR after this)
            if message.action not in self.route_map:
                raise NotImplementedError_(details={"cause": f"no handler for {message.action}"})
            await validate_payload(message, OCPP_VERSION)
        except OCPPError as error:  # validation (schema, occurrence, type) or unknown action
            self._strict.note_violation(Violation(self.id, message.to_json(), repr(error)))
        return None


class StrictCentralSystem(CentralSystem):
    """`tests.support.CentralSystem` whose schema validation failures are kept in `violations`.

    The `ocpp` package validates every CALL the chargepoint sends and every CALLRESULT it
    returns against the official OCPP 1.6 JSON schemas; a refused CALL is answered with a
    CALLERROR and recorded here (the e2e fixture fails the test on any), a refused
    CALLRESULT makes `call()` raise in the test.
    """

    chargepoint_class = StrictChargePoint

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._violations_lock = threading.Lock()
        self._violations: list[Violation] = []
        self._failures: dict[str, int] = {}
        self.clock_offset_s = 0.0  # the central system's clock minus this machine's

    @property
    def violations(self) -> list[Violation]:
        with self._violations_lock:
            return list(self._violations)

    def note_violation(self, violation: Violation) -> None:
        with self._violations_lock:
            self._violations.append(violation)

    def now(self) -> str:
        """`currentTime` for BootNotification.conf and Heartbeat.conf."""
        return (datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)).isoformat()

    def fail_next(self, action: str, times: int) -> None:
        """Answer the next `times` CALLs of `action` with a CALLERROR InternalError."""
        with self._violations_lock:
            self._failures[action] = times

    def take_failure(self, action: str) -> bool:
        with self._violations_lock:
            left = self._failures.get(action, 0)
            if left:
                self._failures[action] = left - 1
            return left > 0

    # -- decoded views of what arrived -----------------------------------------------------
    def decoded(self, chargepoint_id: str | None = None) -> list[Frame]:
        out = []
        for text in self.frames(chargepoint_id):
            message = json.loads(text)
            if message[0] == MessageType.Call:
                out.append(Frame(message[0], message[1], message[2], message[3]))
            else:
                out.append(Frame(message[0], message[1], None, message[2:]))
        return out

    def calls(self, action: str, chargepoint_id: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the CALLs of one action received, in order."""
        return [f.payload for f in self.decoded(chargepoint_id) if f.action == action]

    def wait_call(
        self, action: str, predicate: Any = lambda _p: True, timeout: float = 10.0, count: int = 1
    ) -> dict[str, Any]:
        """Wait until `count` CALLs of `action` matching `predicate` arrived; the last one."""

        def matching() -> list[dict[str, Any]]:
            return [p for p in self.calls(action) if predicate(p)]

        wait_until(
            lambda: len(matching()) >= count,
            timeout,
            f"{count} x {action} (got {self.actions()[-12:]})",
        )
        return matching()[count - 1]

    def statuses(self, connector_id: int) -> list[str]:
        """Statuses reported for one connector, in order."""
        return [
            p["status"]
            for p in self.calls("StatusNotification")
            if p["connectorId"] == connector_id
        ]

    def wait_status(self, connector_id: int, status: str, timeout: float = 10.0) -> None:
        wait_until(
            lambda: self.statuses(connector_id)[-1:] == [status],
            timeout,
            f"connector {connector_id} reported {status} (reports: {self.statuses(connector_id)})",
        )
