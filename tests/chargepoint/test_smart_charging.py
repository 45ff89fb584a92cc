"""Smart charging: SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, stacking."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.smart_charging import (
    ChargingProfiles,
    ClearStatus,
    Electrical,
    ProfileStatus,
)

from .schemas import validate

T0 = 1_764_460_800.0  # 2025-11-30T00:00:00Z, a midnight
NO_TX: dict[int, int | None] = {}
TX1: dict[int, int | None] = {1: 42}


def prof(
    pid: int,
    level: int,
    purpose: str,
    periods: list[tuple[int, float]],
    *,
    kind: str = "Absolute",
    start: float | None = T0,
    unit: str = "A",
    duration: int | None = None,
    recurrency: str | None = None,
    tx: int | None = None,
    valid_to: float | None = None,
) -> dict[str, Any]:
    sched: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods],
    }
    if start is not None:
        sched["startSchedule"] = to_wire(start)
    if duration is not None:
        sched["duration"] = duration
    p: dict[str, Any] = {
        "chargingProfileId": pid,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": sched,
    }
    if recurrency:
        p["recurrencyKind"] = recurrency
    if tx is not None:
        p["transactionId"] = tx
    if valid_to is not None:
        p["validTo"] = to_wire(valid_to)
    return p


def install(
    cp: ChargingProfiles, cid: int, p: dict[str, Any], active: dict[int, int | None] = NO_TX
) -> ProfileStatus:
    validate("SetChargingProfile", {"connectorId": cid, "csChargingProfiles": p})
    status, _ = cp.set(cid, p, active)
    validate("SetChargingProfile", {"status": status}, response=True)
    return status


@pytest.mark.parametrize(
    ("cid", "profile", "active", "expected"),
    [
        (0, prof(1, 0, "ChargePointMaxProfile", [(0, 32)]), NO_TX, ProfileStatus.ACCEPTED),
        (1, prof(1, 0, "ChargePointMaxProfile", [(0, 32)]), NO_TX, ProfileStatus.REJECTED),
        (0, prof(1, 0, "TxDefaultProfile", [(0, 16)]), NO_TX, ProfileStatus.ACCEPTED),
        (1, prof(1, 0, "TxProfile", [(0, 16)]), NO_TX, ProfileStatus.REJECTED),  # no transaction
        (1, prof(1, 0, "TxProfile", [(0, 16)]), TX1, ProfileStatus.ACCEPTED),
        (1, prof(1, 0, "TxProfile", [(0, 16)], tx=41), TX1, ProfileStatus.REJECTED),
        (0, prof(1, 0, "TxProfile", [(0, 16)]), TX1, ProfileStatus.REJECTED),
        (3, prof(1, 0, "TxDefaultProfile", [(0, 16)]), NO_TX, ProfileStatus.REJECTED),
        (
            1,
            prof(1, 9, "TxDefaultProfile", [(0, 16)]),
            NO_TX,
            ProfileStatus.REJECTED,
        ),  # > max level
        (
            1,
            prof(1, 0, "TxDefaultProfile", [(i * 60, 16) for i in range(25)]),
            NO_TX,
            ProfileStatus.REJECTED,
        ),  # > ChargingScheduleMaxPeriods
        (1, prof(1, 0, "TxDefaultProfile", [(10, 16)]), NO_TX, ProfileStatus.REJECTED),
        (1, prof(1, 0, "TxDefaultProfile", [(0, 16)], start=None), NO_TX, ProfileStatus.REJECTED),
        (
            1,
            prof(1, 0, "TxDefaultProfile", [(0, 16)], kind="Recurring"),
            NO_TX,
            ProfileStatus.REJECTED,
        ),  # recurrencyKind missing
    ],
)
def test_set_charging_profile(
    cid: int, profile: dict[str, Any], active: dict[int, int | None], expected: ProfileStatus
) -> None:
    assert install(ChargingProfiles([1, 2]), cid, profile, active) is expected


def test_same_id_or_same_level_and_purpose_replaces() -> None:
    cp = ChargingProfiles([1])
    install(cp, 1, prof(1, 0, "TxDefaultProfile", [(0, 16)]))
    install(cp, 1, prof(1, 0, "TxDefaultProfile", [(0, 10)]))
    install(cp, 1, prof(2, 0, "TxDefaultProfile", [(0, 8)]))
    assert [(p.profile_id, p.periods[0].limit) for p in cp] == [(2, 8.0)]
    assert cp.limit_a(1, T0) == 8.0


def test_stacking_purposes_and_caps() -> None:
    cp = ChargingProfiles([1, 2])
    install(cp, 0, prof(1, 0, "TxDefaultProfile", [(0, 16)]))
    install(cp, 0, prof(2, 1, "TxDefaultProfile", [(0, 10)], duration=3600))
    install(cp, 0, prof(3, 0, "ChargePointMaxProfile", [(0, 20), (7200, 6)]))
    install(cp, 1, prof(4, 0, "TxProfile", [(0, 25)]), TX1)
    assert cp.limit_a(2, T0 + 10) == 10.0  # level 1 wins while it runs
    assert cp.limit_a(2, T0 + 3600) == 16.0  # its duration is over: level 0
    assert cp.limit_a(1, T0 + 10, transaction_running=True) == 20.0  # TxProfile, capped
    assert cp.limit_a(1, T0 + 7200, transaction_running=True) == 6.0
    assert cp.limit_a(0, T0) == 20.0
    assert cp.limit_a(2, T0 - 1) is None  # nothing started yet
    assert cp.transaction_ended(1) and cp.limit_a(1, T0 + 10, transaction_running=True) == 10.0


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0, 0.0),
        (6 * 3600 - 1, 0.0),
        (6 * 3600, 16.0),
        (86400 + 3600, 0.0),
        (86400 * 5 + 7 * 3600, 16.0),
    ],
)
def test_daily_recurring_night_only(offset: int, expected: float) -> None:
    cp = ChargingProfiles([1])
    install(
        cp,
        1,
        prof(
            1, 0, "TxDefaultProfile", [(0, 0), (6 * 3600, 16)], kind="Recurring", recurrency="Daily"
        ),
    )
    assert cp.limit_a(1, T0 + offset) == expected  # 0 A = suspended (SuspendedEVSE)


def test_relative_follows_transaction_start_and_watts_convert() -> None:
    cp = ChargingProfiles([1], Electrical(voltage_v=230.0, phases=1))
    install(
        cp,
        1,
        prof(1, 0, "TxProfile", [(0, 2300), (600, 4600)], kind="Relative", start=None, unit="W"),
        TX1,
    )
    tx_start = T0 + 1000
    assert cp.limit_a(1, tx_start + 10, tx_start, transaction_running=True) == pytest.approx(10.0)
    assert cp.limit_a(1, tx_start + 600, tx_start, transaction_running=True) == pytest.approx(20.0)
    assert cp.next_change(1, tx_start + 10, 3600, tx_start) == tx_start + 600


def test_valid_to_ends_a_profile() -> None:
    cp = ChargingProfiles([1])
    install(cp, 1, prof(1, 0, "TxDefaultProfile", [(0, 6)], valid_to=T0 + 60))
    assert cp.limit_a(1, T0 + 59) == 6.0 and cp.limit_a(1, T0 + 60) is None


@pytest.mark.parametrize(
    ("request_", "left", "status"),
    [
        ({}, [], ClearStatus.ACCEPTED),
        ({"id": 2}, [1, 3], ClearStatus.ACCEPTED),
        ({"id": 9}, [1, 2, 3], ClearStatus.UNKNOWN),
        ({"connectorId": 1}, [1, 3], ClearStatus.ACCEPTED),
        ({"chargingProfilePurpose": "ChargePointMaxProfile"}, [1, 2], ClearStatus.ACCEPTED),
        ({"connectorId": 0, "stackLevel": 5}, [1, 2, 3], ClearStatus.UNKNOWN),
        ({"connectorId": 0, "stackLevel": 0}, [2], ClearStatus.ACCEPTED),
    ],
)
def test_clear_charging_profile(
    request_: dict[str, Any], left: list[int], status: ClearStatus
) -> None:
    cp = ChargingProfiles([1])
    install(cp, 0, prof(1, 0, "TxDefaultProfile", [(0, 16)]))
    install(cp, 1, prof(2, 1, "TxDefaultProfile", [(0, 10)]))
    install(cp, 0, prof(3, 0, "ChargePointMaxProfile", [(0, 20)]))
    validate("ClearChargingProfile", request_)
    got, _ = cp.clear(request_)
    assert got is status
    validate("ClearChargingProfile", {"status": got}, response=True)
    assert sorted(p.profile_id for p in cp) == left


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("A", [(0, 16.0), (1800, 10.0), (3600, 32.0)]),
        ("W", [(0, 3680.0), (1800, 2300.0), (3600, 7360.0)]),
    ],
)
def test_composite_schedule(unit: str, expected: list[tuple[int, float]]) -> None:
    cp = ChargingProfiles([1], Electrical(230.0, 1, max_current_a=32.0))
    install(cp, 1, prof(1, 0, "TxDefaultProfile", [(0, 16), (1800, 10)], duration=3600))
    request = {"connectorId": 1, "duration": 7200, "chargingRateUnit": unit}
    validate("GetCompositeSchedule", request)
    answer = cp.composite(request, T0)
    validate("GetCompositeSchedule", answer, response=True)
    periods = answer["chargingSchedule"]["chargingSchedulePeriod"]
    assert [(p["startPeriod"], p["limit"]) for p in periods] == expected
    assert answer["scheduleStart"] == to_wire(T0)


def test_composite_for_unknown_connector_is_rejected() -> None:
    answer = ChargingProfiles([1]).composite({"connectorId": 5, "duration": 60}, T0)
    assert answer == {"status": "Rejected"}
    validate("GetCompositeSchedule", answer, response=True)


def test_odd_watt_limits_still_validate() -> None:
    cp = ChargingProfiles([1], Electrical(230.0, 3))
    install(cp, 1, prof(1, 0, "TxDefaultProfile", [(0, 7.3), (60, 11111)], unit="W"))
    for unit in ("A", "W"):
        validate(
            "GetCompositeSchedule",
            cp.composite({"connectorId": 1, "duration": 120, "chargingRateUnit": unit}, T0),
            response=True,
        )


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        ({}, {1: 10.0, 2: 10.0}),  # nothing else limits: an equal share each
        ({1: 6.0}, {1: 6.0, 2: 14.0}),  # what connector 1 cannot use goes to connector 2
        ({1: 16.0, 2: 16.0}, {1: 10.0, 2: 10.0}),
    ],
)
def test_charge_point_max_is_shared_by_the_running_transactions(
    own: dict[int, float], expected: dict[int, float]
) -> None:
    """§3.13.3: "The combined energy flow of all connectors SHALL NOT be greater than the limit
    set by ChargePointMaxProfile"."""
    cp = ChargingProfiles([1, 2])
    install(cp, 0, prof(1, 0, "ChargePointMaxProfile", [(0, 20)]))
    for c, limit in own.items():
        install(cp, c, prof(10 + c, 0, "TxDefaultProfile", [(0, limit)]))
    shares = cp.shares_a(T0, {1: T0, 2: T0})
    assert shares == expected and sum(v for v in shares.values() if v) <= 20.0
    assert cp.shares_a(T0, {1: T0}) == {1: own.get(1, 20.0)}  # alone: the whole maximum


@pytest.mark.parametrize(
    ("cid", "profile", "active", "reason"),
    [
        (1, prof(7, 0, "TxDefaultProfile", [(0, 10)], start=None), NO_TX, "Absolute needs"),
        (1, prof(7, 0, "TxProfile", [(0, 10)]), NO_TX, "a TxProfile needs a transaction"),
        (1, prof(7, 0, "TxProfile", [(0, 10)], tx=41), TX1, "transaction 42 runs there"),
        (1, prof(7, 9, "TxDefaultProfile", [(0, 10)]), NO_TX, "stackLevel 9 above"),
        (1, prof(7, 0, "ChargePointMaxProfile", [(0, 10)]), NO_TX, "goes on connector 0"),
    ],
)
def test_a_rejected_profile_says_why_in_the_log(
    caplog: pytest.LogCaptureFixture,
    cid: int,
    profile: dict[str, Any],
    active: dict[int, int | None],
    reason: str,
) -> None:
    """The central system sees only Rejected (§5.16); the operator reads why in the log."""
    with caplog.at_level(logging.INFO, logger="cpagent.chargepoint.smart_charging"):
        status, _ = ChargingProfiles([1, 2]).set(cid, profile, active)
    assert status is ProfileStatus.REJECTED
    (line,) = caplog.messages
    assert line.startswith(f"SetChargingProfile 7 on connector {cid} rejected: ")
    assert reason in line
