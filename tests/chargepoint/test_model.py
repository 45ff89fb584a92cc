"""The charger model: strict §4.9 moves, intents and snapshot, seen through the 1.6 adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cpagent.chargepoint.connector import ConnectorStatus, IllegalTransition, Trigger
from hw.events import CardPresented, DeviceFaulted, PilotChanged, PlugChanged

from .rig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    r.connect()
    r.clear()
    yield r
    r.store.close()


def charging(rig: Rig) -> None:
    rig.event(PlugChanged("1", True))
    rig.event(CardPresented("1", "CAFE01"))
    assert rig.cp.charging.points[1].connector.status is ConnectorStatus.CHARGING


def test_an_illegal_move_raises_naming_state_and_trigger(rig: Rig) -> None:
    p = rig.cp.charging.points[1]
    with pytest.raises(IllegalTransition) as caught:
        rig.cp.charging.move(p, Trigger.STOPPED_AWAITING_USER, rig.now)  # no A6 cell
    assert caught.value.state is ConnectorStatus.AVAILABLE
    assert caught.value.trigger is Trigger.STOPPED_AWAITING_USER
    assert (
        str(caught.value) == "connector 1: no transition from Available on stopped, awaiting user"
    )
    assert p.connector.status is ConnectorStatus.AVAILABLE  # nothing moved


def test_a_trigger_leading_where_the_connector_is_is_no_move(rig: Rig) -> None:
    p = rig.cp.charging.points[1]
    rig.cp.charging.move(p, Trigger.BECOME_AVAILABLE, rig.now)  # §4.9 diagonal A1: empty
    rig.advance(1)
    assert p.connector.status is ConnectorStatus.AVAILABLE
    assert rig.sent("StatusNotification") == []  # nothing to report


def test_operative_while_charging_is_accepted_and_moves_nothing(rig: Rig) -> None:
    charging(rig)
    rig.clear()
    assert rig.answer("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {
        "status": "Accepted"
    }
    assert rig.cp.charging.points[1].connector.status is ConnectorStatus.CHARGING
    assert rig.sent("StatusNotification") == []


def test_inoperative_while_faulted_in_preparing_returns_unavailable(rig: Rig) -> None:
    rig.event(PlugChanged("1", True))  # Preparing
    rig.event(DeviceFaulted("1", "GroundFailure", "test"))
    assert rig.answer("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {
        "status": "Accepted"
    }
    c = rig.cp.charging.points[1].connector
    assert c.status is ConnectorStatus.FAULTED
    assert c.before_fault is ConnectorStatus.UNAVAILABLE  # B1 then A8, kept for I8


def test_snapshot_shows_each_connector(rig: Rig) -> None:
    charging(rig)
    views = {v.connector_id: v for v in rig.cp.charging.snapshot()}
    assert sorted(views) == [0, 1]
    one = views[1]
    assert one.status is ConnectorStatus.CHARGING and one.plugged and one.relay_closed
    assert one.in_transaction and one.transaction_id is not None
    assert not views[0].in_transaction and views[0].status is ConnectorStatus.AVAILABLE


def test_a_pilot_state_of_a_vehicle_prepares_the_connector(rig: Rig) -> None:
    rig.event(PilotChanged("1", "B", "A"))  # IEC 61851-1 B: vehicle connected (§4.9 A2)
    views = {v.connector_id: v for v in rig.cp.charging.snapshot()}
    assert views[1].pilot == "B" and views[0].pilot is None
    assert views[1].status is ConnectorStatus.PREPARING and not views[1].relay_closed
    assert rig.hw_commands() == []  # nothing offered before a transaction
