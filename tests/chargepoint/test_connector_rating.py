"""Each connector is offered at most its own rating (IEC 61851-1 Table A.8; OCPP 1.6 §3.13):
min(its max_current_a, the smart-charging limit), 0 below 6 A."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.commands import SetOfferedCurrent
from cpagent.chargepoint.smart_charging import Electrical
from hw.events import CardPresented, PilotChanged

from .rig import Rig

RATINGS = {1: 16.0, 2: 32.0}  # a 16 A and a 32 A connector on one charge point


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    electrical = Electrical(max_current_a=max(RATINGS.values()), ratings=RATINGS)
    r = Rig(tmp_path, connectors=(1, 2), electrical=electrical)
    r.connect()
    for cid in RATINGS:
        r.event(PilotChanged(str(cid), "A", None))  # the controllers' first reads
    r.clear()
    yield r
    r.store.close()


def profile(purpose: str, limit: float, profile_id: int = 1) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2025-01-01T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


def start_both(rig: Rig) -> None:
    for cid in RATINGS:
        rig.event(PilotChanged(str(cid), "B", "A"))
        rig.event(CardPresented(str(cid), f"CAFE0{cid}"))
    assert len(rig.sent("StartTransaction")) == 2


def offered(rig: Rig) -> dict[int, float]:
    """The last current each connector's EVSE controller was told to offer."""
    return {c.connector_id: c.amps for c in rig.commands if isinstance(c, SetOfferedCurrent)}


def test_without_a_profile_each_connector_is_offered_its_own_rating(rig: Rig) -> None:
    start_both(rig)
    assert offered(rig) == {1: 16.0, 2: 32.0}


def test_a_32_a_profile_offers_16_a_on_the_16_a_connector_and_32_a_on_the_other(
    rig: Rig,
) -> None:
    payload = {"connectorId": 0, "csChargingProfiles": profile("TxDefaultProfile", 32.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    start_both(rig)
    assert offered(rig) == {1: 16.0, 2: 32.0}
    payload = {"connectorId": 0, "csChargingProfiles": profile("TxDefaultProfile", 20.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    assert offered(rig) == {1: 16.0, 2: 20.0}


def test_a_shared_charge_point_maximum_gives_what_the_16_a_connector_cannot_use_to_the_other(
    rig: Rig,
) -> None:
    # §3.13.3: the ChargePointMaxProfile caps the sum; a 16 A connector never takes half of 40
    payload = {"connectorId": 0, "csChargingProfiles": profile("ChargePointMaxProfile", 40.0)}
    assert rig.answer("SetChargingProfile", payload) == {"status": "Accepted"}
    start_both(rig)
    assert offered(rig) == {1: 16.0, 2: 24.0}


def test_without_a_pilot_current_offered_reports_the_connectors_own_rating(
    tmp_path: Path,
) -> None:
    electrical = Electrical(max_current_a=max(RATINGS.values()), ratings=RATINGS)
    rig = Rig(tmp_path, connectors=(1, 2), electrical=electrical)  # relay + plug, no pilot
    rig.connect()
    assert rig.sampled_on_trigger("Current.Offered") == 16.0
    rig.store.close()
