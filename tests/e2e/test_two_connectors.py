"""Two connectors, one card reader: each card finds its own connector and transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16 import call

from tests.e2e.conftest import _daemon, boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon


@pytest.fixture
def twin(tmp_path: Path, csms: StrictCentralSystem) -> Iterator[Daemon]:
    yield from _daemon(tmp_path, csms, connectors=2)


def _relays(daemon: Daemon) -> list[bool]:
    return [c["relay"] for c in daemon.status()["connectors"]]


def test_two_sessions_side_by_side(twin: Daemon, csms: StrictCentralSystem) -> None:
    boot(twin, csms)
    csms.wait_status(2, "Available")
    assert {p["connectorId"] for p in csms.calls("StatusNotification")} == {0, 1, 2}
    nconn = csms.call(CHARGEPOINT_ID, call.GetConfiguration(key=["NumberOfConnectors"]))
    assert nconn.configuration_key[0]["value"] == "2"

    twin.do("plug", connector=2)
    twin.do("tap", id_tag="CARD-2")  # the reader serves the charge point: the plugged one
    start_2 = csms.wait_call("StartTransaction")
    assert (start_2["connectorId"], start_2["idTag"]) == (2, "CARD-2")
    twin.wait_connector(lambda c: c["relay"] is True, connector_id=2, what="relay 2 closed")
    assert _relays(twin) == [False, True]

    twin.do("plug", connector=1)
    twin.do("tap", id_tag="CARD-1")
    start_1 = csms.wait_call("StartTransaction", count=2)
    assert (start_1["connectorId"], start_1["idTag"]) == (1, "CARD-1")
    twin.wait_connector(lambda c: c["relay"] is True, connector_id=1, what="relay 1 closed")
    ids = {c["id"]: c["transaction"]["id"] for c in twin.status()["connectors"]}
    assert ids == {2: 1, 1: 2}

    twin.do("tap", id_tag="CARD-2")  # ends its own transaction only
    stop = csms.wait_call("StopTransaction")
    assert (stop["transactionId"], stop["reason"]) == (1, "Local")
    twin.wait_connector(lambda c: c["relay"] is False, connector_id=2, what="relay 2 open")
    assert _relays(twin) == [True, False]

    answer = csms.call(CHARGEPOINT_ID, call.RemoteStopTransaction(transaction_id=2))
    assert answer.status == "Accepted"
    stop = csms.wait_call("StopTransaction", count=2)
    assert (stop["transactionId"], stop["reason"]) == (2, "Remote")
    twin.wait(lambda s: not any(c["relay"] for c in s["connectors"]), what="all relays open")
    # every MeterValues went out for the right connector and transaction
    pairs = {(p["connectorId"], p.get("transactionId")) for p in csms.calls("MeterValues")}
    assert pairs <= {(2, 1), (1, 2)}
