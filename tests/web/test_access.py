"""Who may read the page: loopback is open; beyond loopback a password guards all but /metrics."""

from __future__ import annotations

import base64
import http.client
import socket
import urllib.error
import urllib.request

import pytest

from cpagent.web import WebConfigError, WebServer
from cpagent.web.access import authorised, parse_listen
from tests.web.fakes import FakeHistory, serving, status

ROUTES = ("/", "/sessions", "/api/status", "/api/sessions")


def _get(url: str, password: str | None = None, user: str = "admin") -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if password is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:8080", "[::]:8080", "192.168.1.20:80", "charger.local:8080"]
)
def test_beyond_loopback_without_a_password_is_refused_with_what_to_set(listen: str) -> None:
    with pytest.raises(WebConfigError, match=r"\[web\] password"):
        WebServer(listen, status, FakeHistory([]))


@pytest.mark.parametrize(
    "listen", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2:9000"]
)
def test_loopback_needs_no_password(listen: str) -> None:
    WebServer(listen, status, FakeHistory([]))  # no exception


@pytest.mark.parametrize(
    ("listen", "why"),
    [
        ("8080", "host:port"),
        ("127.0.0.1", "host:port"),
        ("127.0.0.1:http", "host:port"),
        ("::1:8080", "brackets"),
        (":8080", "give an address"),
        ("127.0.0.1:70000", "0-65535"),
    ],
)
def test_a_bad_listen_value_says_what_is_wrong(listen: str, why: str) -> None:
    with pytest.raises(WebConfigError, match=why):
        parse_listen(listen)


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        web = WebServer(f"127.0.0.1:{port}", status, FakeHistory([]))
        with pytest.raises(WebConfigError, match="cannot listen there"):
            web.start()


def test_with_a_password_every_page_but_metrics_asks_for_it() -> None:
    with serving(password="s3cret-pass") as web:
        base = web.url.rstrip("/")
        for route in ROUTES:
            code, body = _get(base + route)
            assert code == 401, route
            assert b"CP-TEST-1" not in body and b"password required" in body
            assert _get(base + route, "wrong")[0] == 401, route
            assert _get(base + route, "s3cret-pass")[0] == 200, route
        assert _get(base + "/metrics")[0] == 200


def test_the_401_asks_the_browser_for_basic_credentials() -> None:
    with serving(password="s3cret-pass") as web:
        host, port = web.address
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/")
        reply = conn.getresponse()
        assert reply.status == 401
        assert reply.getheader("WWW-Authenticate", "").startswith('Basic realm="cpagent"')
        conn.close()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer s3cret",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b"u:s3cret").decode(),
        "Basic " + base64.b64encode(b"u:s3cret-pass-longer").decode(),
    ],
)
def test_authorised_accepts_only_the_exact_password(header: str | None) -> None:
    assert not authorised(header, "s3cret-pass")


def test_authorised_accepts_any_user_and_a_colon_in_the_password() -> None:
    assert authorised("Basic " + base64.b64encode(b"x:pa:ss").decode(), "pa:ss")
    assert authorised("basic " + base64.b64encode("ü:pässwört".encode()).decode(), "pässwört")


def test_the_page_is_read_only() -> None:
    with serving() as web:
        host, port = web.address
        for method in ("POST", "PUT", "DELETE"):
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request(method, "/api/status", body=b"{}")
            reply = conn.getresponse()
            assert reply.status == 405, method
            assert reply.getheader("Allow") == "GET, HEAD"
            conn.close()


def test_a_failing_status_source_is_503_not_a_crash() -> None:
    def broken() -> dict[str, object]:
        raise TimeoutError("owner thread did not answer in 2 s")

    with serving(status=broken) as web:
        code, body = _get(web.url)
        assert code == 503
        assert b"did not answer" in body
        assert _get(web.url + "sessions")[0] == 200  # the other source still works


def test_a_failing_history_is_503_saying_so_and_the_live_view_still_works() -> None:
    def broken(*_: object) -> tuple[int, list[dict[str, object]]]:
        raise OSError("unable to open database file")

    with serving(sessions=broken) as web:
        for route in ("sessions", "api/sessions"):
            code, body = _get(web.url + route)
            assert code == 503, route
            assert body == b"the session history cannot be read: unable to open database file\n"
        assert _get(web.url)[0] == 200


def test_an_answer_of_an_unexpected_shape_is_a_500_in_the_log_not_a_dropped_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with serving(status=lambda: status(connectors=5)) as web:
        code, body = _get(web.url)
        assert (code, body) == (500, b"internal error; see the daemon's log\n")
        assert _get(web.url + "sessions")[0] == 200
    assert any(r.levelname == "ERROR" and "web: / failed" in r.getMessage() for r in caplog.records)


def test_a_stalled_client_cannot_hold_the_page_hostage() -> None:
    """One handler thread, a client that connects and sends nothing: it is dropped after
    timeout_s and the next browser is served (no timing assert: the read just completes)."""
    with serving(max_threads=1, timeout_s=0.5) as web:
        host, port = web.address
        with socket.create_connection((host, port), timeout=5) as stalled:
            code, body = _get(web.url + "api/status")
            assert code == 200 and b"CP-TEST-1" in body
            assert stalled.recv(100) == b""  # the server closed the stalled connection


def test_stop_ends_the_listener_and_frees_the_port() -> None:
    with serving() as web:
        host, port = web.address
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((host, port))  # would raise EADDRINUSE if the listener were still open
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2).close()


def test_a_refused_status_answer_is_503_with_its_reason() -> None:
    refused = {"ok": False, "error": "daemon did not answer in time (busy or stopping)"}
    with serving(status=lambda: refused) as web:
        code, body = _get(web.url)
        assert code == 503 and b"busy or stopping" in body
        assert _get(web.url + "api/status")[0] == 503


def test_serves_on_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.fail("this machine has no IPv6 stack; the ::1 listener cannot be checked")
    with serving(listen="[::1]:0") as web:
        assert web.url.startswith("http://[::1]:")
        code, body = _get(web.url + "api/status")
    assert code == 200 and b"CP-TEST-1" in body


def test_head_gives_the_headers_without_a_body() -> None:
    with serving() as web:
        host, port = web.address
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("HEAD", "/sessions")
        reply = conn.getresponse()
        assert reply.status == 200
        assert int(reply.getheader("Content-Length", "0")) > 1000
        assert reply.read() == b""
        assert "default-src 'none'" in reply.getheader("Content-Security-Policy", "")
        conn.close()
