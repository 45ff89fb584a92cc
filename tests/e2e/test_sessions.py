"""A charging session by card and one started and stopped remotely, end to end."""

from __future__ import annotations

import json
from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon, cli
from tests.support.net import wait_until


def _ctl(daemon: Daemon, *args: str) -> None:
    done = cli("ctl", "--config", str(daemon.config_path), *args)
    assert done.returncode == 0, f"ctl {args}: {done.stdout}{done.stderr}"


def _status_json(daemon: Daemon) -> dict[str, Any]:
    done = cli("status", "--json", "--config", str(daemon.config_path))
    assert done.returncode == 0, done.stderr
    status: dict[str, Any] = json.loads(done.stdout)
    return status


def test_a_full_session_by_card(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    boot_req = csms.calls("BootNotification")[0]
    assert boot_req == {
        "chargePointVendor": "cpagent",
        "chargePointModel": "e2e",
        "chargePointSerialNumber": "e2e-0001",
        "firmwareVersion": "0.1.0",
    }
    assert {0, 1} <= {p["connectorId"] for p in csms.calls("StatusNotification")}
    status = _status_json(daemon)
    assert (status["registration"], status["connectors"][0]["status"]) == ("Accepted", "Available")

    _ctl(daemon, "plug", "1")
    csms.wait_status(1, "Preparing")
    _ctl(daemon, "tap", "CARD-A")
    assert csms.wait_call("Authorize") == {"idTag": "CARD-A"}
    start = csms.wait_call("StartTransaction")
    assert (start["connectorId"], start["idTag"]) == (1, "CARD-A")
    assert isinstance(start["meterStart"], int) and start["meterStart"] >= 0
    daemon.wait_connector(lambda c: c["relay"] is True, what="relay closed")
    csms.wait_status(1, "Charging")
    connector = daemon.connector()
    assert connector["relay"] is True and connector["transaction"]["id"] == 1

    # MeterValues for this transaction, energy rising (MeterValueSampleInterval = 1 s)
    values = csms.wait_call("MeterValues", count=2)
    assert values["transactionId"] == 1 and values["connectorId"] == 1
    energies = [
        float(v["value"])
        for p in csms.calls("MeterValues")
        for mv in p["meterValue"]
        for v in mv["sampledValue"]
        if v.get("measurand") == "Energy.Active.Import.Register"
    ]
    assert energies == sorted(energies) and energies[-1] > start["meterStart"]

    _ctl(daemon, "tap", "CARD-A")
    stop = csms.wait_call("StopTransaction")
    assert (stop["transactionId"], stop["reason"], stop["idTag"]) == (1, "Local", "CARD-A")
    assert stop["meterStop"] >= start["meterStart"]
    daemon.wait_connector(
        lambda c: c["relay"] is False and c["transaction"] is None,
        what="relay open, transaction over",
    )
    csms.wait_status(1, "Finishing")
    _ctl(daemon, "unplug", "1")
    csms.wait_status(1, "Available")
    assert _status_json(daemon)["connectors"][0]["status"] == "Available"
    assert len(csms.calls("StartTransaction")) == len(csms.calls("StopTransaction")) == 1
    # one Authorize only: the second tap matches the running transaction's idTag (§5.x stop)
    assert len(csms.calls("Authorize")) == 1


def test_a_remote_session(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    answer = csms.call(
        CHARGEPOINT_ID, call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=1)
    )
    assert answer.status == "Accepted"
    csms.wait_status(1, "Preparing")
    assert daemon.connector()["relay"] is False  # authorized but not plugged: relay stays open
    daemon.do("plug", connector=1)
    start = csms.wait_call("StartTransaction")
    assert start["idTag"] == "REMOTE-1"
    # AuthorizeRemoteTxRequests (default true): the remote idTag was authorized first
    assert csms.calls("Authorize") == [{"idTag": "REMOTE-1"}]
    daemon.wait_connector(lambda c: c["relay"] is True, what="relay closed")
    csms.wait_status(1, "Charging")
    transaction_id = daemon.connector()["transaction"]["id"]

    answer = csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=transaction_id))
    assert answer.status == "Accepted"
    stop = csms.wait_call("StopTransaction")
    assert (stop["transactionId"], stop["reason"]) == (transaction_id, "Remote")
    assert stop["meterStop"] >= start["meterStart"]
    daemon.wait_connector(
        lambda c: c["relay"] is False and c["transaction"] is None,
        what="relay open after RemoteStop",
    )
    answer = csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=transaction_id))
    assert answer.status == "Rejected"  # no such transaction any more
    daemon.do("unplug", connector=1)
    csms.wait_status(1, "Available")
    wait_until(lambda: daemon.connector()["status"] == "Available", 5, "status Available")


def test_tap_first_then_plug_within_the_connection_timeout(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms)
    daemon.do("tap", id_tag="CARD-T")
    csms.wait_status(1, "Preparing")
    assert daemon.connector()["relay"] is False
    daemon.do("plug", connector=1)
    start = csms.wait_call("StartTransaction")
    assert start["idTag"] == "CARD-T"
    daemon.wait_connector(lambda c: c["relay"] is True, what="relay closed")


def test_no_plug_within_the_connection_timeout_ends_the_session(
    daemon: Daemon, csms: StrictCentralSystem
) -> None:
    boot(daemon, csms, ConnectionTimeOut="1")
    daemon.do("tap", id_tag="CARD-T")
    csms.wait_status(1, "Preparing")
    csms.wait_status(1, "Available", timeout=5)
    daemon.do("plug", connector=1)  # too late: the authorization has lapsed
    csms.wait_status(1, "Preparing")
    assert daemon.connector()["relay"] is False and not csms.calls("StartTransaction")
