"""A connector's devices fault and recover each on its own: Faulted while any fault is in
force (OCPP 1.6 §4.9 I-row), reported with the errorCode of the fault in force (§7.6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cpagent.chargepoint.connector import ConnectorStatus
from hw.events import DeviceFaulted, DeviceRecovered

from .rig import Rig

RELAY, METER, EVSE = "connector1:relay", "connector1:meter", "connector1:evse"
WELDED = DeviceFaulted(RELAY, "PowerSwitchFailure", "contactor feedback disagrees")
METER_DOWN = DeviceFaulted(METER, "PowerMeterFailure", "no answer from unit 1")
RCD = DeviceFaulted(EVSE, "GroundFailure", "RCD tripped", vendor_code="ResidualCurrent")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, sources={"connector1": 1, RELAY: 1, METER: 1, EVSE: 1})
    r.connect()
    r.clear()
    yield r
    r.store.close()


def reports(rig: Rig) -> list[tuple[str, str, Any]]:
    return [
        (p["status"], p["errorCode"], p.get("vendorErrorCode"))
        for p in rig.sent("StatusNotification")
        if p["connectorId"] == 1
    ]


def test_the_meter_recovering_leaves_a_welded_contactor_faulted(rig: Rig) -> None:
    rig.event(WELDED)
    rig.event(METER_DOWN)
    rig.event(DeviceRecovered(METER))
    assert rig.cp.charging.points[1].connector.status is ConnectorStatus.FAULTED
    assert reports(rig) == [
        ("Faulted", "PowerSwitchFailure", None),
        ("Faulted", "PowerMeterFailure", None),
        ("Faulted", "PowerSwitchFailure", None),  # the fault in force again (§7.6)
    ]
    rig.event(DeviceRecovered(RELAY))
    assert reports(rig)[-1] == ("Available", "NoError", None)  # I1: every fault gone


def test_the_relay_recovering_first_reports_the_fault_still_in_force(rig: Rig) -> None:
    rig.event(RCD)
    rig.event(WELDED)
    rig.event(DeviceRecovered(RELAY))
    assert reports(rig)[-1] == ("Faulted", "GroundFailure", "ResidualCurrent")
    rig.event(DeviceRecovered(EVSE))
    assert reports(rig)[-1] == ("Available", "NoError", None)


def test_a_recovery_of_a_device_that_never_faulted_changes_nothing(rig: Rig) -> None:
    rig.event(WELDED)
    rig.event(DeviceRecovered(METER))
    assert reports(rig) == [("Faulted", "PowerSwitchFailure", None)]
