"""The bench CSMS against the public `ocpp` package's v16 chargepoint over real loopback sockets."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v16 import call
from ocpp.v16.enums import RegistrationStatus
from websockets.exceptions import InvalidStatus

from cpagent.csms.errors import BadCall, CallErrorReceived, NotConnected
from cpagent.csms.server import CentralSystem, chargepoint_id
from tests.csms.conftest import ACCEPTED_TAG, ChargepointFactory
from tests.csms.ocpp_client import OcppChargepointThread

STAMP = "2026-11-30T00:00:00Z"
WAIT_S = 10.0


def boot(client: OcppChargepointThread) -> Any:
    return client.call(call.BootNotification(charge_point_model="bench", charge_point_vendor="t"))


def chargepoint_view(central: CentralSystem, cp_id: str) -> dict[str, Any]:
    view = central.snapshot(cp_id)
    assert view["chargepoints"], f"{cp_id} not seen"
    chargepoint: dict[str, Any] = view["chargepoints"][0]
    return chargepoint


def test_boot_notification_is_accepted_and_recorded(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    answer = boot(connect("CP001"))
    assert answer.status == RegistrationStatus.accepted
    assert answer.interval == 300
    seen = chargepoint_view(central, "CP001")
    assert seen["connected"] is True
    assert seen["subprotocol"] == "ocpp1.6"
    assert seen["boot"] == {"chargePointModel": "bench", "chargePointVendor": "t"}


@pytest.mark.parametrize(("id_tag", "status"), [(ACCEPTED_TAG, "Accepted"), ("NOPE", "Invalid")])
def test_authorize_answers_by_the_accepted_list(
    connect: ChargepointFactory, id_tag: str, status: str
) -> None:
    answer = connect().call(call.Authorize(id_tag=id_tag))
    assert answer.id_tag_info == {"status": status}


def test_transaction_with_meter_values_is_recorded(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    client = connect()
    client.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    started = client.call(
        call.StartTransaction(connector_id=1, id_tag=ACCEPTED_TAG, meter_start=100, timestamp=STAMP)
    )
    again = client.call(
        call.StartTransaction(connector_id=2, id_tag=ACCEPTED_TAG, meter_start=0, timestamp=STAMP)
    )
    assert (started.transaction_id, again.transaction_id) == (1, 2)
    sample = [{"timestamp": STAMP, "sampledValue": [{"value": "350"}]}]
    client.call(call.MeterValues(connector_id=1, transaction_id=1, meter_value=sample))
    stopped = client.call(
        call.StopTransaction(meter_stop=600, timestamp=STAMP, transaction_id=1, reason="Remote")
    )
    assert stopped.id_tag_info is None

    view = central.snapshot("CP001")
    first = view["transactions"][0]
    assert first["status"] == "Stopped"
    assert first["energyWh"] == 500
    assert first["stopReason"] == "Remote"
    assert first["meterValues"] == sample
    assert view["chargepoints"][0]["connectors"]["1"]["status"] == "Charging"
    assert [f["direction"] for f in view["frames"][:2]] == ["received", "sent"]


def test_csms_sends_remote_start_and_gets_the_answer(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    client = connect()
    answer = central.call("CP001", "RemoteStartTransaction", {"idTag": "ABC123", "connectorId": 1})
    assert answer == {"status": "Accepted"}
    assert client.chargepoint is not None
    assert client.chargepoint.remote_starts == [{"id_tag": "ABC123", "connector_id": 1}]


def test_unhandled_action_comes_back_as_a_call_error(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    connect()
    with pytest.raises(CallErrorReceived) as caught:
        central.call("CP001", "Reset", {"type": "Soft"})
    assert caught.value.code == "NotImplemented"


def test_payload_refused_by_the_schema_is_a_bad_call_and_never_sent(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    connect()
    with pytest.raises(BadCall):
        central.call("CP001", "RemoteStartTransaction", {"connectorId": 1})
    assert central.snapshot("CP001")["frames"] == []


def test_call_to_an_unknown_chargepoint_is_not_connected(central: CentralSystem) -> None:
    with pytest.raises(NotConnected):
        central.call("CP404", "Reset", {"type": "Soft"})


def test_disconnect_is_recorded_and_calls_then_fail(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    client = connect()
    boot(client)
    client.stop()
    assert central.wait_for(lambda v: not v["chargepoints"][0]["connected"], WAIT_S)
    with pytest.raises(NotConnected):
        central.call("CP001", "Reset", {"type": "Soft"})


def test_reconnect_with_the_same_id_replaces_the_old_link(
    central: CentralSystem, connect: ChargepointFactory
) -> None:
    older = connect("CP001")
    newer = connect("CP001")
    older.wait_closed()
    central.call("CP001", "RemoteStartTransaction", {"idTag": "NEW"})
    assert newer.chargepoint is not None
    assert [s["id_tag"] for s in newer.chargepoint.remote_starts] == ["NEW"]
    assert chargepoint_view(central, "CP001")["connected"] is True


@pytest.mark.parametrize(
    ("offered", "path"),
    [([], "CP001"), (["ocpp2.0.1"], "CP001"), (["ocpp1.6"], "")],
    ids=["no-subprotocol", "wrong-subprotocol", "no-chargepoint-id"],
)
def test_handshake_is_refused(central: CentralSystem, offered: list[str], path: str) -> None:
    client = OcppChargepointThread(central.url, path, subprotocols=offered)
    with pytest.raises(InvalidStatus) as caught:
        client.start()
    assert caught.value.response.status_code in (400, 404)
    assert central.snapshot()["chargepoints"] == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/CP001", "CP001"), ("/ocpp/CP%20002", "CP 002"), ("/CP003/?x=1", "CP003"), ("/", "")],
)
def test_chargepoint_id_is_the_last_path_segment(path: str, expected: str) -> None:
    assert chargepoint_id(path) == expected


@pytest.mark.parametrize(
    ("credentials", "accepted"),
    [
        (("CP001", "s3cret"), True),
        (("CP001", "wrong"), False),
        (("CP999", "s3cret"), False),  # user must be the chargepoint id in the URL
        (None, False),
    ],
)
def test_basic_auth_when_a_password_is_set(
    credentials: tuple[str, str] | None, accepted: bool
) -> None:
    with CentralSystem(port=0, password="s3cret") as central:
        client = OcppChargepointThread(central.url, "CP001", basic_auth=credentials)
        if accepted:
            try:
                client.start()
                assert boot(client).status == RegistrationStatus.accepted
            finally:
                client.stop()
        else:
            with pytest.raises(InvalidStatus) as caught:
                client.start()
            assert caught.value.response.status_code == 401


def test_api_use_outside_a_running_central_system_raises() -> None:
    central = CentralSystem(port=0)
    with pytest.raises(RuntimeError, match="not running"):
        central.snapshot()
    central.start()
    central.stop()
    with pytest.raises(RuntimeError, match="not running"):
        central.call("CP001", "Reset", {"type": "Soft"})
