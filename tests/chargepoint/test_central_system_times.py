"""Date-times the central system sends, as the charge point reads them (OCPP 1.6 §3.14, §3.15).

The rig's scripted central system validates what it sends strictly, so the sloppy frames here
are fed to the charge point by hand, as a central system in the field would send them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from .rig import WALL0, Rig

IST = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    r.connect()
    r.clear()
    yield r
    r.store.close()


def naive(wall_s: float) -> str:
    """`datetime.utcnow().isoformat()` at `wall_s`: UTC, microseconds, no offset."""
    return (
        datetime.fromtimestamp(wall_s, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    )


def heartbeat_answered_with(rig: Rig, current_time: Callable[[float], str]) -> None:
    """The next Heartbeat is answered with `current_time(the central system's wall time)`."""
    rig.now += 300  # HeartbeatInterval from the BootNotification.conf
    rig.cp.tick(rig.now)
    (call,) = [json.loads(f) for f in rig.cp.drain_frames() if '"Heartbeat"' in f]
    answer = {"currentTime": current_time(WALL0 + rig.now)}
    rig.cp.receive(json.dumps([3, call[1], answer]), rig.now)


# (currentTime in a Heartbeat.conf, central system's clock minus ours after it, refused?)
ANSWERS = [
    (lambda w: naive(w + 3.5), 3.5, False),
    (lambda w: naive(w + 3.5)[:-7], 3.0, False),  # no fraction either: 3.5 s truncated
    (lambda w: datetime.fromtimestamp(w + 2, IST).isoformat(), 2.0, False),  # +05:30
    (lambda w: "yesterday, ten o'clock", 0.0, True),
    (lambda w: naive(w)[:10], 0.0, True),  # a date without a time
]


@pytest.mark.parametrize(("current_time", "ahead_s", "refused"), ANSWERS)
def test_a_heartbeat_answer_sets_the_clock_or_is_refused_loudly(
    rig: Rig,
    current_time: Callable[[float], str],
    ahead_s: float,
    refused: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    heartbeat_answered_with(rig, current_time)
    assert rig.cp.wall(rig.now) == pytest.approx(WALL0 + rig.now + ahead_s, abs=1e-3)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
        and "Heartbeat answer from the central system fails its schema" in r.getMessage()
    ]
    if refused:
        assert len(warnings) == 1 and "currentTime" in warnings[0], warnings
    else:
        assert warnings == []


def sloppy_call(rig: Rig, message_id: str, action: str, payload: dict[str, object]) -> list[object]:
    """Feed a CALL no strict central system would send; return the charge point's answer."""
    rig.cp.receive(json.dumps([2, message_id, action, payload]), rig.now)
    frames = [json.loads(f) for f in rig.cp.drain_frames()]
    (answer,) = [f for f in frames if f[1] == message_id]
    for frame in frames:
        if frame is not answer:
            rig.csms.receive(json.dumps(frame), rig.now)  # e.g. StatusNotification Reserved
    rig.pump()
    return answer


def test_a_request_with_an_offset_less_date_is_served_a_malformed_one_refused(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    expiry = naive(WALL0 + rig.now + 600)
    reserve = {"connectorId": 1, "expiryDate": expiry, "idTag": "VIP", "reservationId": 5}
    assert sloppy_call(rig, "r1", "ReserveNow", reserve) == [3, "r1", {"status": "Accepted"}]
    bad = {**reserve, "expiryDate": "2026-02-30T10:00:00", "reservationId": 6}
    error = sloppy_call(rig, "r2", "ReserveNow", bad)
    assert error[:3] == [4, "r2", "PropertyConstraintViolation"]
    assert "expiryDate" in str(error[3])
    lines = [
        r.getMessage() for r in caplog.records if "ReserveNow from the central" in r.getMessage()
    ]
    assert len(lines) == 1 and "PropertyConstraintViolation" in lines[0]
    assert rig.statuses(1)[-1:] == ["Reserved"]
    rig.advance(599)
    assert rig.statuses(1)[-1:] == ["Reserved"]
    rig.advance(1)  # the offset-less expiryDate was read as UTC: it expires exactly now
    assert rig.statuses(1)[-1:] == ["Available"]
