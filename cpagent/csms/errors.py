"""Why a central-system command did not get a CALLRESULT."""

from __future__ import annotations

from typing import Any


class CsmsError(Exception):
    """Base class of everything `CentralSystem.call` raises."""


class NotConnected(CsmsError):
    """The addressed chargepoint has no open connection."""

    def __init__(self, cp_id: str) -> None:
        super().__init__(f"chargepoint {cp_id!r} is not connected")
        self.cp_id = cp_id


class CallErrorReceived(CsmsError):
    """The chargepoint answered with a CALLERROR (OCPP-J 1.6 §4.2.3)."""

    def __init__(self, code: str, description: str, details: Any) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details


class CallTimedOut(CsmsError):
    """No answer arrived in time (or the link dropped before it did)."""


class BadCall(CsmsError):
    """The command itself is unusable: its payload fails the action's 1.6 schema."""
