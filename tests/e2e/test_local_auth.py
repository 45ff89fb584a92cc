"""Local Auth List Management end to end: lists, versions, and a tap authorized offline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import call

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon
from tests.support.net import wait_until


def _entry(id_tag: str, status: str | None = None) -> dict[str, object]:
    return (
        {"idTag": id_tag} if status is None else {"idTag": id_tag, "idTagInfo": {"status": status}}
    )


def _last_card_is(id_tag: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: bool(status["last_card"] == id_tag)


def _version(csms: StrictCentralSystem) -> int:
    version: int = csms.call(CHARGEPOINT_ID, call.GetLocalListVersion()).list_version
    return version


def test_local_list_versions_and_an_offline_tap(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = {"idTag": "LOCAL-E", "idTagInfo": {"status": "Accepted", "expiryDate": yesterday}}
    assert _version(csms) == 0  # no list yet (§5.10: 0 = none installed)
    answer = csms.call(
        CHARGEPOINT_ID,
        call.SendLocalList(
            list_version=1,
            update_type="Full",
            local_authorization_list=[
                _entry("LOCAL-A", "Accepted"),
                _entry("LOCAL-B", "Blocked"),
                expired,
            ],
        ),
    )
    assert answer.status == "Accepted" and _version(csms) == 1
    answer = csms.call(
        CHARGEPOINT_ID,
        call.SendLocalList(
            list_version=2,
            update_type="Differential",
            local_authorization_list=[_entry("LOCAL-C", "Accepted"), _entry("LOCAL-A")],
        ),
    )
    assert answer.status == "Accepted" and _version(csms) == 2
    answer = csms.call(
        CHARGEPOINT_ID,
        call.SendLocalList(
            list_version=2,
            update_type="Differential",
            local_authorization_list=[_entry("LOCAL-D", "Accepted")],
        ),
    )
    assert answer.status == "VersionMismatch" and _version(csms) == 2

    csms.stop()  # the central system goes away
    daemon.wait(lambda s: s["connection"] == "disconnected", what="link down")
    daemon.do("plug", connector=1)
    # blocked; removed by the differential update; expired; unknown (AllowOfflineTxForUnknownId
    # is false by default)
    for refused in ("LOCAL-B", "LOCAL-A", "LOCAL-E", "NOBODY"):
        daemon.do("tap", id_tag=refused)
        daemon.wait(_last_card_is(refused), what=f"tap {refused}")
        assert daemon.connector()["relay"] is False
    daemon.do("tap", id_tag="LOCAL-C")  # LocalAuthorizeOffline (default true)
    connector = daemon.wait_connector(lambda c: c["relay"] is True, what="offline start")
    assert connector["transaction"]["id_tag"] == "LOCAL-C"
    assert daemon.status()["queued_messages"] >= 1

    csms.start()
    start = csms.wait_call("StartTransaction")
    assert start["idTag"] == "LOCAL-C"
    wait_until(lambda: daemon.status()["queued_messages"] == 0, 10, "queue drained")
    assert daemon.connector()["transaction"]["id"] == 1
    assert not csms.calls("Authorize")  # nothing asked the central system about any card
    # the list survived the link loss and is still version 2
    assert _version(csms) == 2
