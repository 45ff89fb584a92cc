"""OCPP-J protocol versions, named by their negotiated WebSocket subprotocol."""

from __future__ import annotations

from enum import StrEnum

from cpagent.core.errors import UnsupportedVersion


class Version(StrEnum):
    """The subprotocol agreed in the WebSocket handshake (OCPP-J 1.6 §3.1.2, 2.0.1 §3.1.2)."""

    OCPP16 = "ocpp1.6"
    OCPP201 = "ocpp2.0.1"
    OCPP21 = "ocpp2.1"


def parse_version(text: str | Version) -> Version:
    """Return the Version for a subprotocol string; raise UnsupportedVersion for anything else."""
    try:
        return Version(text)
    except ValueError:
        supported = ", ".join(v.value for v in Version)
        raise UnsupportedVersion(
            f"unsupported OCPP version {text!r}; expected one of: {supported}"
        ) from None
