"""Loopback HTTP control channel: lets `cpagent csms call` reach a running bench CSMS.

Wire format (JSON bodies, UTF-8), served on 127.0.0.1 only:
- `POST /call` `{"chargepoint": "CP001", "action": "Reset", "payload": {...}, "timeout": 30}`
  -> 200 `{"ok": true, "payload": {...}}` for a CALLRESULT,
     200 `{"ok": false, "errorCode": ..., "errorDescription": ..., "errorDetails": ...}`
         for a CALLERROR, 404 not connected, 400 bad request, 504 timed out
         (these three as `{"ok": false, "error": "..."}`).
- `GET /state` and `GET /state/<chargepoint id>` -> 200 state JSON (404 unknown id);
  `?frames=N` sets how many of the latest frames it includes (default 50).
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote

from cpagent.csms.errors import BadCall, CallErrorReceived, CallTimedOut, NotConnected
from cpagent.csms.state import JsonObject

DEFAULT_CONTROL_PORT = 9001
LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 1_000_000


class CentralApi(Protocol):
    """What the control channel needs from the central system."""

    def call(
        self, cp_id: str, action: str, payload: JsonObject, timeout: float = 30.0
    ) -> JsonObject: ...

    def snapshot(self, cp_id: str | None = None, frame_limit: int = 50) -> JsonObject: ...


class ControlServer:
    """The HTTP control channel on loopback; its own threads, one per request."""

    def __init__(self, central: CentralApi, port: int = DEFAULT_CONTROL_PORT) -> None:
        handler = type("BoundControlHandler", (_ControlHandler,), {"central": central})
        self._http = ThreadingHTTPServer((LOOPBACK, port), handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="csms-control", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket; idempotent."""
        if self._thread.is_alive():
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()


class _ControlHandler(BaseHTTPRequestHandler):
    central: CentralApi
    server_version = "cpagent-csms-control"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the prompt owns the terminal."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        frames = parse_qs(query).get("frames", ["50"])[-1]
        if not parts or parts[0] != "state" or len(parts) > 2:
            self._reply(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such path {self.path}"})
            return
        if not frames.isdigit():
            self._reply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": "frames must be a number"})
            return
        cp_id = parts[1] if len(parts) == 2 else None
        view = self.central.snapshot(cp_id, int(frames))
        if cp_id is not None and not view["chargepoints"]:
            self._reply(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"unknown {cp_id!r}"})
            return
        self._reply(HTTPStatus.OK, view)

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/call":
            self._reply(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such path {self.path}"})
            return
        try:
            request = _parse_call_request(self._body())
        except ValueError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"ok": False, "error": str(exc)})
            return
        status, answer = _run_call(self.central, request)
        self._reply(status, answer)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("request body too large")
        return self.rfile.read(length)

    def _reply(self, status: HTTPStatus, body: JsonObject) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One command for a chargepoint, as the control channel carries it."""

    chargepoint: str
    action: str
    payload: JsonObject
    timeout: float = 30.0


def _parse_call_request(body: bytes) -> CallRequest:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    cp_id, action, payload = data.get("chargepoint"), data.get("action"), data.get("payload", {})
    timeout = data.get("timeout", 30.0)
    if not isinstance(cp_id, str) or not cp_id:
        raise ValueError("'chargepoint' must be a non-empty string")
    if not isinstance(action, str) or not action:
        raise ValueError("'action' must be a non-empty string")
    if not isinstance(payload, dict):
        raise ValueError("'payload' must be a JSON object")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError("'timeout' must be a positive number of seconds")
    return CallRequest(cp_id, action, payload, float(timeout))


def _run_call(central: CentralApi, request: CallRequest) -> tuple[HTTPStatus, JsonObject]:
    try:
        payload = central.call(
            request.chargepoint, request.action, request.payload, request.timeout
        )
    except CallErrorReceived as exc:
        return HTTPStatus.OK, {
            "ok": False,
            "errorCode": exc.code,
            "errorDescription": exc.description,
            "errorDetails": exc.details,
        }
    except NotConnected as exc:
        return HTTPStatus.NOT_FOUND, {"ok": False, "error": str(exc)}
    except BadCall as exc:
        return HTTPStatus.BAD_REQUEST, {"ok": False, "error": str(exc)}
    except CallTimedOut as exc:
        return HTTPStatus.GATEWAY_TIMEOUT, {"ok": False, "error": str(exc) or "timed out"}
    return HTTPStatus.OK, {"ok": True, "payload": payload}


class ControlUnreachable(Exception):
    """No bench CSMS answers on the control port."""


def _request(port: int, method: str, path: str, body: JsonObject | None, timeout: float) -> Any:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {} if data is None else {"Content-Type": "application/json"}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return json.loads(response.read().decode("utf-8"))
    except (OSError, http.client.HTTPException) as exc:
        raise ControlUnreachable(f"no bench CSMS on {LOOPBACK}:{port} ({exc})") from None
    finally:
        connection.close()


def remote_call(
    port: int, cp_id: str, action: str, payload: JsonObject, timeout: float = 30.0
) -> JsonObject:
    """Ask the CSMS listening on control `port` to send a CALL; returns the answer JSON."""
    body = {"chargepoint": cp_id, "action": action, "payload": payload, "timeout": timeout}
    answer: JsonObject = _request(port, "POST", "/call", body, timeout + 5.0)
    return answer


def remote_state(
    port: int, cp_id: str | None = None, timeout: float = 10.0, frames: int = 50
) -> JsonObject:
    """The running CSMS's state JSON, whole or for one chargepoint, with the last `frames`."""
    path = "/state" if cp_id is None else f"/state/{quote(cp_id, safe='')}"
    path += f"?frames={frames}"
    answer: JsonObject = _request(port, "GET", path, None, timeout)
    return answer
