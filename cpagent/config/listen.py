"""`[web] listen`: a `host:port` parsed, and whether only this machine can reach it.

Kept in the config package (stdlib only, no HTTP code) so that `check-config` and the daemon
check `[web]` without importing the web server: the daemon imports `cpagent.web` only when
the page is configured (its idle memory matters on a Pi).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


class ListenError(ValueError):
    """A `listen` value that cannot be used; the message says why and what to write."""


@dataclass(frozen=True, slots=True)
class Listen:
    """A parsed `host:port` and whether only this machine can reach it."""

    host: str
    port: int
    loopback: bool

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """`host:port` (or `[v6]:port`) as a Listen; raises ListenError naming the problem."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ListenError(f"{text!r}: expected host:port, e.g. 127.0.0.1:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:8080")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ListenError(f"{text!r}: port must be 0-65535")
    if not host:
        raise ListenError(
            f"{text!r}: give an address, e.g. 127.0.0.1:{port} "
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


def exposure_problem(listen: Listen, password: str | None) -> str | None:
    """Why the page may not listen there without a password, or None when it may."""
    if listen.loopback or password:
        return None
    return (
        f"{listen} is reachable from the network: set [web] password "
        "(asked for by every page except /metrics), or listen on 127.0.0.1 to keep the "
        "page on this machine"
    )
