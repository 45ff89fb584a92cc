"""Core profile messages from the central system, end to end against the real daemon."""

from __future__ import annotations

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

from tests.e2e.conftest import boot, configure
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, RESTART_EXIT, Daemon
from tests.support.net import wait_until

Shared = tuple[Daemon, StrictCentralSystem]


def _charging(daemon: Daemon, csms: StrictCentralSystem, id_tag: str = "CARD-A") -> None:
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag=id_tag)
    daemon.wait_connector(lambda c: c["relay"] is True, what="relay closed")
    csms.wait_status(1, "Charging")


@pytest.mark.parametrize(
    ("key", "value", "answer"),
    [
        ("HeartbeatInterval", "240", "Accepted"),
        ("HeartbeatInterval", "-1", "Rejected"),  # out of bounds
        ("HeartbeatInterval", "soon", "Rejected"),  # not an integer
        ("NumberOfConnectors", "4", "Rejected"),  # readonly (§9.1)
        ("WebSocketPingInterval", "20", "RebootRequired"),
        ("NoSuchKey", "1", "NotSupported"),
    ],
)
def test_change_configuration(shared: Shared, key: str, value: str, answer: str) -> None:
    _, csms = shared
    before = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=[key]))
    result = csms.call(CHARGEPOINT_ID, call.ChangeConfiguration(key=key, value=value))
    assert result.status == answer
    after = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=[key]))
    if answer in ("Accepted", "RebootRequired"):
        assert after.configuration_key == [{"key": key, "readonly": False, "value": value}]
    else:
        assert after.configuration_key == before.configuration_key


def test_get_configuration_without_keys_lists_every_key(shared: Shared) -> None:
    _, csms = shared
    result = csms.call(CHARGEPOINT_ID, call.GetConfiguration())
    keys = {entry["key"]: entry for entry in result.configuration_key}
    assert not result.unknown_key
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "1",
    }
    assert keys["SupportedFeatureProfiles"]["readonly"] is True
    assert set(keys["SupportedFeatureProfiles"]["value"].split(",")) >= {
        "Core",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    }
    assert keys["MeterValueSampleInterval"]["value"] == "1"  # set by the fixture, persisted
    assert all(isinstance(entry["readonly"], bool) for entry in keys.values())


def test_get_configuration_with_keys_names_the_unknown_ones(shared: Shared) -> None:
    _, csms = shared
    result = csms.call(
        CHARGEPOINT_ID,
        call.GetConfiguration(key=["ConnectionTimeOut", "LightIntensity", "NoSuchKey"]),
    )
    assert [entry["key"] for entry in result.configuration_key] == ["ConnectionTimeOut"]
    assert sorted(result.unknown_key) == ["LightIntensity", "NoSuchKey"]


def test_data_transfer_answers_unknown_vendor(shared: Shared) -> None:
    _, csms = shared
    result = csms.call(
        CHARGEPOINT_ID, call.DataTransfer(vendor_id="com.example", message_id="ping", data="{}")
    )
    assert result.status == "UnknownVendorId"


def test_unlock_connector_is_not_supported_without_a_lock(shared: Shared) -> None:
    daemon, csms = shared
    result = csms.call(CHARGEPOINT_ID, call.UnlockConnector(connector_id=1))
    assert result.status == "NotSupported"
    assert daemon.connector()["status"] == "Available"


def test_heartbeat_at_the_configured_interval(shared: Shared) -> None:
    _, csms = shared
    beats = len(csms.calls("Heartbeat"))
    configure(csms, HeartbeatInterval="1")
    try:
        csms.wait_call("Heartbeat", count=beats + 1, timeout=5)
    finally:
        configure(csms, HeartbeatInterval="300")


@pytest.mark.parametrize("connector_id", [0, 1])
def test_change_availability(daemon: Daemon, csms: StrictCentralSystem, connector_id: int) -> None:
    boot(daemon, csms)
    result = csms.call(
        CHARGEPOINT_ID, call.ChangeAvailability(connector_id=connector_id, type="Inoperative")
    )
    assert result.status == "Accepted"
    csms.wait_status(1, "Unavailable")
    daemon.wait_connector(lambda c: c["status"] == "Unavailable", what="Unavailable")
    daemon.do("plug", connector=1)
    daemon.do("tap", id_tag="CARD-A")
    # an unavailable connector starts nothing; wait until the tap was seen, then look
    daemon.wait(lambda s: s["last_card"] == "CARD-A", what="the tap to arrive")
    assert daemon.connector()["relay"] is False and not csms.calls("StartTransaction")
    result = csms.call(
        CHARGEPOINT_ID, call.ChangeAvailability(connector_id=connector_id, type="Operative")
    )
    assert result.status == "Accepted"
    csms.wait_status(1, "Preparing")  # plugged while unavailable


def test_change_availability_during_a_transaction_is_scheduled(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    _charging(daemon, csms)
    result = csms.call(CHARGEPOINT_ID, call.ChangeAvailability(connector_id=1, type="Inoperative"))
    assert result.status == "Scheduled"
    assert daemon.connector()["relay"] is True  # the running transaction is not interrupted
    daemon.do("tap", id_tag="CARD-A")
    csms.wait_call("StopTransaction")
    daemon.wait_connector(lambda c: c["relay"] is False, what="relay open")
    daemon.do("unplug", connector=1)
    # §5.2 "after the transaction has finished": this daemon waits for the session to end
    csms.wait_status(1, "Unavailable")
    assert csms.statuses(1)[-3:] == ["Charging", "Finishing", "Unavailable"]


def test_clear_cache_forgets_cached_authorizations(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, LocalPreAuthorize="true")

    def session(starts: int) -> None:
        daemon.do("plug", connector=1)
        daemon.do("tap", id_tag="CARD-C")
        csms.wait_call("StartTransaction", count=starts)
        daemon.do("tap", id_tag="CARD-C")
        csms.wait_call("StopTransaction", count=starts)
        daemon.do("unplug", connector=1)
        csms.wait_status(1, "Available")

    session(1)
    assert len(csms.calls("Authorize")) == 1
    session(2)  # the cache (LocalPreAuthorize) answers: no Authorize.req
    assert len(csms.calls("Authorize")) == 1
    assert csms.call(CHARGEPOINT_ID, call.ClearCache()).status == "Accepted"
    session(3)
    assert len(csms.calls("Authorize")) == 2


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
def test_reset_stops_the_transaction_and_restarts(
    daemon: Daemon, csms: StrictCentralSystem, kind: str, reason: str
) -> None:
    boot(daemon, csms)
    _charging(daemon, csms)
    assert csms.call(CHARGEPOINT_ID, call.Reset(type=kind)).status == "Accepted"
    assert daemon.wait_exit() == RESTART_EXIT
    stop = csms.wait_call("StopTransaction")
    assert (stop["transactionId"], stop["reason"]) == (1, reason)
    contactor = [line for line in daemon.log_path.read_text().splitlines() if "contactor" in line]
    assert contactor[-1].endswith("connector1: opening contactor")

    # what systemd would do: start it again; relays open, connector available, nothing resent
    # (the StopTransaction was acknowledged before the exit)
    daemon.start()
    daemon.wait(lambda s: s["registration"] == "Accepted", what="boot after reset")
    assert daemon.connector()["relay"] is False
    csms.wait_status(1, "Available")  # a fresh process: the mock plug input starts low
    wait_until(lambda: daemon.status()["queued_messages"] == 0, 5, "empty queue")
    assert len(csms.calls("StopTransaction")) == 1
    assert len(csms.calls("BootNotification")) == 2
    kept = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=["MeterValueSampleInterval"]))
    assert kept.configuration_key[0]["value"] == "1"  # configuration survives the restart


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("FooBar", {}, "NotImplemented"),
        (
            "BootNotification",
            {"chargePointVendor": "x", "chargePointModel": "y"},
            "NotImplemented",
        ),  # a CP -> CS action
        ("RemoteStartTransaction", {}, "OccurenceConstraintViolation"),  # 1.6's own spelling
        ("Reset", {"type": "Medium"}, "PropertyConstraintViolation"),
        ("ChangeConfiguration", {"key": 5, "value": "1"}, "TypeConstraintViolation"),
        ("GetConfiguration", {"extra": 1}, "FormationViolation"),
    ],
)
def test_bad_requests_are_answered_with_the_right_call_error(
    shared: Shared, action: str, payload: dict[str, object], code: str
) -> None:
    """OCPP-J 1.6 §4.2.3: the error code names what is wrong; the daemon carries on."""
    daemon, csms = shared
    with pytest.raises(OCPPError) as raised:
        csms.call_unchecked(CHARGEPOINT_ID, action, payload)
    assert raised.value.code == code
    assert daemon.status()["registration"] == "Accepted"
