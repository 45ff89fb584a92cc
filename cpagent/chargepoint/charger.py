"""The charger model's state in one place: connectors, authorization, reservations, limits."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cpagent.chargepoint.authorization import (
    AuthorizationCache,
    AuthorizationStatus,
    IdTagInfo,
    LocalList,
    id_tag_key,
)
from cpagent.chargepoint.commands import DeEnergiseRelay, EnergiseRelay
from cpagent.chargepoint.connector import (
    ChargePointErrorCode,
    Connector,
    ConnectorStatus,
    Trigger,
)
from cpagent.chargepoint.points import Point
from cpagent.chargepoint.ports import Host
from cpagent.chargepoint.reservations import Reservations
from cpagent.chargepoint.smart_charging import ChargingProfiles, Electrical, Profile
from cpagent.chargepoint.store import Store
from cpagent.redact import mask_id_tag

S = ConnectorStatus
T = Trigger
_log = logging.getLogger("cpagent.chargepoint.chargepoint")  # the journal's name for these


@dataclass(frozen=True, slots=True)
class ConnectorView:
    """One connector as the outside may see it (`ChargerState.snapshot`)."""

    connector_id: int
    status: ConnectorStatus
    plugged: bool
    relay_closed: bool
    pilot: str | None  # the EV's control pilot state (IEC 61851-1 A..F), None: not measured
    limit_a: float | None  # the current offered (smart charging), None: no limit
    offered_current_a: float | None  # what the EVSE controller offers; None: no controller
    transaction_id: int | None  # None: no transaction, or its id is not known yet
    in_transaction: bool
    energy_wh: float | None  # the latest register reading


class ChargerState:
    """Connectors (0: the whole charge point), the authorization cache and local list,
    reservations and charging profiles, loaded from the store and written back to it.

    Only the model (this class, `Charging` on top of it, and the helpers it hands itself to:
    `cards`, `tx_readings`, `meter_reports`, `meter_check`) changes this state; the protocol
    adapter reads `snapshot()` and calls the intents (`charging.Charging`).
    """

    def __init__(
        self,
        host: Host,
        store: Store,
        ids: list[int],
        now: float,
        *,
        sources: Mapping[str, int] | None,
        electrical: Electrical | None,
        reserve_connector_zero: bool,
    ) -> None:
        self.host = host
        self.store = store
        self.sources = dict(sources) if sources is not None else {str(i): i for i in ids}
        version, entries = store.load_local_list()
        self.local_list = LocalList(version, entries)
        self.cache = AuthorizationCache(entries=store.load_cache())
        self.reservations = Reservations(ids, reserve_connector_zero, store.load_reservations())
        self.profiles = ChargingProfiles(
            ids, electrical or Electrical(), [Profile.parse(c, p) for c, p in store.load_profiles()]
        )
        self.blocks_charging = False  # a firmware image waits to be installed (§5.19)
        self.points = {cid: Point(Connector(cid, S.AVAILABLE, since=now)) for cid in [0, *ids]}

    # -- reads --------------------------------------------------------------------------------
    def statuses(self) -> dict[int, ConnectorStatus]:
        return {cid: p.connector.status for cid, p in self.points.items()}

    def snapshot(self) -> tuple[ConnectorView, ...]:
        """Every connector's state, for status output and the protocol adapter."""
        return tuple(
            ConnectorView(
                cid,
                p.connector.status,
                p.plugged,
                p.relay,
                p.pilot,
                p.limit_a,
                p.offered_a if p.pilot is not None else None,
                p.tx.transaction_id if p.tx is not None else None,
                p.tx is not None,
                p.sample.energy_wh if p.sample is not None else None,
            )
            for cid, p in self.points.items()
        )

    def in_transaction(self) -> bool:
        """Any transaction open, or starting or ending while its meter reading is taken (the
        wall clock's offset stays frozen until none is)."""
        return any(
            p.tx is not None or p.reading is not None or p.closing for p in self.points.values()
        )

    def parent_of(self, id_tag: str) -> str | None:
        """The parentIdTag the local list or the cache knows for `id_tag`, if any."""
        info = self.local_list.get(id_tag) or self.cache.get(id_tag)
        return info.parent_id_tag if info else None

    def choose(self, cid: int, id_tag: str) -> Point | None:
        """The connector a card or a remote start on `cid` (0: any) is for."""
        if cid:
            return self.points.get(cid)
        connectors = [p for c, p in self.points.items() if c]
        # A shared reader never picks a Finishing connector: its cable is still in, maybe left
        # after a ConnectionTimeOut, and another driver's card must not start it (errata 3.20).
        for wanted in (
            lambda p: (
                p.plugged
                and p.tx is None
                and p.auth is None
                and p.connector.status is not S.FINISHING
            ),
            lambda p: p.auth is not None and p.auth[0].upper() == id_tag.upper(),
            lambda p: p.tx is None and p.connector.status in (S.AVAILABLE, S.RESERVED, S.PREPARING),
        ):
            found = next((p for p in connectors if wanted(p)), None)
            if found is not None:
                return found
        return None

    def point_for(self, source: str) -> Point | None:
        cid = self.sources.get(source)
        if cid is None:
            return None
        if cid == 0 and len(self.points) == 2:
            cid = max(self.points)  # one connector: whole-charge-point readers serve it
        return self.points.get(cid)

    # -- moves --------------------------------------------------------------------------------
    @staticmethod
    def state(p: Point) -> ConnectorStatus:
        """The connector's status, or while Faulted the one it returns to (I1..I8)."""
        c = p.connector
        return c.before_fault if c.status is S.FAULTED and c.before_fault else c.status

    def move(self, p: Point, trigger: Trigger, now: float, **kw: Any) -> None:
        """Move the connector along the §4.9 table; raises IllegalTransition (naming state
        and trigger) where the table has no cell.

        Two things are not moves: a trigger leading where the connector already is (the
        table's empty diagonal, A1..H8: `Connector.stays`), and, while Faulted, any trigger
        but FAULT / FAULT_CLEARED: it moves the state the connector returns to when the fault
        clears (I1..I8 lead back there), under the same rules."""
        c = p.connector
        if c.status is S.FAULTED and trigger not in (T.FAULT, T.FAULT_CLEARED):
            if c.before_fault is not None:
                before = Connector(c.connector_id, c.before_fault)
                if not before.stays(trigger):
                    c.before_fault = before.apply(trigger, now)
        elif not c.stays(trigger):
            c.apply(trigger, now, **kw)

    def relay(self, p: Point, closed: bool) -> None:
        if p.relay != closed:
            p.relay = closed
            cid = p.connector.connector_id
            self.host.command(EnergiseRelay(cid) if closed else DeEnergiseRelay(cid))

    def end_session(self, p: Point, now: float) -> None:
        self.move(p, T.SESSION_ENDED, now)
        if p.unavailable_later:
            p.unavailable_later = False
            self.move(p, T.BECOME_UNAVAILABLE, now)

    def unreserved(self, cid: int, now: float) -> None:
        p = self.points.get(cid)
        if p is not None and p.connector.status is S.RESERVED:
            self.move(p, T.RESERVATION_ENDED, now)

    def drop_reservations(self, connector_id: int, now: float, release: bool = True) -> None:
        """A connector (0: the charge point) going Faulted or Unavailable ends its reservations
        (§5.13 (3)); `release`: a Reserved connector becomes Available first (G1)."""
        gone = self.reservations.drop(connector_id)
        if not gone:
            return
        self.store.save_reservations(self.reservations)
        _log.info(
            "reservation %s ended: connector %d Faulted or Unavailable (OCPP 1.6 §5.13)",
            ", ".join(str(r.reservation_id) for r in gone),
            connector_id,
        )
        if release:
            for r in gone:
                self.unreserved(r.connector_id, now)

    def save_profiles(self) -> None:
        self.store.save_profiles((q.connector_id, q.raw) for q in self.profiles)

    # -- authorization ------------------------------------------------------------------------
    def remember_id_tag(self, id_tag: str, info: IdTagInfo, now: float) -> None:
        """Authorize/Start/Stop.conf idTagInfo goes into the cache (§3.5.1), unless the idTag is
        in the Local Authorization List (§3.5.3, §4.1, §4.8, §4.10: never cached); an answer
        that contradicts the list is reported as LocalListConflict on connector 0 (§3.5.2)."""
        settings = self.host.settings
        listed = self.local_list.get(id_tag) if settings.get_bool("LocalAuthListEnabled") else None
        if listed is not None:
            valid = {AuthorizationStatus.ACCEPTED, AuthorizationStatus.CONCURRENT_TX}
            mine = listed.effective(self.host.wall(None)).status
            if (mine in valid) != (info.status in valid):
                _log.warning(
                    "idTag %s: central system says %s, local list says %s "
                    "(LocalListConflict, OCPP 1.6 §3.5.2)",
                    mask_id_tag(id_tag),
                    info.status,
                    mine,
                )
                self.points[0].connector.warn(ChargePointErrorCode.LOCAL_LIST_CONFLICT, now)
            return
        if settings.get_bool("AuthorizationCacheEnabled"):
            evicted = self.cache.put(id_tag, info, self.host.wall(None))
            self.store.put_cache(id_tag_key(id_tag), info, evicted)
