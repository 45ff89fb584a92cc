"""Where the page listens and who may read it: loopback is open, anything wider needs a password.

Theory of operation: `listen` is `host:port` (`[::1]:8080` for IPv6). On a loopback address
only programs on the charger itself can connect, so no password is needed. Any other
address (a LAN address, `0.0.0.0`, `::`, a host name) puts the page on the network: then a
password is required, and every route but `/metrics` asks for it with HTTP Basic
(RFC 7617). `/metrics` stays open so a Prometheus server can scrape without a secret in
its config; it shows no card ids. The password is compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass

OPEN_PATHS = frozenset({"/metrics"})
REALM = "cpagent"


class WebConfigError(ValueError):
    """The web page's settings cannot work as given (the message says why and what to set)."""


@dataclass(frozen=True, slots=True)
class Listen:
    """A parsed `host:port` and whether only this machine can reach it."""

    host: str
    port: int
    loopback: bool


def parse_listen(text: str) -> Listen:
    """`host:port` (or `[v6]:port`) as a Listen; raises WebConfigError naming the problem."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise WebConfigError(f"web listen {text!r}: expected host:port, e.g. 127.0.0.1:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise WebConfigError(
            f"web listen {text!r}: write an IPv6 address in brackets, e.g. [::1]:8080"
        )
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise WebConfigError(f"web listen {text!r}: port must be 0-65535")
    if not host:
        raise WebConfigError(
            f"web listen {text!r}: give an address, e.g. 127.0.0.1:{port} "
            f"(this machine only) or 0.0.0.0:{port} (all interfaces)"
        )
    return Listen(host, port, _is_loopback(host))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve to anything: treat it as the network


def check_exposure(listen: Listen, password: str | None) -> None:
    """Refuse to put the page beyond loopback without a password."""
    if not listen.loopback and not password:
        raise WebConfigError(
            f"web listen {listen.host}:{listen.port} is reachable from the network: set "
            "[web] password (asked for by every page except /metrics), or listen on "
            "127.0.0.1 to keep the page on this machine"
        )


def needs_password(path: str, password: str | None) -> bool:
    """True when a request for `path` must carry the password."""
    return bool(password) and path not in OPEN_PATHS


def authorised(header: str | None, password: str) -> bool:
    """True when an `Authorization: Basic ...` header carries `password` (any user name)."""
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    _, sep, given = decoded.partition(b":")
    if not sep:
        return False
    return hmac.compare_digest(given, password.encode("utf-8"))
