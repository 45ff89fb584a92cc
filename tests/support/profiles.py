"""Charging profiles the tests send (OCPP 1.6 §7.8 ChargingProfile)."""

from __future__ import annotations

from typing import Any


def tx_profile(
    limit: float, transaction_id: int | None = None, *, profile_id: int = 3
) -> dict[str, Any]:
    """A TxProfile of `limit` A from the start of the transaction (Relative)."""
    profile: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return profile
