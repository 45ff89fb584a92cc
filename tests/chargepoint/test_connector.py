"""Connector status machine (OCPP 1.6 §4.9) and MinimumStatusDuration reporting."""

from __future__ import annotations

import pytest

from cpagent.chargepoint.connector import (
    TRANSITIONS,
    ChargePointErrorCode,
    Connector,
    ConnectorStatus,
    IllegalTransition,
    StatusReport,
    Trigger,
)

from .schemas import validate

S = ConnectorStatus
T = Trigger
E = ChargePointErrorCode

# Every non-fault cell of the §4.9 table, by its spec name.
SPEC_CELLS = {
    "A2": (S.AVAILABLE, S.PREPARING),
    "A3": (S.AVAILABLE, S.CHARGING),
    "A4": (S.AVAILABLE, S.SUSPENDED_EV),
    "A5": (S.AVAILABLE, S.SUSPENDED_EVSE),
    "A7": (S.AVAILABLE, S.RESERVED),
    "A8": (S.AVAILABLE, S.UNAVAILABLE),
    "B1": (S.PREPARING, S.AVAILABLE),
    "B3": (S.PREPARING, S.CHARGING),
    "B4": (S.PREPARING, S.SUSPENDED_EV),
    "B5": (S.PREPARING, S.SUSPENDED_EVSE),
    "B6": (S.PREPARING, S.FINISHING),
    "C1": (S.CHARGING, S.AVAILABLE),
    "C4": (S.CHARGING, S.SUSPENDED_EV),
    "C5": (S.CHARGING, S.SUSPENDED_EVSE),
    "C6": (S.CHARGING, S.FINISHING),
    "C8": (S.CHARGING, S.UNAVAILABLE),
    "D1": (S.SUSPENDED_EV, S.AVAILABLE),
    "D3": (S.SUSPENDED_EV, S.CHARGING),
    "D5": (S.SUSPENDED_EV, S.SUSPENDED_EVSE),
    "D6": (S.SUSPENDED_EV, S.FINISHING),
    "D8": (S.SUSPENDED_EV, S.UNAVAILABLE),
    "E1": (S.SUSPENDED_EVSE, S.AVAILABLE),
    "E3": (S.SUSPENDED_EVSE, S.CHARGING),
    "E4": (S.SUSPENDED_EVSE, S.SUSPENDED_EV),
    "E6": (S.SUSPENDED_EVSE, S.FINISHING),
    "E8": (S.SUSPENDED_EVSE, S.UNAVAILABLE),
    "F1": (S.FINISHING, S.AVAILABLE),
    "F2": (S.FINISHING, S.PREPARING),
    "F8": (S.FINISHING, S.UNAVAILABLE),
    "G1": (S.RESERVED, S.AVAILABLE),
    "G2": (S.RESERVED, S.PREPARING),
    "G8": (S.RESERVED, S.UNAVAILABLE),
    "H1": (S.UNAVAILABLE, S.AVAILABLE),
}


def test_table_is_exactly_the_spec_cells_plus_faults() -> None:
    pairs = {(a, b) for (a, _), b in TRANSITIONS.items() if b is not S.FAULTED}
    assert pairs == set(SPEC_CELLS.values())
    assert all(TRANSITIONS[(s, T.FAULT)] is S.FAULTED for s in S)


@pytest.mark.parametrize(
    ("state", "trigger", "expected"),
    [
        (S.AVAILABLE, T.USAGE_INITIATED, S.PREPARING),
        (S.PREPARING, T.CHARGING, S.CHARGING),
        (S.CHARGING, T.SUSPENDED_BY_EVSE, S.SUSPENDED_EVSE),
        (S.SUSPENDED_EVSE, T.CHARGING, S.CHARGING),
        (S.CHARGING, T.STOPPED_AWAITING_USER, S.FINISHING),
        (S.FINISHING, T.SESSION_ENDED, S.AVAILABLE),
        (S.RESERVED, T.USAGE_INITIATED, S.PREPARING),
        (S.RESERVED, T.RESERVATION_ENDED, S.AVAILABLE),
        (S.UNAVAILABLE, T.BECOME_AVAILABLE, S.AVAILABLE),
    ],
)
def test_legal_transitions(state: S, trigger: T, expected: S) -> None:
    c = Connector(1, status=state)
    assert c.apply(trigger, now=5.0) is expected
    assert c.status is expected


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        (S.AVAILABLE, T.SESSION_ENDED),
        (S.PREPARING, T.RESERVED),
        (S.CHARGING, T.USAGE_INITIATED),
        (S.UNAVAILABLE, T.USAGE_INITIATED),
        (S.FINISHING, T.CHARGING),
        (S.RESERVED, T.CHARGING),
        (S.AVAILABLE, T.FAULT_CLEARED),
    ],
)
def test_illegal_transition_names_state_and_trigger(state: S, trigger: T) -> None:
    c = Connector(2, status=state)
    with pytest.raises(IllegalTransition) as info:
        c.apply(trigger, now=0.0)
    assert str(state) in str(info.value) and str(trigger) in str(info.value)
    assert "connector 2" in str(info.value)
    assert c.status is state and not c.can_apply(trigger)


@pytest.mark.parametrize("state", [S.CHARGING, S.PREPARING, S.RESERVED, S.UNAVAILABLE])
def test_fault_carries_code_and_recovers_to_previous_state(state: S) -> None:
    c = Connector(1, status=state)
    c.apply(T.FAULT, 1.0, E.POWER_METER_FAILURE, info="meter silent")
    assert (c.status, c.error_code, c.info) == (S.FAULTED, E.POWER_METER_FAILURE, "meter silent")
    c.apply(T.FAULT, 2.0, E.POWER_SWITCH_FAILURE)  # a second fault keeps the way back
    assert c.apply(T.FAULT_CLEARED, 3.0) is state
    assert c.error_code is E.NO_ERROR


def test_fault_needs_an_error_code() -> None:
    with pytest.raises(ValueError, match="NoError"):
        Connector(1, status=S.AVAILABLE).apply(T.FAULT, 0.0)


@pytest.mark.parametrize(
    ("trigger", "legal"),
    [
        (T.BECOME_UNAVAILABLE, True),
        (T.FAULT, True),
        (T.USAGE_INITIATED, False),
        (T.RESERVED, False),
        (T.CHARGING, False),
    ],
)
def test_connector_zero_knows_three_states(trigger: T, legal: bool) -> None:
    assert Connector(0, status=S.AVAILABLE).can_apply(trigger) is legal


def test_error_code_wire_strings_match_the_schema() -> None:
    for code in E:
        validate("StatusNotification", {"connectorId": 0, "errorCode": code, "status": "Faulted"})
    for status in S:
        validate("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})


# MinimumStatusDuration: (events as (time, trigger)), min duration, polls -> reported statuses.
@pytest.mark.parametrize(
    ("events", "min_s", "polls", "expected"),
    [
        pytest.param([(0, T.USAGE_INITIATED)], 0, [0], [(S.PREPARING, 0)], id="immediate"),
        pytest.param([(0, T.USAGE_INITIATED)], 5, [4.9, 5], [None, (S.PREPARING, 0)], id="held"),
        pytest.param(
            [(0, T.USAGE_INITIATED), (2, T.SESSION_ENDED)],
            5,
            [3, 7, 8],
            [None, None, None],
            id="flip-back-never-sent",
        ),
        pytest.param(
            [(0, T.USAGE_INITIATED), (2, T.CHARGING)],
            5,
            [6, 7],
            [None, (S.CHARGING, 2)],
            id="only-the-stable-one",
        ),
    ],
)
def test_minimum_status_duration(
    events: list[tuple[float, T]],
    min_s: float,
    polls: list[float],
    expected: list[tuple[S, float] | None],
) -> None:
    c = Connector(1, status=S.AVAILABLE)
    c.reported = StatusReport(1, S.AVAILABLE, E.NO_ERROR, -10.0)
    for t, trig in events:
        c.apply(trig, float(t))
    got = []
    for t in polls:
        r = c.due(float(t), min_s)
        got.append(None if r is None else (r.status, r.since))
    assert got == expected


def test_next_deadline_and_forced_report() -> None:
    c = Connector(1, status=S.AVAILABLE)
    c.reported = StatusReport(1, S.AVAILABLE, E.NO_ERROR, 0.0)
    assert c.next_deadline(5) is None
    c.apply(T.USAGE_INITIATED, 10.0)
    assert c.next_deadline(5) == 15.0
    assert c.due(15.0, 5) is not None and c.next_deadline(5) is None
    c.request_report()  # TriggerMessage: send now even though nothing changed
    r = c.due(15.5, 5)
    assert r is not None and r.status is S.PREPARING and r.since == 10.0


def test_warning_reports_error_code_without_status_change() -> None:
    c = Connector(0, status=S.AVAILABLE)
    c.reported = StatusReport(0, S.AVAILABLE, E.NO_ERROR, 0.0)
    c.warn(E.READER_FAILURE, 1.0)
    r = c.due(1.0, 0)
    assert r is not None and (r.status, r.error_code) == (S.AVAILABLE, E.READER_FAILURE)
