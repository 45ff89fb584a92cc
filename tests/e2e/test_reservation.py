"""Reservation profile end to end: ReserveNow, CancelReservation, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from tests.e2e.conftest import boot
from tests.e2e.csms import StrictCentralSystem
from tests.e2e.daemon import CHARGEPOINT_ID, Daemon


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _reserve(
    csms: StrictCentralSystem,
    reservation_id: int,
    id_tag: str = "RES-TAG",
    connector_id: int = 1,
    seconds: float = 3600,
) -> str:
    status: str = csms.call(
        CHARGEPOINT_ID,
        call.ReserveNow(
            connector_id=connector_id,
            expiry_date=_in(seconds),
            id_tag=id_tag,
            reservation_id=reservation_id,
        ),
    ).status
    return status


def test_a_reservation_is_used_by_its_tag_only(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    assert _reserve(csms, 7) == "Accepted"
    csms.wait_status(1, "Reserved")
    daemon.do("plug", connector=1)
    # §4.9 G2: only the reserved idTag moves it on; a plug alone leaves it Reserved
    assert daemon.wait_connector(lambda c: c["plugged"], what="plugged")["status"] == "Reserved"
    daemon.do("tap", id_tag="SOMEONE-ELSE")
    daemon.wait(lambda s: s["last_card"] == "SOMEONE-ELSE", what="the other tap")
    assert daemon.connector()["relay"] is False and not csms.calls("StartTransaction")
    daemon.do("tap", id_tag="RES-TAG")
    start = csms.wait_call("StartTransaction")
    assert (start["idTag"], start["reservationId"]) == ("RES-TAG", 7)
    daemon.wait_connector(lambda c: c["relay"] is True, what="relay closed")
    # the reservation was consumed: cancelling it now finds nothing
    assert csms.call(CHARGEPOINT_ID, call.CancelReservation(reservation_id=7)).status == (
        "Rejected"
    )


@pytest.mark.parametrize(
    ("connector_id", "plugged", "answer"),
    [
        (1, True, "Occupied"),  # §5.13: a connector in use cannot be reserved
        (0, False, "Accepted"),  # ReserveConnectorZeroSupported = true
        (2, False, "Rejected"),  # no such connector
    ],
)
def test_reserve_now_answers(
    shared: tuple[Daemon, StrictCentralSystem], connector_id: int, plugged: bool, answer: str
) -> None:
    daemon, csms = shared
    if plugged:
        daemon.do("plug", connector=1)
        csms.wait_status(1, "Preparing")
    try:
        assert _reserve(csms, 1, connector_id=connector_id) == answer
    finally:  # leave the shared charge point as it was
        csms.call(CHARGEPOINT_ID, call.CancelReservation(reservation_id=1))
        if plugged:
            daemon.do("unplug", connector=1)
            csms.wait_status(1, "Available")


def test_cancel_reservation_frees_the_connector(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    assert _reserve(csms, 3) == "Accepted"
    csms.wait_status(1, "Reserved")
    assert csms.call(CHARGEPOINT_ID, call.CancelReservation(reservation_id=3)).status == (
        "Accepted"
    )
    csms.wait_status(1, "Available")
    assert csms.call(CHARGEPOINT_ID, call.CancelReservation(reservation_id=3)).status == (
        "Rejected"
    )


def test_a_reservation_expires(daemon: Daemon, csms: StrictCentralSystem) -> None:
    boot(daemon, csms)
    assert _reserve(csms, 4, seconds=1.5) == "Accepted"
    csms.wait_status(1, "Reserved")
    csms.wait_status(1, "Available", timeout=6)
    daemon.wait_connector(lambda c: c["status"] == "Available", what="Available")
    assert csms.call(CHARGEPOINT_ID, call.CancelReservation(reservation_id=4)).status == (
        "Rejected"
    )
