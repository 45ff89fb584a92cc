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

from cpagent.config import listen
from cpagent.config.listen import Listen

OPEN_PATHS = frozenset({"/metrics"})
REALM = "cpagent"


class WebConfigError(ValueError):
    """The web page's settings cannot work as given (the message says why and what to set)."""


def parse_listen(text: str) -> Listen:
    """`host:port` (or `[v6]:port`) as a Listen; raises WebConfigError naming the problem."""
    try:
        return listen.parse_listen(text)
    except listen.ListenError as exc:
        raise WebConfigError(f"web listen {exc}") from None


def check_exposure(where: Listen, password: str | None) -> None:
    """Refuse to put the page beyond loopback without a password."""
    problem = listen.exposure_problem(where, password)
    if problem is not None:
        raise WebConfigError(f"web listen {problem}")


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
