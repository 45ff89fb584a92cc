"""A public-`ocpp` v16 chargepoint on its own asyncio loop in a thread, for driving the CSMS."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RemoteStartStopStatus
from websockets.asyncio.client import ClientConnection, connect

T = TypeVar("T")
STEP_TIMEOUT_S = 10.0


class BenchChargepoint(ChargePoint):  # type: ignore[misc]
    """Accepts remote start/stop and remembers what the central system asked."""

    def __init__(self, cp_id: str, connection: ClientConnection) -> None:
        super().__init__(cp_id, connection, response_timeout=STEP_TIMEOUT_S)
        self.remote_starts: list[dict[str, Any]] = []

    @on(Action.remote_start_transaction)  # type: ignore[misc]
    def on_remote_start(self, id_tag: str, **kwargs: Any) -> Any:
        self.remote_starts.append({"id_tag": id_tag, **kwargs})
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.remote_stop_transaction)  # type: ignore[misc]
    def on_remote_stop(self, transaction_id: int) -> Any:
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected)


class OcppChargepointThread:
    """Runs a BenchChargepoint connected to `url` in a thread; blocking helpers for tests."""

    def __init__(
        self,
        url: str,
        cp_id: str,
        subprotocols: list[str] | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.url = f"{url.rstrip('/')}/{cp_id}"
        if basic_auth is not None:  # websockets sends userinfo as HTTP Basic credentials
            self.url = self.url.replace("ws://", f"ws://{basic_auth[0]}:{basic_auth[1]}@", 1)
        self.cp_id = cp_id
        self._subprotocols = ["ocpp1.6"] if subprotocols is None else subprotocols
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"ocpp-{cp_id}")
        self._connection: ClientConnection | None = None
        self._serve: asyncio.Future[Any] | None = None
        self.chargepoint: BenchChargepoint | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> BenchChargepoint:
        """Connect (raises what `websockets` raises when refused) and start serving CALLs."""
        self._thread.start()
        try:
            self.run(self._connect())
        except BaseException:
            self.stop()
            raise
        assert self.chargepoint is not None
        return self.chargepoint

    async def _connect(self) -> None:
        offered: Any = self._subprotocols or None
        self._connection = await connect(self.url, subprotocols=offered, open_timeout=5)
        self.chargepoint = BenchChargepoint(self.cp_id, self._connection)
        self._serve = asyncio.ensure_future(self.chargepoint.start())

    @property
    def local_address(self) -> str:
        """`host:port` of our end, as the central system sees it as remote address."""
        assert self._connection is not None
        host, port = self._connection.local_address[:2]
        return f"{host}:{port}"

    def call(self, request: Any) -> Any:
        assert self.chargepoint is not None
        return self.run(self.chargepoint.call(request, suppress=False))

    def wait_closed(self) -> None:
        """Return once the central system has closed our connection (fails after a while)."""
        assert self._connection is not None
        self.run(self._connection.wait_closed())

    def stop(self) -> None:
        """Close the link, stop the loop and join the thread; idempotent."""
        if self._thread.is_alive():
            self.run(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STEP_TIMEOUT_S)
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()

    async def _close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        if self._serve is not None:
            self._serve.cancel()
            await asyncio.gather(self._serve, return_exceptions=True)
