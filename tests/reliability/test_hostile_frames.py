"""Hostile OCPP-J frames at scale through a two-Session pair: nothing escapes, one answer each."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from cpagent.core import (
    CallAnswered,
    CallErrored,
    CallFailed,
    CallReceived,
    InternalError,
    InvalidPayload,
    Session,
)
from tests.reliability.mutations import CP_CALLS, CSMS_CALLS, hostile_text

VERSION = "ocpp1.6"
CI_FRAMES = 50_000  # ~8 s here; the core's own fuzz adds 100,000 random ones
LONG_FRAMES = 1_000_000
CALL_TIMEOUT_S = 5.0
STEP_S = 0.01  # time advances per frame, so damaged CALLs time out within 500 frames


def _reject(name: str) -> Any:
    raise ValueError(name)


def oracle(text: str) -> tuple[Any, Any]:
    """(message type, id) as read by the standard library, independently of the core."""
    try:
        msg = json.loads(text, parse_constant=_reject)
    except (ValueError, RecursionError):
        return None, None
    if type(msg) is not list or len(msg) < 2 or type(msg[1]) is not str:
        return None, None
    return msg[0], msg[1]


@dataclass
class Tally:
    """What one run saw; asserted by the tests."""

    frames: int = 0
    calls: int = 0  # hostile texts that were CALLs with a readable id
    answered_ok: int = 0  # ... of which the chargepoint's handler answered with a result
    cs_calls: int = 0
    cs_outcomes: dict[str, int] = field(default_factory=dict)  # id -> outcomes seen
    not_utf8: list[str] = field(default_factory=list)  # outgoing texts UTF-8 cannot carry
    escaped: list[tuple[str, str]] = field(default_factory=list)  # (exception, text)


def _receive(session: Session, text: str, now: float, tally: Tally) -> bool:
    """Session.receive, which must never raise; an escape is recorded, not hidden."""
    try:
        session.receive(text, now)
    except Exception as exc:  # noqa: BLE001 - the finding itself
        tally.escaped.append((type(exc).__name__, text))
        session.drain_frames()
        session.drain_events()
        return False
    return True


def _answer(cp: Session, now: float, tally: Tally) -> None:
    """The chargepoint's application: answer every CALL it is handed, validly if it can."""
    for event in cp.drain_events():
        if type(event) is CallReceived:
            known = CSMS_CALLS.get(event.action)
            try:
                if known is None:
                    raise InvalidPayload("no canned answer", None)
                cp.answer(event.message_id, known[1], now)
                tally.answered_ok += 1
            except InvalidPayload:
                cp.answer_error(event.message_id, InternalError("no answer"), now)


def _central_system(cs: Session, now: float, tally: Tally) -> None:
    for event in cs.drain_events():
        if type(event) is CallReceived:
            cs.answer(event.message_id, CP_CALLS[event.action][1], now)
        elif type(event) in (CallAnswered, CallErrored, CallFailed):
            mid = event.message_id  # type: ignore[union-attr]
            tally.cs_outcomes[mid] = tally.cs_outcomes.get(mid, 0) + 1


def _outgoing(session: Session, tally: Tally) -> list[str]:
    texts = [out.text for out in session.drain_frames()]
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            tally.not_utf8.append(text)
    return texts


def run(frames: int, seed: int) -> Tally:
    """Feed `frames` hostile texts to a chargepoint Session paired with a central system one."""
    rng = random.Random(seed)
    tally = Tally(frames=frames)
    cs = Session(VERSION, call_timeout=CALL_TIMEOUT_S)
    cp = Session(VERSION, call_timeout=CALL_TIMEOUT_S)
    cs.connected(0.0)
    cp.connected(0.0)
    ids = itertools.count()
    csms_actions = list(CSMS_CALLS)
    cp_actions = list(CP_CALLS)
    now = 0.0
    for n in range(frames):
        now += STEP_S
        cs.tick(now)
        cp.tick(now)
        if n % 50 == 0:  # real traffic both ways, some of it damaged below
            tally.cs_calls += 1
            action = rng.choice(csms_actions)
            cs.call(f"cs{next(ids)}", action, CSMS_CALLS[action][0], now)
            action = rng.choice(cp_actions)
            cp.call(f"cp{next(ids)}", action, CP_CALLS[action][0], now)
        to_cp = _outgoing(cs, tally)
        if rng.random() < 0.3 and to_cp and to_cp[0].startswith("[2,"):
            to_cp[0] = hostile_text(rng, *_call_parts(to_cp[0]))  # damaged on the way
        action = rng.choice(csms_actions)
        to_cp.append(hostile_text(rng, f"h{n}", action, CSMS_CALLS[action][0]))
        for text in to_cp:
            if not _receive(cp, text, now, tally):
                continue
            _answer(cp, now, tally)
            answers = [json.loads(t) for t in _outgoing(cp, tally)]
            _check_answers(text, answers, tally)
            for answer in answers:  # back to the central system, sometimes damaged
                wire = json.dumps(answer)
                cs.receive(wire if rng.random() < 0.9 else wire[: rng.randrange(len(wire))], now)
            _central_system(cs, now, tally)
        for text in _outgoing(cs, tally):  # the central system's answers to cp's CALLs
            cp.receive(text, now)
            _answer(cp, now, tally)
            for answer in _outgoing(cp, tally):
                cs.receive(answer, now)
                _central_system(cs, now, tally)
        cp.drain_events()
    while (deadline := cs.next_deadline()) is not None:  # the queue drains by timeouts
        cs.tick(deadline)
        cs.drain_frames()  # the link is gone: these go nowhere and time out in turn
        _central_system(cs, deadline, tally)
    return tally


def _call_parts(text: str) -> tuple[str, str, dict[str, Any]]:
    msg = json.loads(text)
    return msg[1], msg[2], msg[3]


def _code_units(mid: Any) -> Any:
    """An id as UTF-16 code units: a raw surrogate pair (only possible in an in-process str,
    never in a UTF-8 frame from a transport) and the character it encodes compare equal."""
    if type(mid) is not str:
        return mid
    return mid.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _check_answers(text: str, answers: list[list[Any]], tally: Tally) -> None:
    mtype, mid = oracle(text)
    mid = _code_units(mid)
    kinds = [a[0] for a in answers]
    assert all(k in (2, 3, 4) for k in kinds), (text, answers)
    replies = [_code_units(a[1]) for a in answers if a[0] in (3, 4)]
    if type(mtype) is int and mtype == 2:
        tally.calls += 1
        assert replies == [mid], f"CALL {text[:200]!r} got answers {answers!r}"
    elif type(mtype) is int and mtype in (3, 4):
        assert replies == [], f"a response {text[:200]!r} was answered: {answers!r}"
    else:
        assert replies in ([], [mid]), f"{text[:200]!r} got answers {answers!r}"


@pytest.mark.timeout(1800)
def test_hostile_frames_never_escape_and_every_call_gets_one_answer(long_form: bool) -> None:
    frames = LONG_FRAMES if long_form else CI_FRAMES
    tally = run(frames, seed=8)
    assert tally.escaped == []
    assert tally.not_utf8 == []  # every answer can be sent as a WebSocket text frame
    assert tally.calls > frames // 4  # the mix really is mostly readable CALLs
    assert tally.answered_ok > frames // 20  # and some got through validation to the handler
    # Every CALL the central system made ended exactly once: answered, errored or failed.
    assert len(tally.cs_outcomes) == tally.cs_calls
    assert set(tally.cs_outcomes.values()) == {1}


def test_answer_to_a_lone_surrogate_id_can_be_sent_as_utf8() -> None:
    cp = Session(VERSION)
    cp.connected(0.0)
    cp.receive('[2,"a\\ud800","Reset",{"type":"Soft"}]', 0.0)
    _answer(cp, 0.0, Tally())
    (answer,) = cp.drain_frames()
    answer.text.encode("utf-8")


SET_PROFILE_INFINITE_LIMIT = (
    '[2,"p1","SetChargingProfile",{"connectorId":1,"csChargingProfiles":{"chargingProfileId":7,'
    '"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Absolute",'
    '"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":'
    '[{"startPeriod":0,"limit":1e999}]}}}]'
)


def test_infinite_number_in_a_multiple_of_field_is_answered_not_raised() -> None:
    cp = Session(VERSION)
    cp.connected(0.0)
    cp.receive(SET_PROFILE_INFINITE_LIMIT, 0.0)
    (answer,) = cp.drain_frames()
    assert json.loads(answer.text)[:3] == [4, "p1", "PropertyConstraintViolation"]
