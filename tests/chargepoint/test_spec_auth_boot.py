"""OCPP 1.6 edition 2 + errata v4: boot, trigger, authorization, reservation and smart-charging
details, each test citing the section it holds the charge point to (rig: two core Sessions)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.chargepoint import BOOT_RETRY_S
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import DeEnergiseRelay, EnergiseRelay, SetCurrentLimit
from cpagent.core import PropertyConstraintViolation
from hw.events import CardPresented, DeviceFaulted, PlugChanged

from .rig import WALL0, Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.store.close()


def online(rig: Rig) -> Rig:
    rig.connect()
    rig.clear()
    return rig


def boot_answer(rig: Rig, status: str, interval: int = 30) -> None:
    rig.script["BootNotification"] = lambda p: {
        "status": status,
        "interval": interval,
        "currentTime": rig.wall_text(),
    }


def charging(rig: Rig, tag: str = "CAFE01", energy_wh: float = 10_000.0) -> None:
    rig.meter(energy_wh)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", tag))


# -- §3.5.4 / §4.8 (errata 3.17), §9.1 StopTransactionOnInvalidId, MaxEnergyOnInvalidId ------
def test_invalid_id_with_stop_false_only_stops_energy_and_keeps_the_transaction(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "StopTransactionOnInvalidId", "value": "false"})
    rig.script["StartTransaction"] = lambda p: {
        "transactionId": 7,
        "idTagInfo": {"status": "Invalid"},
    }
    charging(rig)
    assert rig.commands[-1] == DeEnergiseRelay(1)
    assert rig.statuses(1)[-1] == "SuspendedEVSE"
    assert rig.sent("StopTransaction") == []  # the transaction stays open
    rig.cp.tick(rig.now)  # a later tick (smart charging re-evaluation) must not close it again
    rig.pump()
    assert rig.commands[-1] == DeEnergiseRelay(1)
    rig.event(CardPresented("1", "CAFE01"))  # the owner ends it normally
    assert rig.sent("StopTransaction")[0]["reason"] == "Local"


def test_max_energy_on_invalid_id_is_delivered_before_suspending(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "StopTransactionOnInvalidId", "value": "false"})
    rig.call("ChangeConfiguration", {"key": "MaxEnergyOnInvalidId", "value": "500"})
    rig.script["StartTransaction"] = lambda p: {
        "transactionId": 7,
        "idTagInfo": {"status": "Blocked"},
    }
    charging(rig, energy_wh=10_000.0)
    start = rig.sent("StartTransaction")[0]["meterStart"]
    assert rig.commands[-1] == EnergiseRelay(1) and rig.statuses(1)[-1] == "Charging"
    rig.advance(300.0)  # 500 Wh in 5 min is within the connector's power (meter plausibility)
    rig.meter(start + 499.0)
    assert DeEnergiseRelay(1) not in rig.commands
    rig.advance(1.0)
    rig.meter(start + 500.0)
    assert rig.commands[-1] == DeEnergiseRelay(1) and rig.statuses(1)[-1] == "SuspendedEVSE"
    assert rig.sent("StopTransaction") == []


def test_invalid_id_with_stop_true_stops_deauthorized(rig: Rig) -> None:
    online(rig)
    rig.script["StartTransaction"] = lambda p: {
        "transactionId": 7,
        "idTagInfo": {"status": "Invalid"},
    }
    charging(rig)
    assert rig.sent("StopTransaction")[0]["reason"] == "DeAuthorized"


# -- §4.2 BootNotification, §5.17 TriggerMessage, errata 3.35 -----------------------------------
def test_while_pending_a_triggered_message_is_sent_at_once_and_nothing_else(rig: Rig) -> None:
    boot_answer(rig, "Pending", 300)
    rig.connect()
    rig.event(CardPresented("1", "CAFE01"))  # not triggered: must wait for Accepted
    assert rig.actions() == ["BootNotification"]
    assert rig.call(
        "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
    ) == {"status": "Accepted"}
    assert rig.actions() == ["BootNotification", "StatusNotification"]
    assert rig.call("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    assert rig.actions() == ["BootNotification", "StatusNotification", "Heartbeat"]


def test_trigger_boot_while_pending_sends_it_before_the_interval(rig: Rig) -> None:
    boot_answer(rig, "Pending", 300)
    rig.connect()
    rig.advance(10)
    assert rig.call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {
        "status": "Accepted"
    }
    assert rig.actions() == ["BootNotification", "BootNotification"]


def test_trigger_boot_after_accepted_is_rejected(rig: Rig) -> None:
    online(rig)
    assert rig.call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {
        "status": "Rejected"
    }
    rig.advance(1)
    assert "BootNotification" not in rig.actions()


def test_boot_interval_zero_retries_after_a_default_delay(rig: Rig) -> None:
    boot_answer(rig, "Pending", 0)
    rig.connect()
    rig.advance(BOOT_RETRY_S - 1)
    assert rig.actions() == ["BootNotification"]
    rig.advance(1)
    assert rig.actions() == ["BootNotification", "BootNotification"]


def test_while_rejected_central_system_calls_are_not_answered(rig: Rig) -> None:
    boot_answer(rig, "Rejected", 300)
    rig.connect()
    rig.last_answer = None
    rig.csms.call("x1", "GetConfiguration", {}, rig.now)
    rig.pump()
    assert rig.last_answer is None


def test_remote_stop_is_rejected_while_pending(rig: Rig) -> None:
    online(rig)
    charging(rig)
    rig.disconnect()
    boot_answer(rig, "Pending", 300)
    rig.connect()
    assert rig.call("RemoteStopTransaction", {"transactionId": 100}) == {"status": "Rejected"}


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("Heartbeat", "Accepted"),  # connectorId is not relevant: ignored, still sent
        ("BootNotification", "Rejected"),  # Accepted already (errata 3.35)
        ("StatusNotification", "Rejected"),  # relevant and unknown
        ("MeterValues", "Rejected"),
    ],
)
def test_trigger_connector_id_rules(rig: Rig, message: str, status: str) -> None:
    """§5.17: "The requested message is leading: if the specified connectorId is not relevant
    to the message, it should be ignored"."""
    online(rig)
    assert rig.call("TriggerMessage", {"requestedMessage": message, "connectorId": 9}) == {
        "status": status
    }
    assert (message in rig.actions()) is (status == "Accepted")


def test_trigger_meter_values_before_any_reading_is_rejected_not_silently_dropped(
    rig: Rig,
) -> None:
    """§5.17: what is answered Accepted SHOULD be sent, so nothing to send is Rejected."""
    online(rig)
    assert rig.call("TriggerMessage", {"requestedMessage": "MeterValues"}) == {"status": "Rejected"}
    rig.meter(1_000.0)
    assert rig.call("TriggerMessage", {"requestedMessage": "MeterValues"}) == {"status": "Accepted"}
    assert len(rig.sent("MeterValues")) == 1


# -- §4.9 B6, errata 3.20 ConnectionTimeOut -----------------------------------------------------
def test_connection_timeout_with_the_cable_in_goes_to_finishing(rig: Rig) -> None:
    online(rig)
    rig.event(PlugChanged("1", True))
    rig.advance(60)
    assert rig.statuses(1) == ["Preparing", "Finishing"]
    rig.event(PlugChanged("1", False))
    assert rig.statuses(1)[-1] == "Available"  # F1


def test_a_timed_out_plugged_cable_is_not_started_by_the_next_card(tmp_path: Path) -> None:
    """Errata 3.20's case: two connectors, one reader; a cable left in after ConnectionTimeOut
    must not be started by another driver's card."""
    rig = Rig(tmp_path, connectors=(1, 2))
    rig.cp.charging.sources["reader"] = 0
    online(rig)
    rig.event(PlugChanged("1", True))
    rig.advance(60)
    assert rig.statuses(1)[-1] == "Finishing"
    rig.event(CardPresented("reader", "CAFE01"))
    assert rig.statuses(1)[-1] == "Finishing" and rig.statuses(2)[-1] == "Preparing"
    assert EnergiseRelay(1) not in rig.commands
    rig.store.close()


# -- §4.10, §3.10, §4.1: another card of the same group stops on the first tap ----------------
def test_a_card_of_the_same_parent_stops_on_the_first_tap(rig: Rig) -> None:
    online(rig)
    rig.script["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FAMILY"}
    }
    charging(rig, tag="CARD-A")
    rig.clear()
    rig.event(CardPresented("1", "CARD-B"))
    assert rig.actions()[0] == "Authorize"
    stop = rig.sent("StopTransaction")[0]
    assert (stop["idTag"], stop["reason"]) == ("CARD-B", "Local")


def test_parent_learnt_from_start_transaction_also_lets_the_group_stop(rig: Rig) -> None:
    online(rig)
    rig.script["StartTransaction"] = lambda p: {
        "transactionId": 5,
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"},
    }
    rig.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"})
    rig.call("RemoteStartTransaction", {"idTag": "APP", "connectorId": 1})
    rig.event(PlugChanged("1", True))
    rig.script["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}
    }
    rig.event(CardPresented("1", "DRIVER"))
    assert rig.sent("StopTransaction")[0]["idTag"] == "DRIVER"


def test_a_card_of_another_group_does_not_stop(rig: Rig) -> None:
    online(rig)
    rig.script["Authorize"] = lambda p: {
        "idTagInfo": {"status": "Accepted", "parentIdTag": p["idTag"] + "-G"}
    }
    charging(rig, tag="CARD-A")
    rig.event(CardPresented("1", "CARD-B"))
    assert rig.sent("StopTransaction") == []


# -- §3.5.3 local list before cache; §3.5.2 LocalListConflict ---------------------------------
def test_an_id_in_the_local_list_is_never_cached_and_a_conflict_is_reported(rig: Rig) -> None:
    online(rig)
    rig.call(
        "SendLocalList",
        {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}],
        },
    )
    rig.script["Authorize"] = lambda p: {"idTagInfo": {"status": "Blocked"}}
    rig.event(CardPresented("1", "LISTED"))
    assert rig.cp.charging.cache.get("LISTED") is None
    zero = [p for p in rig.sent("StatusNotification") if p["connectorId"] == 0]
    assert zero[-1]["errorCode"] == "LocalListConflict"


def test_get_local_list_version_is_minus_one_while_disabled(rig: Rig) -> None:
    online(rig)
    assert rig.call("GetLocalListVersion", {}) == {"listVersion": 0}
    rig.call("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
    assert rig.call("GetLocalListVersion", {}) == {"listVersion": -1}


# -- §5.13 ReserveNow: parentIdTag and the end of a reservation ------------------------------
def reserve(rig: Rig, **extra: Any) -> dict[str, Any]:
    payload = {
        "connectorId": 1,
        "expiryDate": to_wire(WALL0 + rig.now + 3600),
        "idTag": "OWNER",
        "reservationId": 3,
    } | extra
    return rig.answer("ReserveNow", payload)


def test_reservation_parent_is_learnt_by_authorize_before_refusing(rig: Rig) -> None:
    online(rig)
    assert reserve(rig, parentIdTag="TEAM") == {"status": "Accepted"}
    rig.script["Authorize"] = lambda p: {"idTagInfo": {"status": "Accepted", "parentIdTag": "TEAM"}}
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "MATE"))
    assert rig.actions().count("Authorize") == 1
    assert rig.sent("StartTransaction")[0]["reservationId"] == 3


def test_remote_start_for_a_group_member_may_use_the_groups_reservation(rig: Rig) -> None:
    """§5.13: charging on a reserved connector is refused "except when the incoming idTag or
    the parent idTag match"; the parent here is known from the local list."""
    online(rig)
    rig.call(
        "SendLocalList",
        {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "MATE", "idTagInfo": {"status": "Accepted", "parentIdTag": "TEAM"}}
            ],
        },
    )
    reserve(rig, parentIdTag="TEAM")
    assert rig.call("RemoteStartTransaction", {"idTag": "MATE", "connectorId": 1}) == {
        "status": "Accepted"
    }
    assert rig.call("RemoteStartTransaction", {"idTag": "STRANGER", "connectorId": 1}) == {
        "status": "Rejected"
    }


@pytest.mark.parametrize("how", ["ChangeAvailability", "fault"])
def test_reservation_ends_when_the_connector_goes_unavailable_or_faulted(
    rig: Rig, how: str
) -> None:
    online(rig)
    reserve(rig)
    if how == "fault":
        rig.event(DeviceFaulted("1", "PowerSwitchFailure", "stuck"))
    else:
        rig.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert list(rig.cp.charging.reservations) == []
    assert rig.call("CancelReservation", {"reservationId": 3}) == {"status": "Rejected"}


# -- §5.16 SetChargingProfile (errata 3.39), §5.7 GetCompositeSchedule (errata 3.57) ----------
def test_set_charging_profile_on_an_unknown_connector_is_a_callerror(rig: Rig) -> None:
    online(rig)
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}],
        },
    }
    answer = rig.call("SetChargingProfile", {"connectorId": 5, "csChargingProfiles": profile})
    assert isinstance(answer, PropertyConstraintViolation)


def test_two_transactions_share_the_charge_point_maximum(tmp_path: Path) -> None:
    """§3.13.3: the ChargePointMaxProfile limits the connectors' combined flow."""
    rig = Rig(tmp_path, connectors=(1, 2))
    online(rig)
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": to_wire(WALL0 + rig.now - 60),
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 20}],
        },
    }
    rig.answer("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile})
    for c in ("1", "2"):
        rig.event(PlugChanged(c, True))
        rig.event(CardPresented(c, f"CARD{c}"))
        if c == "1":
            assert rig.commands[-2:] == [SetCurrentLimit(1, 20.0), EnergiseRelay(1)]
    assert SetCurrentLimit(1, 10.0) in rig.commands and SetCurrentLimit(2, 10.0) in rig.commands
    composite = rig.answer("GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert composite["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10.0
    rig.event(CardPresented("2", "CARD2"))  # connector 2 stops: connector 1 gets it all again
    assert rig.commands[-1] == SetCurrentLimit(1, 20.0)
    rig.store.close()


def test_a_negative_stack_level_is_a_callerror(rig: Rig) -> None:
    """§7.8 stackLevel "integer >= 0"; errata 3.38/3.39 answer bad values with a CALLERROR."""
    online(rig)
    profile = {
        "chargingProfileId": 1,
        "stackLevel": -1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}],
        },
    }
    answer = rig.call("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
    assert isinstance(answer, PropertyConstraintViolation)


def test_composite_schedule_has_scheduleStart_but_no_startSchedule(rig: Rig) -> None:
    online(rig)
    answer = rig.answer("GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert answer["scheduleStart"] == rig.wall_text()
    assert "startSchedule" not in answer["chargingSchedule"]


# -- operators see it at INFO (boot result, every card's result, idTag masked) ---------------
def test_boot_and_authorize_results_are_logged_at_info(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cpagent")
    boot_answer(rig, "Pending", 30)
    rig.connect()
    boot_answer(rig, "Accepted", 300)
    rig.advance(30)
    rig.script["Authorize"] = lambda p: {"idTagInfo": {"status": "Blocked"}}
    rig.event(CardPresented("1", "04A1B2C3D4"))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("BootNotification Pending (interval 30)" in m for m in lines)
    assert any("BootNotification Accepted" in m for m in lines)
    assert any("****C3D4: Blocked (from central system)" in m for m in lines)
    assert not any("04A1B2C3D4" in m for m in lines)


def test_a_card_refused_locally_is_logged_with_its_source(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cpagent")
    online(rig)
    rig.call(
        "SendLocalList",
        {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "GONE1234", "idTagInfo": {"status": "Blocked"}}],
        },
    )
    rig.disconnect()
    rig.event(CardPresented("1", "GONE1234"))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("****1234: Blocked (from local list)" in m for m in lines)


def test_an_unknown_card_refused_offline_is_not_silent(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cpagent")
    online(rig)
    rig.disconnect()
    rig.event(CardPresented("1", "NEWCARD9"))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("idTag ****ARD9: refused offline" in m for m in lines)
