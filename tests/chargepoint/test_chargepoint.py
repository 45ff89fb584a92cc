"""ChargePoint end to end against a scripted central system (two core Sessions, no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.clock import from_wire, to_wire
from cpagent.chargepoint.commands import (
    DeEnergiseRelay,
    EnergiseRelay,
    RestartRequested,
    SetCurrentLimit,
)
from cpagent.core import GenericError, NotSupported, OcppError
from hw.events import CardPresented, DeviceFaulted, DeviceRecovered, PlugChanged
from tests.support.profiles import tx_profile

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


def test_boot_first_then_status_of_every_connector(rig: Rig) -> None:
    assert rig.commands == [DeEnergiseRelay(1)]  # relays open at start
    rig.connect()
    assert rig.actions()[0] == "BootNotification"
    assert rig.sent("BootNotification")[0]["chargePointModel"] == "test-rig"
    assert sorted(p["connectorId"] for p in rig.sent("StatusNotification")) == [0, 1]
    assert rig.statuses(1) == ["Available"]


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
def test_not_accepted_boot_is_retried_at_the_interval_and_nothing_else_goes(
    rig: Rig, status: str
) -> None:
    rig.script["BootNotification"] = lambda p: {
        "status": status,
        "currentTime": rig.wall_text(),
        "interval": 30,
    }
    rig.connect()
    rig.advance(29)
    assert rig.actions() == ["BootNotification"]
    rig.advance(1)
    assert rig.actions() == ["BootNotification", "BootNotification"]
    rig.event(PlugChanged("1", True))  # the connector changes, but nothing may be sent yet
    rig.script["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": rig.wall_text(),
        "interval": 60,
    }
    rig.advance(30)
    assert rig.actions()[2] == "BootNotification" and "StatusNotification" in rig.actions()
    assert rig.statuses(1) == ["Preparing"]
    assert rig.cp.settings.get_int("HeartbeatInterval") == 60


def test_heartbeat_only_when_idle_and_sets_the_clock(rig: Rig) -> None:
    online(rig)
    rig.advance(299)
    assert rig.actions() == []
    rig.advance(1)
    assert rig.actions() == ["Heartbeat"]
    assert rig.cp.wall(rig.now) == pytest.approx(WALL0 + rig.now)


@pytest.mark.parametrize("order", ["card-then-plug", "plug-then-card"])
def test_card_session(rig: Rig, order: str) -> None:
    online(rig)
    rig.meter(10_000.0)
    first = [CardPresented("1", "CAFE01"), PlugChanged("1", True)]
    events = first if order == "card-then-plug" else first[::-1]
    rig.event(events[0])
    assert EnergiseRelay(1) not in rig.commands  # authorized XOR plugged: relay stays open
    assert rig.statuses(1) == ["Preparing"]
    rig.event(events[1])
    assert rig.sent("Authorize") == [{"idTag": "CAFE01"}]
    start = rig.sent("StartTransaction")[0]
    assert (start["idTag"], start["meterStart"], start["connectorId"]) == ("CAFE01", 10000, 1)
    assert from_wire(start["timestamp"]) == pytest.approx(WALL0 + rig.now, abs=0.01)
    assert EnergiseRelay(1) in rig.commands
    assert rig.statuses(1)[-1] == "Charging"
    rig.advance(59)
    rig.meter(10_120.0)  # 7.3 kW for 59 s
    rig.advance(1)  # MeterValueSampleInterval
    [mv] = rig.sent("MeterValues")
    assert mv["transactionId"] == 100
    assert mv["meterValue"][0]["sampledValue"][0]["value"] == "10120"
    rig.meter(10_125.0)
    rig.event(CardPresented("1", "cafe01"))  # same card (case-insensitive) stops
    stop = rig.sent("StopTransaction")[0]
    assert (stop["transactionId"], stop["meterStop"], stop["reason"]) == (100, 10125, "Local")
    assert rig.hw_commands()[-1] == DeEnergiseRelay(1)
    rig.event(PlugChanged("1", False))
    assert rig.statuses(1)[-2:] == ["Finishing", "Available"]


def test_relay_never_closes_without_plug_and_connection_timeout_ends_it(rig: Rig) -> None:
    online(rig)
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.statuses(1) == ["Preparing"] and EnergiseRelay(1) not in rig.commands
    rig.advance(60)  # ConnectionTimeOut default
    assert rig.statuses(1) == ["Preparing", "Available"]
    assert rig.sent("StartTransaction") == []


def test_rejected_card_does_not_start(rig: Rig) -> None:
    online(rig)
    rig.script["Authorize"] = lambda p: {"idTagInfo": {"status": "Blocked"}}
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "BAD"))
    assert rig.sent("StartTransaction") == [] and EnergiseRelay(1) not in rig.commands


def test_remote_start_and_stop(rig: Rig) -> None:
    online(rig)
    assert rig.call("RemoteStartTransaction", {"idTag": "APP", "connectorId": 1}) == {
        "status": "Accepted"
    }
    assert rig.actions() == ["Authorize", "StatusNotification"]  # AuthorizeRemoteTxRequests
    rig.event(PlugChanged("1", True))
    tx = rig.sent("StartTransaction")[0]
    assert tx["idTag"] == "APP"
    assert rig.call("RemoteStopTransaction", {"transactionId": 999}) == {"status": "Rejected"}
    assert rig.call("RemoteStopTransaction", {"transactionId": 100}) == {"status": "Accepted"}
    assert rig.sent("StopTransaction")[0]["reason"] == "Remote"


def test_unplug_stops_with_ev_disconnected(rig: Rig) -> None:
    online(rig)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    rig.event(PlugChanged("1", False))
    assert rig.sent("StopTransaction")[0]["reason"] == "EVDisconnected"
    assert rig.statuses(1)[-1] == "Available"


def test_invalid_id_on_start_stops_the_transaction(rig: Rig) -> None:
    online(rig)
    rig.cp.settings.change("LocalPreAuthorize", "true")
    rig.cp.charging.local_list.update(
        {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "OLD", "idTagInfo": {"status": "Accepted"}}],
        }
    )
    rig.script["StartTransaction"] = lambda p: {
        "transactionId": 7,
        "idTagInfo": {"status": "Invalid"},
    }
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "OLD"))
    assert rig.actions().count("Authorize") == 0  # pre-authorized from the local list
    assert rig.sent("StopTransaction")[0] | {"timestamp": "x"} == {
        "transactionId": 7,
        "meterStop": 0,
        "timestamp": "x",
        "reason": "DeAuthorized",
    }
    assert rig.hw_commands()[-1] == DeEnergiseRelay(1)


def test_offline_session_is_replayed_in_order_with_original_times(rig: Rig) -> None:
    online(rig)
    rig.call(
        "SendLocalList",
        {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "LOCAL", "idTagInfo": {"status": "Accepted"}}],
        },
    )
    rig.disconnect()
    rig.clear()
    rig.meter(500.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "LOCAL"))  # LocalAuthorizeOffline
    started = rig.now
    assert EnergiseRelay(1) in rig.commands
    rig.meter(900.0)
    rig.advance(60)
    rig.advance(30)
    rig.event(CardPresented("1", "LOCAL"))
    stopped = rig.now
    assert rig.received == []
    rig.advance(100)
    rig.connect()
    acts = rig.actions()
    assert acts[:4] == ["BootNotification", "StartTransaction", "MeterValues", "StopTransaction"]
    assert set(acts[4:]) == {"StatusNotification"}
    start, stop = rig.sent("StartTransaction")[0], rig.sent("StopTransaction")[0]
    assert from_wire(start["timestamp"]) == pytest.approx(WALL0 + started, abs=0.01)
    assert from_wire(stop["timestamp"]) == pytest.approx(WALL0 + stopped, abs=0.01)
    assert rig.sent("MeterValues")[0]["transactionId"] == stop["transactionId"] == 100


def test_offline_before_first_boot_back_dates_once_clock_is_known(tmp_path: Path) -> None:
    rig = Rig(tmp_path, config={"AllowOfflineTxForUnknownId": "true"})
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "STRANGER"))
    started = rig.now
    assert EnergiseRelay(1) in rig.commands
    rig.advance(500)
    rig.connect()
    start = rig.sent("StartTransaction")[0]
    assert from_wire(start["timestamp"]) == pytest.approx(WALL0 + started, abs=0.01)
    rig.store.close()


def test_transaction_message_retries_then_gives_up(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "TransactionMessageRetryInterval", "value": "10"})
    rig.call("ChangeConfiguration", {"key": "TransactionMessageAttempts", "value": "3"})
    rig.script["StartTransaction"] = lambda p: GenericError("busy")
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    times = [t for a, _, t in rig.received if a == "StartTransaction"]
    rig.advance(9)
    assert len(rig.sent("StartTransaction")) == 1
    rig.advance(1)  # 10 s x 1 attempt
    rig.advance(20)  # 10 s x 2 attempts
    times = [t - times[0] for a, _, t in rig.received if a == "StartTransaction"]
    assert times == [0, 10, 30]
    rig.advance(100)
    assert len(rig.sent("StartTransaction")) == 3  # dropped after TransactionMessageAttempts
    assert rig.store.outbox() == []
    dropped = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        "StartTransaction" in m and "dropped after 3 attempts" in m and "GenericError" in m
        for m in dropped
    ), dropped


@pytest.mark.parametrize(
    ("register", "meter_stop"),
    [
        (None, 2000),  # the meter does not answer at the restart: the last persisted value
        (2_001.0, 2001),  # the register: the relay opened with the power, so it is the true end
        (5.0, 2000),  # a register below the persisted one (meter replaced): not this energy
    ],
)
def test_power_loss_stops_with_last_persisted_meter_and_never_twice(
    rig: Rig, register: float | None, meter_stop: int
) -> None:
    online(rig)
    rig.meter(2_000.0)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    rig.advance(60)  # a periodic sample persists the meter reading
    rig.meter(2_001.0)  # too recent to be persisted: lost with the power
    rig.answer_reads = register is not None
    rig.registers[1] = register or 0.0
    rig.restart("boot-2")
    assert rig.hw_commands()[-1] == DeEnergiseRelay(1)
    rig.clear()
    rig.connect()
    rig.advance(1)  # the bound for the reading at start
    stop = rig.sent("StopTransaction")[0]
    assert (stop["reason"], stop["meterStop"], stop["transactionId"]) == (
        "PowerLoss",
        meter_stop,
        100,
    )
    rig.restart("boot-3")
    rig.clear()
    rig.connect()
    assert rig.sent("StopTransaction") == []


def test_zero_amp_profile_suspends_with_relay_open(rig: Rig) -> None:
    online(rig)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 0.0},
                {"startPeriod": 600, "limit": 16.0},
            ],
        },
    }
    assert rig.call("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}) == {
        "status": "Accepted"
    }
    assert rig.commands[-2:] == [SetCurrentLimit(1, 0.0), DeEnergiseRelay(1)]
    assert rig.statuses(1)[-1] == "SuspendedEVSE"
    rig.advance(600)
    assert rig.commands[-2:] == [SetCurrentLimit(1, 16.0), EnergiseRelay(1)]
    assert rig.statuses(1)[-1] == "Charging"
    answer = rig.answer("GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert answer["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 16.0


def test_reservation_holds_the_connector(rig: Rig) -> None:
    online(rig)
    expiry = to_wire(WALL0 + rig.now + 600)
    assert rig.call(
        "ReserveNow", {"connectorId": 1, "expiryDate": expiry, "idTag": "VIP", "reservationId": 5}
    ) == {"status": "Accepted"}
    assert rig.statuses(1) == ["Reserved"]
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "OTHER"))
    assert rig.sent("Authorize") == []
    rig.event(CardPresented("1", "VIP"))
    assert rig.sent("StartTransaction")[0]["reservationId"] == 5
    assert rig.call("CancelReservation", {"reservationId": 5}) == {"status": "Rejected"}


def test_reservation_expires(rig: Rig) -> None:
    online(rig)
    rig.call(
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": to_wire(WALL0 + rig.now + 60),
            "idTag": "VIP",
            "reservationId": 5,
        },
    )
    rig.advance(60)
    assert rig.statuses(1) == ["Reserved", "Available"]


def test_fault_stops_and_recovery_returns(rig: Rig) -> None:
    online(rig)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    rig.event(DeviceFaulted("1", "PowerMeterFailure", "no answer"))
    assert rig.sent("StopTransaction")[0]["reason"] == "Other"
    faulted = rig.sent("StatusNotification")[-1]
    assert (faulted["status"], faulted["errorCode"]) == ("Faulted", "PowerMeterFailure")
    rig.event(DeviceRecovered("1"))
    assert rig.statuses(1)[-1] == "Finishing"


@pytest.mark.parametrize(
    ("action", "payload", "expected"),
    [
        ("DataTransfer", {"vendorId": "acme"}, {"status": "UnknownVendorId"}),
        ("UnlockConnector", {"connectorId": 1}, {"status": "NotSupported"}),
        (
            "GetConfiguration",
            {"key": ["HeartbeatInterval", "Nope"]},
            {
                "configurationKey": [
                    {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
                ],
                "unknownKey": ["Nope"],
            },
        ),
        (
            "ChangeConfiguration",
            {"key": "NumberOfConnectors", "value": "4"},
            {"status": "Rejected"},
        ),
        ("GetLocalListVersion", {}, {"listVersion": 0}),
        ("ClearCache", {}, {"status": "Accepted"}),
        ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, {"status": "Accepted"}),
        ("ChangeAvailability", {"connectorId": 7, "type": "Inoperative"}, {"status": "Rejected"}),
        (
            "TriggerMessage",
            {"requestedMessage": "FirmwareStatusNotification"},
            {"status": "NotImplemented"},
        ),
        ("ClearChargingProfile", {}, {"status": "Unknown"}),
    ],
)
def test_simple_requests(
    rig: Rig, action: str, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    online(rig)
    assert rig.call(action, payload) == expected


def test_firmware_profile_is_not_supported(rig: Rig) -> None:
    online(rig)
    answer = rig.call("GetDiagnostics", {"location": "ftp://127.0.0.1/x"})
    assert isinstance(answer, NotSupported)
    [value] = rig.answer("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})[
        "configurationKey"
    ]
    assert value["value"] == "Core,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"


def test_change_availability_is_scheduled_during_a_transaction(rig: Rig) -> None:
    online(rig)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {
        "status": "Scheduled"
    }
    rig.event(PlugChanged("1", False))
    assert rig.statuses(1)[-2:] == ["Available", "Unavailable"] or rig.statuses(1)[-1] == (
        "Unavailable"
    )
    rig.event(CardPresented("1", "CAFE01"))
    assert len(rig.sent("StartTransaction")) == 1


def test_trigger_message_and_reset(rig: Rig) -> None:
    online(rig)
    rig.meter(42.0)
    assert rig.call(
        "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
    ) == {"status": "Accepted"}
    assert rig.statuses(1) == ["Available"]
    rig.call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})
    assert rig.sent("MeterValues")[0]["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert rig.sent("StopTransaction")[0]["reason"] == "SoftReset"
    assert rig.commands[-1] == RestartRequested("Soft")


def test_clock_aligned_values_land_exactly_on_the_boundary(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "ClockAlignedDataInterval", "value": "900"})
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    rig.meter(5_000.0)
    rig.clear()
    rig.advance(1800)
    aligned = [
        mv
        for mv in rig.sent("MeterValues")
        if mv["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
    ]
    stamps = [from_wire(mv["meterValue"][0]["timestamp"]) for mv in aligned]
    assert len(stamps) == 2 and all(s % 900 == 0 for s in stamps)
    assert all(mv["transactionId"] == 100 for mv in aligned)


def test_minimum_status_duration_hides_a_short_blip(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "MinimumStatusDuration", "value": "5"})
    rig.event(PlugChanged("1", True))
    rig.advance(2)
    rig.event(PlugChanged("1", False))
    rig.advance(10)
    assert rig.statuses(1) == []
    rig.event(PlugChanged("1", True))
    rig.advance(4)
    assert rig.statuses(1) == []
    rig.advance(1)
    assert rig.statuses(1) == ["Preparing"]


def test_configuration_and_local_list_survive_a_restart(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"})
    rig.call(
        "SendLocalList",
        {
            "listVersion": 4,
            "updateType": "Full",
            "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}],
        },
    )
    rig.restart("boot-2")
    online(rig)
    [key] = rig.answer("GetConfiguration", {"key": ["MeterValueSampleInterval"]})[
        "configurationKey"
    ]
    assert key["value"] == "30"
    assert rig.call("GetLocalListVersion", {}) == {"listVersion": 4}


def test_inoperative_survives_a_restart(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    rig.restart("boot-2")
    rig.connect()
    assert rig.statuses(1)[-1] == "Unavailable"
    rig.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert rig.statuses(1)[-1] == "Available"


def test_two_connectors_share_one_reader(tmp_path: Path) -> None:
    rig = Rig(tmp_path, connectors=(1, 2))
    rig.cp.charging.sources["reader"] = 0
    online(rig)
    rig.event(PlugChanged("2", True))
    rig.event(CardPresented("reader", "CAFE01"))  # goes to the connector waiting for a card
    assert rig.sent("StartTransaction")[0]["connectorId"] == 2
    assert rig.commands[-1] == EnergiseRelay(2)
    rig.event(DeviceFaulted("reader", "ReaderFailure", "no frames"))
    warning = rig.sent("StatusNotification")[-1]
    assert (warning["connectorId"], warning["status"], warning["errorCode"]) == (
        0,
        "Available",
        "ReaderFailure",
    )
    assert rig.statuses(2)[-1] == "Charging"  # a reader fault does not stop charging
    rig.store.close()


def test_remote_start_with_a_tx_profile(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"})
    assert rig.call(
        "RemoteStartTransaction",
        {"idTag": "APP", "connectorId": 1, "chargingProfile": tx_profile(10.0)},
    ) == {"status": "Accepted"}
    assert rig.sent("Authorize") == []
    rig.event(PlugChanged("1", True))
    assert SetCurrentLimit(1, 10.0) in rig.commands
    rig.event(CardPresented("1", "APP"))  # the remote idTag's card also stops it
    assert rig.sent("StopTransaction")[0]["reason"] == "Local"
    assert rig.hw_commands()[-2:] == [DeEnergiseRelay(1), SetCurrentLimit(1, None)]


def test_a_handler_bug_becomes_internal_error(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    from cpagent.chargepoint import handlers

    def broken(cp: object, req: object, now: float) -> dict[str, Any]:
        raise KeyError("bug")

    monkeypatch.setitem(handlers.HANDLERS, "ClearCache", broken)
    online(rig)
    answer = rig.call("ClearCache", {})
    assert isinstance(answer, OcppError) and answer.code == "InternalError"
    assert rig.call("GetLocalListVersion", {}) == {"listVersion": 0}  # still serving


def test_an_unanswered_transaction_message_is_resent_after_the_retry_interval(rig: Rig) -> None:
    online(rig)
    rig.call("ChangeConfiguration", {"key": "TransactionMessageRetryInterval", "value": "5"})
    answers = iter([None, {"transactionId": 9, "idTagInfo": {"status": "Accepted"}}])
    rig.script["StartTransaction"] = lambda p: next(answers)
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    first = rig.now
    rig.advance(30)  # the core's call timeout: not a failed attempt, but a resend is due
    rig.advance(5)  # RetryInterval x 1
    times = [t - first for a, _, t in rig.received if a == "StartTransaction"]
    assert times == [0, 35]
    assert rig.cp.charging.points[1].tx is not None
    assert rig.cp.charging.points[1].tx.transaction_id == 9
