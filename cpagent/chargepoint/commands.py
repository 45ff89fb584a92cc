"""Commands the chargepoint hands to the hardware layer (the daemon applies them in order)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EnergiseRelay:
    """Close connector `connector_id`'s contactor (only when authorized and plugged)."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class DeEnergiseRelay:
    """Open connector `connector_id`'s contactor."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class SetCurrentLimit:
    """Offer at most `amps` per phase on the connector (None: no limit); a CurrentLimiter."""

    connector_id: int
    amps: float | None


@dataclass(frozen=True, slots=True)
class RestartRequested:
    """Reset.req was accepted and every transaction is stopped: restart the daemon.

    `kind` is the OCPP ResetType, "Hard" or "Soft" (§5.14)."""

    kind: str


Command = EnergiseRelay | DeEnergiseRelay | SetCurrentLimit | RestartRequested
