"""A failed WebSocket link says why in a form the daemon can act on: cause, HTTP status, retry."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import websocket as wsc

from cpagent.daemon.link_status import hint
from cpagent.transports.backoff import BackoffPolicy
from cpagent.transports.events import LinkCause, TransportDown, TransportUp
from cpagent.transports.websocket import WebSocketTransport
from cpagent.transports.ws_socket import connect_cause
from tests.support.central_system import CentralSystem
from tests.support.certs import Pki, make_pki
from tests.support.recorder import EventRecorder

FAST = BackoffPolicy(initial_s=0.01, max_s=0.05, stable_after_s=1.0, auth_failure_s=60.0)


class _NotHere(BaseHTTPRequestHandler):
    """A web server with no WebSocket endpoint at the path: every GET is 404 (RFC 6455 §4.1:
    any status but 101 fails the handshake)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def not_found_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _NotHere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.server_address[1]}/wrong/path"
    server.shutdown()
    server.server_close()


@pytest.fixture
def transports() -> Iterator[list[WebSocketTransport]]:
    made: list[WebSocketTransport] = []
    yield made
    for transport in made:
        transport.stop(2.0)


def _start(made: list[WebSocketTransport], url: str, post: Any, **kwargs: Any) -> None:
    transport = WebSocketTransport(url, "CP001", post, backoff=FAST, ping_interval_s=0, **kwargs)
    made.append(transport)
    transport.start()


def test_a_404_says_check_the_path(
    not_found_server: str, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    _start(transports, not_found_server, recorder.post)
    down = recorder.wait_for(TransportDown)
    assert (down.cause, down.http_status) == (LinkCause.HTTP, 404)
    assert down.retry_in_s is not None and 0 <= down.retry_in_s <= FAST.max_s
    assert "path in [csms] url" in hint(down)


def test_a_wrong_password_says_check_id_and_password(
    recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    with CentralSystem(passwords={"CP001": "s3cret-pass"}) as cs:
        _start(transports, cs.url, recorder.post, security_profile=1, password="wrong-pass")
        down = recorder.wait_for(TransportDown)
    assert (down.cause, down.http_status) == (LinkCause.AUTH, 401)
    assert down.retry_in_s is not None and down.retry_in_s >= 30.0  # the long auth backoff
    assert "id and [csms] password" in hint(down)


def test_no_subprotocol_says_the_server_does_not_speak_ocpp16_there(
    recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    def select(_offered: Sequence[str]) -> str | None:
        return None  # RFC 6455 §4.2.2: the server omits Sec-WebSocket-Protocol

    with CentralSystem(select_subprotocol=select) as cs:
        _start(transports, cs.url, recorder.post)
        down = recorder.wait_for(TransportDown)
    assert down.cause is LinkCause.SUBPROTOCOL
    assert "doesn't speak ocpp1.6 at that URL" in hint(down)


def test_nothing_listening_says_so(
    recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    cs = CentralSystem()  # never started: connection refused
    try:
        _start(transports, cs.url, recorder.post)
        down = recorder.wait_for(TransportDown)
    finally:
        cs.close()
    assert down.cause is LinkCause.REFUSED
    assert "nothing listens" in hint(down)


def test_an_unknown_ca_says_set_ca_file(
    pki: Pki, tmp_path: Path, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    stranger = make_pki(other)
    with CentralSystem(ssl_context=pki.server_context(), passwords={"CP001": "pw"}) as cs:
        _start(
            transports,
            cs.url,
            recorder.post,
            security_profile=2,
            password="pw",
            ca_file=stranger.ca_file,
        )
        down = recorder.wait_for(TransportDown)
    assert down.cause is LinkCause.TLS
    assert "set [csms] ca_file" in hint(down)


def test_a_link_the_central_system_closes_reports_closed_and_the_retry(
    recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    with CentralSystem() as cs:
        _start(transports, cs.url, recorder.post)
        recorder.wait_for(TransportUp)
        cs.stop()
        down = recorder.wait_for(TransportDown)
    assert down.cause is LinkCause.CLOSED and "code 1001" in down.reason
    assert down.retry_in_s is not None
    assert hint(down) == ""  # nothing to do: it reconnects by itself


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (ConnectionRefusedError(111, "Connection refused"), LinkCause.REFUSED),
        (socket.gaierror(-2, "Name or service not known"), LinkCause.DNS),
        (wsc.WebSocketAddressException("bad"), LinkCause.DNS),
        (wsc.WebSocketException("Host not found.: nowhere:80"), LinkCause.DNS),
        (TimeoutError("timed out"), LinkCause.TIMEOUT),
        (wsc.WebSocketTimeoutException("timed out"), LinkCause.TIMEOUT),
        (OSError(113, "No route to host"), LinkCause.NETWORK),
        (ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"), LinkCause.TLS),
        (wsc.WebSocketException("Invalid header"), LinkCause.OTHER),
    ],
)
def test_socket_errors_are_classified(error: BaseException, cause: LinkCause) -> None:
    assert connect_cause(error) is cause


def test_a_refused_client_certificate_says_check_cert_file(
    pki: Pki, tmp_path: Path, recorder: EventRecorder, transports: list[WebSocketTransport]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    stranger = make_pki(other)  # a client certificate signed by a CA the server does not know
    with CentralSystem(ssl_context=pki.server_context(require_client_cert=True)) as cs:
        _start(
            transports,
            cs.url,
            recorder.post,
            security_profile=3,
            ca_file=pki.ca_file,
            cert_file=stranger.client_cert_file,
            key_file=stranger.client_key_file,
        )
        down = recorder.wait_for(TransportDown)
    assert down.cause is LinkCause.TLS, down
    assert "client certificate" in hint(down), down
