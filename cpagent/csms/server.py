"""The bench central system: a WebSocket server for chargepoints plus a thread-safe Python API."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from http import HTTPStatus
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.frames import CloseCode
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from cpagent.csms.handlers import CentralHandlers, HandlerSettings
from cpagent.csms.owner import (
    CentralOwner,
    FrameIn,
    FrameObserver,
    LinkClosed,
    LinkOpened,
    Query,
    SendCall,
    Stop,
    next_link_id,
    resolve,
)
from cpagent.csms.state import CsmsState, JsonObject

SUBPROTOCOL = "ocpp1.6"
DEFAULT_PORT = 9000
DEFAULT_CALL_TIMEOUT_S = 30.0
REALM = "cpagent bench CSMS"


def chargepoint_id(path: str) -> str:
    """The chargepoint identity: the last segment of the URL path (OCPP-J 1.6 §3.1.1)."""
    return unquote(path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])


class CentralSystem:
    """A small OCPP 1.6 central system for benches and tests; not a production CSMS.

    Chargepoints connect to `ws://host:port/<chargepoint id>` offering subprotocol
    `ocpp1.6`. `call()` and `snapshot()` are safe from any thread but the owner thread
    (i.e. not from inside `observer`, which runs on it).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        settings: HandlerSettings | None = None,
        password: str | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
        observer: FrameObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._host, self._port, self._password = host, port, password
        self._call_timeout = call_timeout
        state = CsmsState()
        handlers = CentralHandlers(state, settings or HandlerSettings())
        self._owner = CentralOwner(
            handlers, state, clock=clock, wall=wall, call_timeout=call_timeout, observer=observer
        )
        self._owner_thread = threading.Thread(target=self._owner.run, name="csms-owner")
        self._server: Server | None = None
        self._accept_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("central system not started")
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL chargepoints append their id to."""
        return f"ws://{self._host}:{self.port}"

    def start(self) -> None:
        """Bind the port and start the owner and accept threads; raises OSError if taken."""
        self._server = serve(
            self._serve_connection,
            self._host,
            self._port,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            process_request=self._check_request,
        )
        self._owner_thread.start()
        self._accept_thread = threading.Thread(
            target=self._server.serve_forever, name="csms-accept"
        )
        self._accept_thread.start()

    def stop(self) -> None:
        """Close every connection, then stop the threads; pending calls fail. Idempotent."""
        if self._server is not None:
            self._server.shutdown()
        if self._accept_thread is not None:
            self._accept_thread.join()
        if self._owner_thread.is_alive():
            self._owner.inbox.put(Stop())
            self._owner_thread.join()

    def __enter__(self) -> CentralSystem:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(
        self, cp_id: str, action: str, payload: JsonObject, timeout: float | None = None
    ) -> JsonObject:
        """Send a central-system CALL and return the CALLRESULT payload.

        Raises NotConnected, CallErrorReceived (the chargepoint's CALLERROR), BadCall
        (payload invalid against the action's 1.6 schema; never sent) or CallTimedOut.
        An action the core has no schema for is sent as is (vendor or newer actions).
        """
        self._require_not_owner()
        future: Future[JsonObject] = Future()
        self._owner.inbox.put(SendCall(cp_id, action, dict(payload), future))
        wait_s = self._call_timeout if timeout is None else timeout
        result: JsonObject = resolve(future, wait_s + 1.0)
        return result

    def snapshot(self, cp_id: str | None = None, frame_limit: int = 50) -> JsonObject:
        """A JSON-ready copy of what the CSMS saw (see `CsmsState.to_json`)."""
        self._require_not_owner()
        future: Future[JsonObject] = Future()
        self._owner.inbox.put(Query(cp_id, frame_limit, future))
        view: JsonObject = resolve(future, 10.0)
        return view

    def wait_for(self, predicate: Callable[[JsonObject], bool], timeout: float) -> bool:
        """Wait until `predicate(snapshot())` holds; False if it still fails at `timeout`."""
        deadline = time.monotonic() + timeout
        changed = self._owner.changed
        while True:
            with changed:
                seen = self._owner.generation
            if predicate(self.snapshot(frame_limit=1000)):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with changed:
                if self._owner.generation == seen:
                    changed.wait(remaining)

    def _require_not_owner(self) -> None:
        if threading.current_thread() is self._owner_thread:
            raise RuntimeError("call()/snapshot() from the owner thread would deadlock")
        if not self._owner_thread.is_alive():
            raise RuntimeError("central system not running: start() it first")

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a URL without a chargepoint id and, with a password, bad Basic auth."""
        cp_id = chargepoint_id(request.path)
        if not cp_id:
            return connection.respond(HTTPStatus.NOT_FOUND, "URL must end in /<chargepoint id>\n")
        if self._password is None:
            return None
        # OCPP 1.6 Security Whitepaper, profile 1: user is the chargepoint id.
        if not self._credentials_ok(cp_id, request.headers):
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid credentials\n")
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic(REALM)
            return response
        return None

    def _credentials_ok(self, cp_id: str, headers: Headers) -> bool:
        assert self._password is not None
        try:
            user, password = parse_authorization_basic(headers["Authorization"])
        except (KeyError, InvalidHeader):
            return False
        same_password = hmac.compare_digest(password.encode(), self._password.encode())
        return user == cp_id and same_password

    def _serve_connection(self, connection: ServerConnection) -> None:
        """Connection thread: post the link, then every text frame, then its end."""
        link_id = next_link_id()
        remote = connection.remote_address
        self._owner.inbox.put(
            LinkOpened(
                link_id,
                chargepoint_id(connection.request.path if connection.request else ""),
                connection.subprotocol or SUBPROTOCOL,
                None if remote is None else f"{remote[0]}:{remote[1]}",
                connection,
            )
        )
        reason = "closed"
        try:
            for message in connection:
                if not isinstance(message, str):
                    # OCPP-J 1.6 §4.1.2: messages are JSON in text frames.
                    connection.close(CloseCode.UNSUPPORTED_DATA, "OCPP-J uses text frames")
                    reason = "binary frame"
                    break
                self._owner.inbox.put(FrameIn(link_id, message))
        except ConnectionClosed as exc:
            reason = str(exc)
        finally:
            self._owner.inbox.put(LinkClosed(link_id, reason))
