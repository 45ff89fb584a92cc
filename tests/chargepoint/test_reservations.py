"""ReserveNow / CancelReservation with expiry and connector 0 rules (OCPP 1.6 §5.13, §5.1)."""

from __future__ import annotations

from typing import Any

import pytest

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.connector import ConnectorStatus
from cpagent.chargepoint.reservations import (
    CancelReservationStatus,
    Reservation,
    Reservations,
    ReservationStatus,
)

from .schemas import validate

S = ConnectorStatus
R = ReservationStatus
NOW = 1_764_460_800.0
FREE = {0: S.AVAILABLE, 1: S.AVAILABLE, 2: S.AVAILABLE}


def req(
    rid: int, cid: int, tag: str = "CARD", expiry: float = NOW + 600, parent: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": cid,
        "expiryDate": to_wire(expiry),
        "idTag": tag,
        "reservationId": rid,
    }
    if parent:
        payload["parentIdTag"] = parent
    validate("ReserveNow", payload)
    return payload


@pytest.mark.parametrize(
    ("payload", "statuses", "zero_ok", "expected"),
    [
        (req(1, 1), FREE, True, R.ACCEPTED),
        (req(1, 1), FREE | {1: S.CHARGING}, True, R.OCCUPIED),
        (req(1, 1), FREE | {1: S.FINISHING}, True, R.OCCUPIED),
        (req(1, 1), FREE | {1: S.FAULTED}, True, R.FAULTED),
        (req(1, 1), FREE | {1: S.UNAVAILABLE}, True, R.UNAVAILABLE),
        (req(1, 3), FREE, True, R.REJECTED),  # no such connector
        (req(1, 1, expiry=NOW - 1), FREE, True, R.REJECTED),
        (req(1, 0), FREE, True, R.ACCEPTED),
        (req(1, 0), FREE, False, R.REJECTED),  # ReserveConnectorZeroSupported false
        (req(1, 0), {0: S.AVAILABLE, 1: S.CHARGING, 2: S.PREPARING}, True, R.OCCUPIED),
        (req(1, 0), {0: S.AVAILABLE, 1: S.FAULTED, 2: S.FAULTED}, True, R.FAULTED),
        (req(1, 0), {0: S.UNAVAILABLE, 1: S.AVAILABLE, 2: S.AVAILABLE}, True, R.UNAVAILABLE),
        # §5.13: "the Charge Point or the connector" Faulted / Unavailable, for one connector too
        (req(1, 1), FREE | {0: S.FAULTED}, True, R.FAULTED),
        (req(1, 1), FREE | {0: S.UNAVAILABLE}, True, R.UNAVAILABLE),
    ],
)
def test_reserve_now(
    payload: dict[str, Any], statuses: dict[int, S], zero_ok: bool, expected: R
) -> None:
    rs = Reservations([1, 2], connector_zero_supported=zero_ok)
    status, res = rs.reserve(payload, statuses, NOW)
    assert status is expected
    validate("ReserveNow", {"status": status}, response=True)
    assert (res is not None) is (expected is R.ACCEPTED)
    assert len(list(rs)) == (1 if expected is R.ACCEPTED else 0)


def test_same_reservation_id_replaces_and_other_id_is_occupied() -> None:
    rs = Reservations([1, 2], True)
    rs.reserve(req(7, 1, "A"), FREE, NOW)
    reserved = FREE | {1: S.RESERVED}
    assert rs.reserve(req(8, 1, "B"), reserved, NOW)[0] is R.OCCUPIED
    status, res = rs.reserve(req(7, 1, "C"), reserved, NOW)
    assert status is R.ACCEPTED and res is not None and res.id_tag == "C"
    status, _ = rs.reserve(req(7, 2, "C"), reserved, NOW)  # moved to connector 2
    assert status is R.ACCEPTED and rs.on_connector(1) is None
    assert [r.connector_id for r in rs] == [2]


def test_connector_zero_keeps_one_connector_free() -> None:
    rs = Reservations([1, 2], True)
    rs.reserve(req(1, 0, "VIP"), FREE, NOW)
    # Someone else may take connector 1: connector 2 stays free for VIP.
    assert not rs.blocks(1, "OTHER", None, FREE)
    busy = FREE | {1: S.CHARGING}
    assert rs.blocks(2, "OTHER", None, busy)  # the last free one is promised
    assert not rs.blocks(2, "vip", None, busy)
    match = rs.match(2, "VIP", None)
    assert match is not None and match.reservation_id == 1
    assert rs.reserve(req(2, 0, "VIP2"), busy, NOW)[0] is R.OCCUPIED


def test_connector_reservation_blocks_others_and_parent_matches() -> None:
    rs = Reservations([1], False)
    rs.reserve(req(5, 1, "OWNER", parent="FLEET"), FREE, NOW)
    assert rs.blocks(1, "STRANGER", None, FREE)
    assert not rs.blocks(1, "COLLEAGUE", "fleet", FREE)
    r = rs.match(1, "COLLEAGUE", "FLEET")
    assert r is not None and rs.consume(r.reservation_id) == r
    assert list(rs) == []


def test_cancel_and_expire() -> None:
    rs = Reservations([1, 2], True)
    rs.reserve(req(1, 1, expiry=NOW + 60), FREE, NOW)
    rs.reserve(req(2, 2, expiry=NOW + 30), FREE, NOW)
    assert rs.next_deadline() == NOW + 30
    assert rs.expire(NOW + 29.9) == []
    assert [r.reservation_id for r in rs.expire(NOW + 30)] == [2]
    status, gone = rs.cancel(1)
    assert status is CancelReservationStatus.ACCEPTED and gone is not None
    assert rs.cancel(1)[0] is CancelReservationStatus.REJECTED
    validate("CancelReservation", {"status": "Rejected"}, response=True)
    assert rs.next_deadline() is None


def test_reservation_round_trips_for_storage() -> None:
    r = Reservation.from_request(req(9, 2, "X", parent="P"))
    assert Reservation.from_request(r.to_request()) == r
