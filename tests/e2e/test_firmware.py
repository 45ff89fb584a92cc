"""Firmware Management through the daemon: not offered until the daemon runs a FirmwareWorker.

`cpagent.chargepoint` implements the profile (opt-in) and `cpagent.firmware.FirmwareWorker`
runs its jobs, but `cpagent/daemon/ocpp_app.py` does not wire them yet (no config keys for
the install command and diagnostics paths). These tests pin what a central system sees
today, so wiring it turns them red and they get replaced by real upload/download tests.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call

from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon

Shared = tuple[Daemon, StrictCentralSystem]
NOW = datetime.now(UTC).isoformat()


@pytest.mark.parametrize("request_payload", [
    call.GetDiagnostics(location="ftp://127.0.0.1:1/diag"),
    call.UpdateFirmware(location="http://127.0.0.1:1/fw.bin", retrieve_date=NOW),
], ids=["GetDiagnostics", "UpdateFirmware"])
def test_firmware_requests_are_not_supported(shared: Shared, request_payload: object) -> None:
    _, csms = shared
    with pytest.raises(NotSupportedError):
        csms.call(CHARGEPOINT_ID, request_payload, suppress=False)


def test_firmware_management_is_not_among_the_supported_profiles(shared: Shared) -> None:
    _, csms = shared
    result = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=["SupportedFeatureProfiles"]))
    assert "FirmwareManagement" not in result.configuration_key[0]["value"].split(",")
