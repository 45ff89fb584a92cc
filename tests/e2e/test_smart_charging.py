"""Smart Charging end to end: a 0 A limit suspends with the relay open, a higher one resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import call

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon

Shared = tuple[Daemon, StrictCentralSystem]


def _profile(
    limit: float,
    *,
    profile_id: int = 1,
    purpose: str = "TxDefaultProfile",
    stack_level: int = 0,
    transaction_id: int | None = None,
) -> dict[str, Any]:
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    profile: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": start,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return profile


def _set(csms: StrictCentralSystem, connector_id: int, profile: dict[str, Any]) -> str:
    status: str = csms.call(
        CHARGEPOINT_ID,
        call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile),
    ).status
    return status


def test_limits_suspend_and_resume_charging(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-S")
    daemon.wait_connector(lambda c: c["relay"] is True, what="charging")
    csms.wait_status(1, "Charging")

    assert _set(csms, 1, _profile(0.0)) == "Accepted"
    connector = daemon.wait_connector(lambda c: c["relay"] is False, what="relay opened by 0 A")
    assert connector["limit_a"] == 0.0 and connector["transaction"] is not None
    csms.wait_status(1, "SuspendedEVSE")

    assert _set(csms, 1, _profile(10.0)) == "Accepted"  # same id: replaces the 0 A profile
    daemon.wait_connector(
        lambda c: c["relay"] is True and c["limit_a"] == 10.0, what="relay closed again at 10 A"
    )
    csms.wait_status(1, "Charging")
    # the simulated EV obeys the offered limit: 10 A x 230 V
    daemon.wait_connector(
        lambda c: c["meter"] and 0 < c["meter"]["power_w"] <= 2300.0, what="power limited to 2300 W"
    )

    schedule = csms.call(
        CHARGEPOINT_ID,
        call.GetCompositeSchedule(connector_id=1, duration=600, charging_rate_unit="A"),
    )
    assert schedule.status == "Accepted" and schedule.connector_id == 1
    periods = schedule.charging_schedule["charging_schedule_period"]
    assert periods[0]["start_period"] == 0 and float(periods[0]["limit"]) == 10.0

    answer = csms.call(CHARGEPOINT_ID, call.ClearChargingProfile(id=1))
    assert answer.status == "Accepted"
    daemon.wait_connector(lambda c: c["limit_a"] in (None, 16.0), what="limit lifted")
    assert daemon.connector()["relay"] is True
    assert csms.call(CHARGEPOINT_ID, call.ClearChargingProfile(id=1)).status == "Unknown"
    assert len(csms.calls("StartTransaction")) == 1  # suspension did not end the transaction


@pytest.mark.parametrize(
    ("connector_id", "profile"),
    [
        (1, _profile(6.0, purpose="TxProfile", transaction_id=99)),  # no such transaction
        (1, _profile(6.0, purpose="ChargePointMaxProfile")),  # only on connector 0
    ],
)
def test_set_charging_profile_rejections(
    shared: Shared, connector_id: int, profile: dict[str, Any]
) -> None:
    _, csms = shared
    assert _set(csms, connector_id, profile) == "Rejected"


def test_set_charging_profile_on_a_missing_connector_is_a_callerror(shared: Shared) -> None:
    """Errata 3.39 (§5.16): an invalid connectorId is CALLERROR PropertyConstraintViolation."""
    _, csms = shared
    with pytest.raises(PropertyConstraintViolationError):
        _set(csms, 7, _profile(6.0))


def test_get_composite_schedule_without_profiles(shared: Shared) -> None:
    _, csms = shared
    schedule = csms.call(CHARGEPOINT_ID, call.GetCompositeSchedule(connector_id=1, duration=60))
    assert schedule.status == "Accepted"
    assert float(schedule.charging_schedule["charging_schedule_period"][0]["limit"]) == 16.0
    watts = csms.call(
        CHARGEPOINT_ID,
        call.GetCompositeSchedule(connector_id=1, duration=60, charging_rate_unit="W"),
    )
    assert watts.charging_schedule["charging_rate_unit"] == "W"
    assert float(watts.charging_schedule["charging_schedule_period"][0]["limit"]) == 16 * 230
    rejected = csms.call(CHARGEPOINT_ID, call.GetCompositeSchedule(connector_id=9, duration=60))
    assert rejected.status == "Rejected"


def test_a_remote_start_with_a_tx_profile_charges_at_its_limit(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    answer = csms.call(
        CHARGEPOINT_ID,
        call.RemoteStartTransaction(
            id_tag="REMOTE-P", connector_id=1, charging_profile=_profile(6.0, purpose="TxProfile")
        ),
    )
    assert answer.status == "Accepted"
    daemon.do("plug", connector=1)
    csms.wait_call("StartTransaction")
    daemon.wait_connector(
        lambda c: c["relay"] is True and c["limit_a"] == 6.0, what="charging at 6 A"
    )
    # the transactionId is known once StartTransaction.conf has been processed
    daemon.wait_connector(lambda c: c["transaction"]["id"] == 1, what="transactionId 1")
    daemon.wait_connector(
        lambda c: c["meter"] and 0 < c["meter"]["power_w"] <= 6.0 * 230,
        what="power limited to 1380 W",
    )
    # the TxProfile belongs to that transaction: it goes when the transaction ends (§3.13.3)
    answer = csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=1))
    assert answer.status == "Accepted"
    daemon.wait_connector(lambda c: c["transaction"] is None, what="stopped")
    cleared = csms.call(
        CHARGEPOINT_ID, call.ClearChargingProfile(charging_profile_purpose="TxProfile")
    )
    assert cleared.status == "Unknown"


def test_the_charge_point_maximum_caps_the_default_profile(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    assert _set(csms, 1, _profile(10.0, profile_id=1)) == "Accepted"
    assert _set(csms, 0, _profile(6.0, profile_id=2, purpose="ChargePointMaxProfile")) == (
        "Accepted"
    )
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-S")
    daemon.wait_connector(
        lambda c: c["relay"] is True and c["limit_a"] == 6.0,
        what="charging at min(10 A default, 6 A maximum)",
    )
    # a higher stack level of the same purpose wins over the lower one (§3.13.2)
    assert _set(csms, 1, _profile(0.0, profile_id=3, stack_level=1)) == "Accepted"
    daemon.wait_connector(
        lambda c: c["relay"] is False and c["limit_a"] == 0.0,
        what="suspended by the stack level 1 profile",
    )
    csms.wait_status(1, "SuspendedEVSE")
    assert csms.call(CHARGEPOINT_ID, call.ClearChargingProfile(stack_level=1)).status == (
        "Accepted"
    )
    daemon.wait_connector(lambda c: c["relay"] is True and c["limit_a"] == 6.0, what="back to 6 A")
    csms.wait_status(1, "Charging")
