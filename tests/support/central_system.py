"""An independent OCPP 1.6 central system (public `ocpp` package + `websockets`) for tests."""

from __future__ import annotations

import asyncio
import base64
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, make_dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, unpack
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, DataTransferStatus, RegistrationStatus
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from tests.support.net import free_port, wait_until


@dataclass(frozen=True, slots=True)
class Received:
    """One text frame the central system received from a chargepoint."""

    chargepoint_id: str
    text: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _ObservedConnection:
    """The connection the `ocpp` package reads and writes (its documented `recv()`/`send()`
    contract), telling the chargepoint view of every frame written."""

    def __init__(self, link: ServerConnection, sent: Callable[[str], None]) -> None:
        self._link, self._sent = link, sent

    async def recv(self) -> str | bytes:
        return await self._link.recv()

    async def send(self, text: str) -> None:
        await self._link.send(text)  # raises ConnectionClosed when the peer is gone
        self._sent(text)


class RecordingChargePoint(ChargePoint):  # type: ignore[misc]
    """The central system's view of one chargepoint: answers CALLs, records every frame.

    Subclasses change behaviour through public hooks only: `@on` handlers (the `ocpp`
    package's routing), `before_call` (await something before a CALL is handled, e.g. a
    gate), `screen` (an OCPPError to answer a CALL with instead of handling it; it may also
    just look), and `sent` (every frame written, after the write succeeded)."""

    def __init__(self, cp_id: str, connection: ServerConnection, central: CentralSystem) -> None:
        super().__init__(cp_id, _ObservedConnection(connection, self.sent), response_timeout=10)
        self.link = connection
        self.central = central

    async def route_message(self, raw_msg: str) -> None:
        self.central.record(Received(self.id, raw_msg))
        try:
            message = unpack(raw_msg)
        except OCPPError:
            message = None  # the package logs and drops it
        if isinstance(message, Call):
            await self.before_call(message)
            refusal = await self.screen(message)
            if refusal is not None:
                text = message.create_call_error(refusal).to_json()
                await self.link.send(text)
                self.sent(text)
                return
        await super().route_message(raw_msg)

    async def before_call(self, message: Call) -> None:
        """Runs before each CALL from the chargepoint is handled; may wait."""

    async def screen(self, message: Call) -> OCPPError | None:
        """An error to answer the CALL with instead of handling it, or None to handle it."""
        return None

    def sent(self, text: str) -> None:
        """Called with every frame written to the chargepoint."""

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=_now(),
            interval=self.central.heartbeat_interval,
            status=RegistrationStatus(self.central.boot_status),
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": self.central.authorize(id_tag)})

    @on(Action.start_transaction)
    def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        self.central.last_transaction_id += 1
        return call_result.StartTransaction(
            transaction_id=self.central.last_transaction_id,
            id_tag_info={"status": self.central.authorize(id_tag)},
        )

    @on(Action.stop_transaction)
    def on_stop(self, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.accepted)

    @on(Action.diagnostics_status_notification)
    def on_diagnostics(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware(self, **_: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()


class CentralSystem:
    """An OCPP 1.6 central system on 127.0.0.1 in a background thread with its own loop.

    `passwords` (chargepoint id -> password) turns on HTTP Basic auth checking (profiles 1-2);
    `ssl_context` serves wss. `select_subprotocol(offered) -> chosen | None` overrides the
    negotiation, to play a server that picks none or another. Stoppable and restartable on
    the same port; every received frame is kept in `received`.
    """

    # What serves each connection; subclasses swap in a RecordingChargePoint of their own.
    chargepoint_class: type[RecordingChargePoint] = RecordingChargePoint

    def __init__(
        self,
        *,
        port: int | None = None,
        subprotocols: Sequence[str] = ("ocpp1.6",),
        select_subprotocol: Callable[[Sequence[str]], str | None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        passwords: Mapping[str, str] | None = None,
        boot_status: str = "Accepted",
        heartbeat_interval: int = 60,
        valid_id_tags: Sequence[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.boot_status = boot_status
        self.heartbeat_interval = heartbeat_interval
        self.last_transaction_id = 0
        self._subprotocols = [Subprotocol(name) for name in subprotocols]
        self._select = select_subprotocol
        self._ssl = ssl_context
        self._passwords = dict(passwords) if passwords is not None else None
        self._valid_id_tags = None if valid_id_tags is None else set(valid_id_tags)
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.handshakes = 0
        self.auth_failures = 0
        self._chargepoints: dict[str, RecordingChargePoint] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="central-system", daemon=True
        )
        self._thread.start()
        self._server: Server | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base url; a chargepoint connects to url + '/' + its id."""
        scheme = "wss" if self._ssl else "ws"
        host = "localhost" if self._ssl else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> CentralSystem:
        """Start serving (again) on the same port."""
        self._server = self._run(self._start())
        return self

    def stop(self) -> None:
        """Close the listener and every connection (close code 1001)."""
        if self._server is not None:
            self._run(self._stop(self._server))
            self._server = None

    def close(self) -> None:
        """Stop and end the background thread; the object cannot be restarted after."""
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> CentralSystem:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- observing and driving -------------------------------------------------------

    @property
    def connected_ids(self) -> list[str]:
        with self._lock:
            return list(self._chargepoints)

    def frames(self, chargepoint_id: str | None = None) -> list[str]:
        """Texts received, optionally from one chargepoint only."""
        with self._lock:
            return [
                r.text
                for r in self.received
                if chargepoint_id is None or r.chargepoint_id == chargepoint_id
            ]

    def actions(self, chargepoint_id: str | None = None) -> list[str]:
        """Actions of the CALLs received, in order."""
        import json

        out = []
        for text in self.frames(chargepoint_id):
            message = json.loads(text)
            if isinstance(message, list) and message and message[0] == 2:
                out.append(message[2])
        return out

    def wait_connected(self, chargepoint_id: str, timeout: float = 5.0) -> None:
        wait_until(
            lambda: chargepoint_id in self.connected_ids, timeout, f"{chargepoint_id} to connect"
        )

    def call(
        self, chargepoint_id: str, payload: Any, timeout: float = 10.0, suppress: bool = False
    ) -> Any:
        """Send a CALL (an `ocpp.v16.call.*` payload) to a connected chargepoint; its result."""
        with self._lock:
            cp = self._chargepoints[chargepoint_id]
        future = asyncio.run_coroutine_threadsafe(cp.call(payload, suppress=suppress), self._loop)
        return future.result(timeout)

    def call_unchecked(
        self, chargepoint_id: str, action: str, payload: dict[str, Any], timeout: float = 10.0
    ) -> Any:
        """Send a CALL of any action and payload, skipping the `ocpp` package's own schema
        checks (to see how the chargepoint answers bad requests); raises on a CALLERROR."""
        kind = make_dataclass(action, [(key, Any) for key in payload])
        with self._lock:
            cp = self._chargepoints[chargepoint_id]
        future = asyncio.run_coroutine_threadsafe(
            cp.call(kind(**payload), suppress=False, skip_schema_validation=True), self._loop
        )
        return future.result(timeout)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the central system's event loop thread (e.g. to set an
        asyncio.Event a handler awaits)."""
        self._loop.call_soon_threadsafe(callback)

    @property
    def is_serving(self) -> bool:
        """Started and not stopped since."""
        return self._server is not None

    def set_valid_id_tags(self, id_tags: set[str] | None) -> None:
        """Tags answered Accepted by Authorize and StartTransaction (None: every tag)."""
        with self._lock:
            self._valid_id_tags = None if id_tags is None else set(id_tags)

    def authorize(self, id_tag: str) -> AuthorizationStatus:
        if self._valid_id_tags is None or id_tag in self._valid_id_tags:
            return AuthorizationStatus.accepted
        return AuthorizationStatus.invalid

    def record(self, received: Received) -> None:
        """Keep a received frame (the chargepoint view calls it for every frame)."""
        with self._lock:
            self.received.append(received)

    # -- internals -------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> Server:
        kwargs: dict[str, Any] = {}
        if self._select is not None:
            select = self._select
            kwargs["select_subprotocol"] = lambda _conn, offered: select(list(offered))
        return await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=self._subprotocols,
            ssl=self._ssl,
            process_request=self._check_request,
            ping_interval=None,
            **kwargs,
        )

    async def _stop(self, server: Server) -> None:
        server.close(close_connections=True)
        await server.wait_closed()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        with self._lock:
            self.handshakes += 1
        if self._passwords is None:
            return None
        cp_id = request.path.strip("/")
        expected = f"{cp_id}:{self._passwords.get(cp_id)}".encode()
        header = request.headers.get("Authorization", "")
        if cp_id in self._passwords and header == "Basic " + base64.b64encode(expected).decode():
            return None
        with self._lock:
            self.auth_failures += 1
        response = connection.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
        return response

    async def _handle(self, connection: ServerConnection) -> None:
        cp_id = connection.request.path.strip("/") if connection.request else ""
        cp = self.chargepoint_class(cp_id, connection, self)
        with self._lock:
            self._chargepoints[cp_id] = cp
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._chargepoints.get(cp_id) is cp:
                    del self._chargepoints[cp_id]
