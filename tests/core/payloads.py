"""Valid sample payloads per OCPP version, shared by the core tests."""

from __future__ import annotations

from typing import Any

VERSIONS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")

_BOOT_2 = {"reason": "PowerUp", "chargingStation": {"model": "test-1", "vendorName": "cpagent"}}
BOOT_REQUEST: dict[str, dict[str, Any]] = {
    "ocpp1.6": {"chargePointVendor": "cpagent", "chargePointModel": "test-1"},
    "ocpp2.0.1": _BOOT_2,
    "ocpp2.1": _BOOT_2,
}
BOOT_RESPONSE: dict[str, Any] = {
    "status": "Accepted",
    "currentTime": "2026-11-30T00:00:00Z",
    "interval": 300,
}
HEARTBEAT_RESPONSE: dict[str, Any] = {"currentTime": "2026-11-30T00:00:00Z"}

# Wire spelling of the generic "syntax" and "cardinality" errors per version.
FORMAT_CODE = {
    "ocpp1.6": "FormationViolation",
    "ocpp2.0.1": "FormatViolation",
    "ocpp2.1": "FormatViolation",
}
RPC_CODE = {
    "ocpp1.6": "FormationViolation",
    "ocpp2.0.1": "RpcFrameworkError",
    "ocpp2.1": "RpcFrameworkError",
}
OCCURRENCE_CODE = {
    "ocpp1.6": "OccurenceConstraintViolation",
    "ocpp2.0.1": "OccurrenceConstraintViolation",
    "ocpp2.1": "OccurrenceConstraintViolation",
}
