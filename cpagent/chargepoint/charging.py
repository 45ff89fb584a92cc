"""Per-connector charging: plug, card and remote start, relay, transactions, meter values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpagent.chargepoint import cards
from cpagent.chargepoint.authorization import AuthorizationStatus, IdTagInfo
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import DeEnergiseRelay, EnergiseRelay, SetCurrentLimit
from cpagent.chargepoint.connector import (
    ChargePointErrorCode,
    Connector,
    ConnectorStatus,
    Trigger,
)
from cpagent.chargepoint.ev_activity import ev_activity
from cpagent.chargepoint.meter_check import plausible
from cpagent.chargepoint.meter_reports import MeterReports
from cpagent.chargepoint.metering import Reading, ReadingContext, sampled_values
from cpagent.chargepoint.points import Point, StopIntent, Tx
from cpagent.chargepoint.store import QueuedMessage
from cpagent.chargepoint.tx_readings import TxReadings, add_stop_data, tx_log
from cpagent.redact import mask_id_tag
from hw.events import (
    CardPresented,
    DeviceFaulted,
    DeviceRecovered,
    MeterReadFailed,
    MeterSampled,
    PlugChanged,
)

if TYPE_CHECKING:
    from cpagent.chargepoint.chargepoint import ChargePoint

S = ConnectorStatus
T = Trigger
WARNINGS = frozenset({"ReaderFailure", "WeakSignal"})  # charging still possible (§4.9 note)


class Charging:
    """Drives each connector's status machine from hardware and protocol events."""

    def __init__(self, cp: ChargePoint, ids: list[int], now: float) -> None:
        self.cp = cp
        self.points = {cid: Point(Connector(cid, S.AVAILABLE, since=now)) for cid in [0, *ids]}
        for cid, p in self.points.items():
            if cp.store.get_meta(f"inoperative:{cid}") == "1":
                p.connector.status = S.UNAVAILABLE
            elif cid and any(r.connector_id == cid for r in cp.reservations):
                p.connector.status = S.RESERVED  # a stored reservation still holds (§5.13)
            if cid:
                cp.command(DeEnergiseRelay(cid))  # power-loss recovery: relays open first
        self.meters = MeterReports(cp)
        self.readings = TxReadings(self)
        for rec in cp.store.transactions():  # a transaction cut by a crash or power loss
            payload = {"idTag": rec.id_tag, "meterStop": round(rec.last_meter_wh),
                       "timestamp": to_wire(rec.last_meter_wall) if rec.last_meter_wall else None,
                       "reason": "PowerLoss"}
            cp.store.end_transaction(rec.local_id, payload, cp.boot_id, now)
            if rec.connector_id in self.points:  # the register now may be fresher (§4.10)
                self.readings.want_power_loss(self.points[rec.connector_id], rec, now)

    # -- helpers ------------------------------------------------------------------------------
    def _move(self, p: Point, trigger: Trigger, now: float, **kw: Any) -> None:
        c = p.connector
        if c.status is S.FAULTED and trigger not in (T.FAULT, T.FAULT_CLEARED):
            prev = c.before_fault
            c.before_fault = Connector(c.connector_id, prev).apply(trigger, now) if (
                prev is not None and Connector(c.connector_id, prev).can_apply(trigger)) else prev
        elif c.can_apply(trigger):
            c.apply(trigger, now, **kw)

    def _relay(self, p: Point, closed: bool) -> None:
        if p.relay != closed:
            p.relay = closed
            cid = p.connector.connector_id
            self.cp.command(EnergiseRelay(cid) if closed else DeEnergiseRelay(cid))

    def _wire_time(self, now: float) -> str | None:
        wall = self.cp.wall(now)
        return None if wall is None else to_wire(wall)

    def statuses(self) -> dict[int, ConnectorStatus]:
        return {cid: p.connector.status for cid, p in self.points.items()}

    def _point_for(self, source: str) -> Point | None:
        cid = self.cp.sources.get(source)
        if cid is None:
            return None
        if cid == 0 and len(self.points) == 2:
            cid = max(self.points)  # one connector: whole-charge-point readers serve it
        return self.points.get(cid)

    # -- inputs -------------------------------------------------------------------------------
    def hw_event(self, ev: object, now: float) -> None:
        if isinstance(ev, PlugChanged):
            p = self._point_for(ev.source)
            if p is not None and p.connector.connector_id:
                self._plug(p, ev.plugged, now)
        elif isinstance(ev, CardPresented):
            p = self._point_for(ev.source)
            self.card(p.connector.connector_id if p else 0, ev.id_tag, now)
        elif isinstance(ev, MeterSampled):
            p = self._point_for(ev.source)
            if p is not None and plausible(self, p, ev, now):
                p.sample, p.sample_at = ev.sample, now
                if p.energy_cap_wh is not None and ev.sample.energy_wh >= p.energy_cap_wh:
                    p.energy_cap_wh = None  # MaxEnergyOnInvalidId used up: suspend now
                    self._apply_limit(p, now, force=True)
                if self.meters.persist_due(p, now):
                    self.meters.persist(p, now)
                self.readings.sampled(p, ev, now)
                if (trigger := ev_activity(p, now)) is not None:
                    self._move(p, trigger, now)
        elif isinstance(ev, MeterReadFailed):
            p = self._point_for(ev.source)
            if p is not None:
                self.readings.failed(p, ev, now)
        elif isinstance(ev, DeviceFaulted | DeviceRecovered):
            p = self.points.get(self.cp.sources.get(ev.source, -1))
            if p is not None:
                self._fault(p, ev, now)

    def _fault(self, p: Point, ev: DeviceFaulted | DeviceRecovered, now: float) -> None:
        c = p.connector
        if isinstance(ev, DeviceFaulted):
            code = ChargePointErrorCode(ev.code)
            if ev.code in WARNINGS:
                c.warn(code, now, ev.detail[:50] or None)
                return
            p.faults.add(ev.source)
            self.cp.drop_reservations(p.connector.connector_id, now)  # §5.13 (3): Faulted
            if p.tx is not None:
                self.stop(p, "Other", now)
            self._relay(p, False)
            c.apply(T.FAULT, now, code, info=ev.detail[:50] or None,
                    vendor_error_code=ev.vendor_code[:50] or None)
        else:
            p.faults.discard(ev.source)
            if c.status is S.FAULTED and not p.faults:
                c.apply(T.FAULT_CLEARED, now)
            elif c.error_code is not ChargePointErrorCode.NO_ERROR and c.status is not S.FAULTED:
                c.warn(ChargePointErrorCode.NO_ERROR, now)

    def _plug(self, p: Point, plugged: bool, now: float) -> None:
        p.plugged = plugged
        status = p.connector.status
        if plugged:
            if p.tx is not None and status is S.SUSPENDED_EV:
                self._apply_limit(p, now, force=True)
            elif status is S.AVAILABLE:
                self._move(p, T.USAGE_INITIATED, now)
                p.since = now
            self._try_start(p, now)
            return
        if p.tx is not None:
            if self.cp.settings.get_bool("StopTransactionOnEVSideDisconnect"):
                self.stop(p, "EVDisconnected", now)
            else:
                self._relay(p, False)
                self._move(p, T.SUSPENDED_BY_EV, now)
        elif status in (S.PREPARING, S.FINISHING):
            p.auth = None
            self._end_session(p, now)

    def _end_session(self, p: Point, now: float) -> None:
        self._move(p, T.SESSION_ENDED, now)
        if p.unavailable_later:
            p.unavailable_later = False
            self._move(p, T.BECOME_UNAVAILABLE, now)

    def card(self, cid: int, id_tag: str, now: float) -> None:
        """A card was presented (connector 0: the reader serves the whole charge point)."""
        cards.presented(self, cid, id_tag, now)

    def _authorize(self, p: Point, id_tag: str, now: float, then: Any) -> None:
        cards.authorize(self, p, id_tag, now, then)

    def _choose(self, cid: int, id_tag: str) -> Point | None:
        if cid:
            return self.points.get(cid)
        connectors = [p for c, p in self.points.items() if c]
        # A shared reader never picks a Finishing connector: its cable is still in, maybe left
        # after a ConnectionTimeOut, and another driver's card must not start it (errata 3.20).
        for wanted in (lambda p: p.plugged and p.tx is None and p.auth is None
                       and p.connector.status is not S.FINISHING,
                       lambda p: p.auth is not None and p.auth[0].upper() == id_tag.upper(),
                       lambda p: p.tx is None and p.connector.status in (
                           S.AVAILABLE, S.RESERVED, S.PREPARING)):
            found = next((p for p in connectors if wanted(p)), None)
            if found is not None:
                return found
        return None

    def authorized(self, p: Point, id_tag: str, info: IdTagInfo | None, now: float) -> None:
        """`id_tag` may charge on this connector: Preparing, and start once plugged."""
        if p.tx is not None or p.connector.status in (S.FAULTED, S.UNAVAILABLE):
            return
        p.auth = (id_tag, info.parent_id_tag if info else None)
        if p.connector.status in (S.AVAILABLE, S.RESERVED, S.FINISHING):
            self._move(p, T.USAGE_INITIATED, now)
        p.since = now
        self._try_start(p, now)

    # -- transactions -------------------------------------------------------------------------
    def _try_start(self, p: Point, now: float) -> None:
        if p.auth is None or not p.plugged or p.tx is not None or self.cp.firmware.blocks_charging:
            return  # §5.19: no new transaction while a firmware image waits to be installed
        if p.connector.status is not S.PREPARING:
            return
        self.readings.want_start(p, now)  # begin() follows with a fresh reading (<= 1 s)

    def begin(self, p: Point, reading: Reading, now: float) -> None:
        """Start the transaction with meterStart `reading` (fresh, OCPP 1.6 §4.8), if it may
        still start."""
        if p.auth is None or not p.plugged or p.tx is not None or self.cp.firmware.blocks_charging:
            return
        if p.connector.status is not S.PREPARING:
            return
        cid = p.connector.connector_id
        id_tag, parent = p.auth
        meter = round(reading.energy_wh)
        payload: dict[str, Any] = {"connectorId": cid, "idTag": id_tag, "meterStart": meter,
                                   "timestamp": self._wire_time(now)}
        res = self.cp.reservations.match(cid, id_tag, parent)
        if res is not None:
            payload["reservationId"] = res.reservation_id
            self.cp.reservations.consume(res.reservation_id)
            self.cp.store.save_reservations(self.cp.reservations)
        local = self.cp.store.begin_transaction(cid, id_tag, float(meter), payload,
                                                self.cp.boot_id, now)
        p.tx = Tx(local, id_tag, parent, now, meter_start_wh=float(meter))
        tx_log.info("connector %d: transaction started (local #%d), idTag %s, meterStart %d Wh",
                  cid, local, mask_id_tag(id_tag), meter)
        self.meters.started(p, now)
        begin = sampled_values(reading, self.cp.settings.get_list("StopTxnSampledData"),
                               ReadingContext.TRANSACTION_BEGIN)
        if begin:  # the same reading as meterStart (§3.16)
            add_stop_data(p.tx, {"timestamp": payload["timestamp"], "sampledValue": begin}, now)
        if p.remote_profile is not None:
            self.cp.profiles.set(cid, p.remote_profile, {cid: None})
            self._save_profiles()
            p.remote_profile = None
        self._apply_limit(p, now, force=True)

    def stop(self, p: Point, reason: str, now: float, id_tag: str | None = None) -> None:
        """End the connector's transaction: relay open, StopTransaction queued (once)."""
        tx = p.tx
        if tx is None:
            return
        self._relay(p, False)  # first: the final reading is taken with the relay open
        self.readings.want_stop(p, StopIntent(tx, reason, id_tag, now), now)
        p.tx = None
        p.auth = None
        p.deauthorized, p.energy_cap_wh = False, None
        cid = p.connector.connector_id
        if self.cp.profiles.transaction_ended(cid):
            self._save_profiles()
        if p.limit_a is not None:
            p.limit_a = None
            self.cp.command(SetCurrentLimit(cid, None))
        if p.plugged:
            self._move(p, T.STOPPED_AWAITING_USER, now)
        else:
            self._end_session(p, now)

    def _save_profiles(self) -> None:
        self.cp.store.save_profiles((q.connector_id, q.raw) for q in self.cp.profiles)

    def queued_answered(self, item: QueuedMessage, answer: dict[str, Any] | None,
                        now: float, transaction_id: int | None = None) -> None:
        """A queued transaction message was answered (None: given up); `transaction_id`: what
        a StartTransaction's transaction is known by from now on (-1: errata 3.18)."""
        p = next((q for q in self.points.values()
                  if q.tx is not None and q.tx.local_id == item.local_tx), None)
        if item.action == "StartTransaction" and p is not None and p.tx is not None:
            p.tx.transaction_id = transaction_id
            tx_log.info("connector %d: transaction local #%d is transactionId %s",
                        p.connector.connector_id, p.tx.local_id, transaction_id)
        if answer is None or not isinstance(answer.get("idTagInfo"), dict):
            return
        try:
            info = IdTagInfo.from_wire(answer["idTagInfo"])
        except (KeyError, TypeError, ValueError):
            return  # an odd idTagInfo: the message is delivered, the tag's status unknown
        id_tag = item.payload.get("idTag")
        if id_tag:
            self.cp.remember_id_tag(id_tag, info)
        if item.action != "StartTransaction" or p is None or p.tx is None:
            return
        if info.parent_id_tag and not p.tx.parent:
            p.tx.parent = info.parent_id_tag  # §3.10: group members may now stop it
        if info.status is not AuthorizationStatus.ACCEPTED:
            cards.invalidated(self, p, info, item.payload.get("meterStart"), now)

    def _apply_limit(self, p: Point, now: float, force: bool = False) -> None:
        """Smart charging: limit in A to the current limiter; 0 A opens the relay."""
        if p.tx is None:
            return
        cid = p.connector.connector_id
        wall = self.cp.wall(now)
        running = {c: self.cp.wall(q.tx.start_mono) for c, q in self.points.items()
                   if q.tx is not None} if wall is not None else {}
        limit = None if wall is None else self.cp.profiles.shares_a(wall, running).get(cid)
        if limit != p.limit_a:
            p.limit_a = limit
            self.cp.command(SetCurrentLimit(cid, limit))
        elif not force:
            return
        if not p.plugged:
            return
        if limit == 0 or (p.deauthorized and p.energy_cap_wh is None):
            self._relay(p, False)  # 0 A, or an idTag refused by StartTransaction.conf (C5)
            self._move(p, T.SUSPENDED_BY_EVSE, now)
        elif p.connector.status in (S.PREPARING, S.SUSPENDED_EVSE, S.SUSPENDED_EV):
            self._relay(p, True)
            self._move(p, T.CHARGING, now)

    # -- time ---------------------------------------------------------------------------------
    def registered(self, now: float) -> None:
        """BootNotification accepted: report every connector's status (§4.2)."""
        for p in self.points.values():
            p.connector.request_report()

    def tick(self, now: float) -> None:
        timeout = self.cp.settings.get_int("ConnectionTimeOut")
        for p in self.points.values():
            if p.tx is None and p.connector.status is S.PREPARING and now >= p.since + timeout:
                p.auth = None
                if p.plugged:  # B6 (errata 3.20): the cable stays in, so not Available
                    p.connector.apply(T.STOPPED_AWAITING_USER, now)
                else:
                    self._end_session(p, now)  # B1: ConnectionTimeOut (errata 3.21)
        self.meters.tick(self.points.values(), now)
        self.readings.tick(self.points.values(), now)
        wall = self.cp.wall(now)
        if wall is None:
            return
        for res in self.cp.reservations.expire(wall):
            self.unreserved(res.connector_id, now)
        for p in self.points.values():
            self._apply_limit(p, now)

    def poll(self, now: float) -> None:
        """Hand out due StatusNotifications (only while accepted, or triggered while Pending:
        §4.2)."""
        pending = self.cp.session.is_connected and self.cp.registration == "Pending"
        if not self.cp.online and not pending:
            return
        minimum = self.cp.settings.get_int("MinimumStatusDuration")
        for p in self.points.values():
            if pending and not p.connector.report_requested:
                continue
            report = p.connector.due(now, minimum)
            if report is None:
                continue
            payload: dict[str, Any] = {"connectorId": report.connector_id,
                                       "errorCode": str(report.error_code),
                                       "status": str(report.status)}
            if report.info:
                payload["info"] = report.info
            if report.vendor_error_code:
                payload["vendorErrorCode"] = report.vendor_error_code
            when = self._wire_time(report.since)
            if when is not None:
                payload["timestamp"] = when
            self.cp.request("StatusNotification", payload, triggered=pending)

    def next_deadline(self) -> float | None:
        times: list[float] = []
        timeout = self.cp.settings.get_int("ConnectionTimeOut")
        minimum = self.cp.settings.get_int("MinimumStatusDuration")
        for p in self.points.values():
            if p.tx is None and p.connector.status is S.PREPARING:
                times.append(p.since + timeout)
            if self.cp.online and (d := p.connector.next_deadline(minimum)) is not None:
                times.append(d)
        offset = self.cp.clock.offset_s
        if offset is not None:
            walls = [self.cp.reservations.next_deadline()]
            for p in self.points.values():
                if p.tx is not None:
                    now_wall = self.cp.wall(None) or 0.0
                    walls.append(self.cp.profiles.next_change(
                        p.connector.connector_id, now_wall, 86400, self.cp.wall(p.tx.start_mono)))
            times += [w - offset for w in walls if w is not None]
        times += self.meters.deadlines(self.points.values())
        times += self.readings.deadlines(self.points.values())
        return min(times, default=None)

    # -- operations for the central system's requests -------------------------------------------
    def unreserved(self, cid: int, now: float) -> None:
        p = self.points.get(cid)
        if p is not None and p.connector.status is S.RESERVED:
            self._move(p, T.RESERVATION_ENDED, now)
