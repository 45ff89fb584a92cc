"""WebSocket link settings: subprotocol names, security profiles, and the checks on them."""

from __future__ import annotations

from enum import IntEnum

SUBPROTOCOLS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
"""Subprotocol names we may offer (OCPP-J 1.6 §3.1.2, OCPP 2.0.1 Part 4 §3.1.2)."""


class SecurityProfile(IntEnum):
    """OCPP 1.6 Security Whitepaper §2 / OCPP 2.0.1 Part 2 A00.FR: how the link is secured."""

    UNSECURED = 0  # ws://, no authentication
    BASIC_AUTH = 1  # ws://, HTTP Basic auth
    TLS_BASIC_AUTH = 2  # wss://, server certificate verified, HTTP Basic auth
    TLS_CLIENT_CERT = 3  # wss://, server and client certificates


def check_settings(
    url: str,
    profile: SecurityProfile,
    subprotocol: str,
    password: str | None,
    cert_file: str | None,
    key_file: str | None,
) -> None:
    """Refuse settings that cannot work (bad local use raises, DESIGN)."""
    if subprotocol not in SUBPROTOCOLS:
        raise ValueError(f"subprotocol must be one of {SUBPROTOCOLS}, got {subprotocol!r}")
    secure = url.startswith("wss://")
    if not secure and not url.startswith("ws://"):
        raise ValueError(f"url must start with ws:// or wss://, got {url!r}")
    if profile >= SecurityProfile.TLS_BASIC_AUTH and not secure:
        raise ValueError(f"security profile {int(profile)} needs a wss:// url")
    if profile <= SecurityProfile.BASIC_AUTH and secure:
        raise ValueError(f"security profile {int(profile)} needs a ws:// url (use 2 or 3 for wss)")
    if profile in (SecurityProfile.BASIC_AUTH, SecurityProfile.TLS_BASIC_AUTH) and not password:
        raise ValueError(f"security profile {int(profile)} needs a password")
    if profile == SecurityProfile.TLS_CLIENT_CERT and not (cert_file and key_file):
        raise ValueError("security profile 3 needs cert_file and key_file")
