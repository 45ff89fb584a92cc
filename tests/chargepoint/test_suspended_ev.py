"""SuspendedEV from meter power (OCPP 1.6 §4.9 C4, D3): relay closed, EV not drawing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.ev_activity import SUSPENDED_EV_AFTER_S, SUSPENDED_EV_POWER_W
from hw.events import CardPresented, PlugChanged

from .rig import Rig

LOW = SUSPENDED_EV_POWER_W - 1
HIGH = SUSPENDED_EV_POWER_W


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    r.connect()
    r.meter(1000.0)
    r.event(PlugChanged("1", True))
    r.event(CardPresented("1", "CAFE01"))
    assert r.cp.charging.points[1].relay
    r.clear()
    yield r
    r.store.close()


def samples(rig: Rig, powers: list[float], every_s: float = 10.0) -> None:
    for w in powers:
        rig.advance(every_s)
        rig.meter(1000.0, power_w=w)


def test_ev_that_stops_drawing_is_suspended_and_resumes(rig: Rig) -> None:
    n = int(SUSPENDED_EV_AFTER_S / 10)
    samples(rig, [LOW] * n)  # the first low sample starts the clock: n samples = n-1 periods
    assert rig.statuses(1) == []
    samples(rig, [LOW])
    assert rig.statuses(1) == ["SuspendedEV"]
    assert rig.cp.charging.points[1].relay  # the EV decides: the contactor stays closed
    samples(rig, [HIGH])
    assert rig.statuses(1) == ["SuspendedEV", "Charging"]


def test_a_short_pause_is_not_a_suspension(rig: Rig) -> None:
    n = int(SUSPENDED_EV_AFTER_S / 10)
    samples(rig, [LOW] * n + [HIGH] + [LOW] * n)
    assert rig.statuses(1) == []


def test_relay_open_is_not_suspended_ev(rig: Rig) -> None:
    rig.answer(
        "SetChargingProfile",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0}],
                },
            },
        },
    )
    rig.advance(1)
    assert rig.statuses(1) == ["SuspendedEVSE"]
    samples(rig, [0.0] * 10)
    assert rig.statuses(1) == ["SuspendedEVSE"]  # 0 W with the relay open says nothing
