"""The HTTP side of the page: request limits, slow clients, and what an idle page loads."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from email.utils import formatdate

from cpagent.web.exchange import MAX_HEAD, http_date
from tests.web.fakes import serving


def _raw(address: tuple[str, int], data: bytes) -> bytes:
    """Send `data` on a fresh connection and read the whole answer (the server closes)."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_request_head_over_the_limit_is_431_and_the_page_still_serves() -> None:
    with serving() as web:
        padding = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        big = b"GET / HTTP/1.1\r\nHost: x\r\n" + padding * (MAX_HEAD // len(padding) + 2)
        answer = _raw(web.address, big + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"request head too large" in answer
        again = _raw(web.address, b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
        assert again.startswith(b"HTTP/1.1 200 ") and b"CP-TEST-1" in again


def test_a_malformed_request_line_is_400() -> None:
    with serving() as web:
        answer = _raw(web.address, b"GET\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ") and b"malformed request" in answer
        assert b"content-security-policy: default-src 'none'" in answer.lower()


def test_a_refused_method_carries_the_security_headers_too() -> None:
    with serving() as web:
        answer = _raw(web.address, b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n").lower()
    assert answer.startswith(b"http/1.1 405 ") and b"allow: get, head" in answer
    assert b"x-frame-options: deny" in answer and b"cache-control: no-store" in answer


def test_an_http_1_0_client_is_answered_and_the_connection_closed() -> None:
    with serving() as web:
        answer = _raw(web.address, b"GET /metrics HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"connection: close" in head.lower() and b"date: " in head.lower()
    assert b"cpagent_" in body


def test_a_client_that_trickles_its_request_is_dropped_at_the_deadline() -> None:
    """One handler, timeout 0.5 s: a client sending one header byte every 0.1 s never stalls
    a single read for 0.5 s, yet it is cut off once its head has taken longer than 0.5 s in
    total, and the next browser is served."""
    with serving(max_threads=1, timeout_s=0.5) as web:
        with socket.create_connection(web.address, timeout=5) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
            give_up = time.monotonic() + 10
            closed = False
            while not closed and time.monotonic() < give_up:
                try:
                    slow.sendall(b"a")
                except OSError:  # reset by the server: dropped
                    closed = True
                    break
                slow.settimeout(0.1)  # the trickle's pace; also how long we look for the close
                try:
                    closed = slow.recv(100) == b""
                except TimeoutError:
                    pass
                except OSError:
                    closed = True
            assert closed, "the trickling client still held the handler after 10 s"
        again = _raw(web.address, b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
        assert again.startswith(b"HTTP/1.1 200 ")


def test_http_date_is_the_imf_fixdate_form() -> None:
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    for when in (951782400, 1796083200 + 86399, 4102444799):  # 29 Feb 2000, 2026, 2099
        assert http_date(when) == formatdate(when, usegmt=True)  # the stdlib's IMF-fixdate


PROBE = r"""
import json, sys
from cpagent.web import WebServer
web = WebServer("127.0.0.1:0", lambda: {"connectors": []}, lambda *a: (0, []))
web.start()
heavy = ("http.server", "email", "socketserver", "h11", "cpagent.web.exchange",
         "cpagent.web.routes", "cpagent.web.pages", "cpagent.web.plot", "cpagent.web.metrics",
         "html.entities")
idle = [name for name in heavy if name in sys.modules]
import urllib.request  # loads email.*: only after the check
for route in ("", "sessions", "metrics"):
    urllib.request.urlopen(web.url + route, timeout=10).read()
served = [name for name in heavy if name in sys.modules]
web.stop()
print(json.dumps({"idle": idle, "served": served}))
"""


def test_an_idle_page_loads_no_http_server_and_no_renderers_until_asked() -> None:
    """The page's memory cost while nobody looks at it: the listener, nothing else
    (urllib.request in the probe itself loads email.*, so it is imported after the check)."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = json.loads(out)
    assert loaded["idle"] == []
    assert {"h11", "cpagent.web.routes", "cpagent.web.metrics"} <= set(loaded["served"])
    assert "html.entities" not in loaded["served"]  # the page escapes without the html package
