"""The charger model's behaviour: plug, card and fault events, transactions, limits, time."""

from __future__ import annotations

from collections.abc import Mapping

from cpagent.chargepoint import cards
from cpagent.chargepoint.authorization import IdTagInfo
from cpagent.chargepoint.charger import ChargerState
from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import DeEnergiseRelay, SetCurrentLimit
from cpagent.chargepoint.connector import ChargePointErrorCode, ConnectorStatus, Trigger
from cpagent.chargepoint.ev_activity import ev_activity
from cpagent.chargepoint.faults import report_fault
from cpagent.chargepoint.meter_check import MeterVerdict
from cpagent.chargepoint.meter_reports import MeterReports
from cpagent.chargepoint.metering import Reading, ReadingContext, sampled_values
from cpagent.chargepoint.pilot_offer import VEHICLE_PRESENT, current_to_offer, offer, pilot_trigger
from cpagent.chargepoint.points import Point, StopIntent, Tx
from cpagent.chargepoint.ports import Host
from cpagent.chargepoint.smart_charging import Electrical
from cpagent.chargepoint.store import Store
from cpagent.chargepoint.tx_readings import TxReadings, add_stop_data, tx_log
from cpagent.redact import mask_id_tag
from hw.events import (
    CardPresented,
    DeviceFaulted,
    DeviceRecovered,
    MeterReadFailed,
    MeterSampled,
    PilotChanged,
    PlugChanged,
)

S = ConnectorStatus
T = Trigger
WARNINGS = frozenset({"ReaderFailure", "WeakSignal"})  # charging still possible (§4.9 note)


class Charging(ChargerState):
    """Drives each connector's status machine from hardware events, answers and time.

    Inputs: `hw_event`, `tick`, `queued_answered` (a transaction message's answer), and the
    intents (`model.ChargerModel`). Outputs through the `Host`: hardware commands, plain
    calls; transaction messages go into the store's durable queue.
    """

    def __init__(
        self,
        host: Host,
        store: Store,
        ids: list[int],
        now: float,
        *,
        sources: Mapping[str, int] | None = None,
        electrical: Electrical | None = None,
        reserve_connector_zero: bool = True,
    ) -> None:
        super().__init__(
            host,
            store,
            ids,
            now,
            sources=sources,
            electrical=electrical,
            reserve_connector_zero=reserve_connector_zero,
        )
        for cid, p in self.points.items():
            if store.get_meta(f"inoperative:{cid}") == "1":
                p.connector.status = S.UNAVAILABLE
            elif cid and any(r.connector_id == cid for r in self.reservations):
                p.connector.status = S.RESERVED  # a stored reservation still holds (§5.13)
            if cid:
                host.command(DeEnergiseRelay(cid))  # power-loss recovery: relays open first
        self.meters = MeterReports(host, store, self.profiles.electrical)
        self.readings = TxReadings(host, store, self.profiles.electrical, self.points, self.begin)
        for rec in store.transactions():  # a transaction cut by a crash or power loss
            stamp = to_wire(rec.last_meter_wall) if rec.last_meter_wall else None
            host.transaction_ended(
                rec.local_id,
                round(rec.last_meter_wh),
                stamp,
                "PowerLoss",
                rec.id_tag,
                None,
                now,
                held=True,
            )
        for held in store.held_stops():  # the register now may be fresher (§4.10)
            if held.connector_id in self.points:
                p = self.points[held.connector_id]
                self.readings.want_restart_read(p, held.local_id, held.meter_stop_wh, now)
            else:
                store.release_stop(held.local_id)  # no meter for it any more: as queued

    # -- helpers ------------------------------------------------------------------------------
    def _wire_time(self, now: float) -> str | None:
        wall = self.host.wall(now)
        return None if wall is None else to_wire(wall)

    # -- inputs -------------------------------------------------------------------------------
    def hw_event(self, ev: object, now: float) -> None:
        if isinstance(ev, PlugChanged):
            p = self.point_for(ev.source)
            if p is not None and p.connector.connector_id and p.pilot is None:
                self._plug(p, ev.plugged, now)  # with a pilot, the pilot tells (below)
        elif isinstance(ev, CardPresented):
            p = self.point_for(ev.source)
            self.card(p.connector.connector_id if p else 0, ev.id_tag, now)
        elif isinstance(ev, MeterSampled):
            p = self.point_for(ev.source)
            if p is not None and self._plausible(p, ev, now):
                p.sample, p.sample_at = ev.sample, now
                if p.energy_cap_wh is not None and ev.sample.energy_wh >= p.energy_cap_wh:
                    p.energy_cap_wh = None  # MaxEnergyOnInvalidId used up: suspend now
                    self.apply_limit(p, now, force=True)
                if self.meters.persist_due(p, now):
                    self.meters.persist(p, now)
                self.readings.sampled(p, ev, now)
                if p.pilot is None and (trigger := ev_activity(p, now)) is not None:
                    self.move(p, trigger, now)
        elif isinstance(ev, PilotChanged):
            p = self.point_for(ev.source)
            if p is not None and p.connector.connector_id:
                self._pilot(p, ev.pilot, now)
        elif isinstance(ev, MeterReadFailed):
            p = self.point_for(ev.source)
            if p is not None:
                self.readings.failed(p, ev, now)
        elif isinstance(ev, DeviceFaulted | DeviceRecovered):
            p = self.points.get(self.sources.get(ev.source, -1))
            if p is not None:
                self._fault(p, ev, now)

    def _pilot(self, p: Point, pilot: str, now: float) -> None:
        """The control pilot is the truth about the vehicle (IEC 61851-1 Annex A): A unplugged,
        B/C/D plugged; during a transaction B is SuspendedEV, C/D Charging (OCPP 1.6 §4.9)."""
        p.pilot = pilot
        if pilot == "A" and p.plugged:
            offer(self.host, p, 0.0)  # no vehicle: nothing offered until the next transaction
            self._plug(p, False, now)
        elif pilot in VEHICLE_PRESENT and not p.plugged:
            self._plug(p, True, now)
        self._pilot_status(p, now)

    def _pilot_status(self, p: Point, now: float) -> None:
        if (trigger := pilot_trigger(p)) is not None:
            self.move(p, trigger, now)

    def _fault(self, p: Point, ev: DeviceFaulted | DeviceRecovered, now: float) -> None:
        c = p.connector
        if isinstance(ev, DeviceFaulted):
            code = ChargePointErrorCode(ev.code)
            if ev.code in WARNINGS:
                c.warn(code, now, ev.detail[:50] or None)
                return
            p.faults.add(ev)
            self.drop_reservations(p.connector.connector_id, now)  # §5.13 (3): Faulted
            if p.tx is not None:
                self.stop(p, "Other", now)
            self.relay(p, False)
            offer(self.host, p, 0.0)
            report_fault(c, ev, now)
        else:
            p.faults.discard(ev.source)
            left = p.faults.in_force()
            if c.status is S.FAULTED and left is None:
                c.apply(T.FAULT_CLEARED, now)
            elif c.status is S.FAULTED and left is not None:
                report_fault(c, left, now, unless_reported=True)  # the one in force (§7.6)
            elif c.error_code is not ChargePointErrorCode.NO_ERROR and c.status is not S.FAULTED:
                c.warn(ChargePointErrorCode.NO_ERROR, now)

    def _plausible(self, p: Point, ev: MeterSampled, now: float) -> bool:
        """Meter plausibility (`meter_check`): a register that jumps more than the connector's
        maximum power allows, or goes backwards, is a meter fault (PowerMeterFailure), never
        the floor for later readings: one such reading is a warning (error code, status
        kept), several in a row fault the connector (its transaction ends with the last
        plausible reading)."""
        e = self.profiles.electrical
        verdict, why = p.meter_check.check(
            ev.sample.energy_wh, now, e.voltage_v * e.phases * e.max_current_a
        )
        c, source = p.connector, f"{ev.source}:plausibility"
        if verdict is MeterVerdict.OK:
            if c.error_code is ChargePointErrorCode.POWER_METER_FAILURE and not p.faults:
                c.warn(ChargePointErrorCode.NO_ERROR, now)  # the glitch is over
            return True
        if verdict is MeterVerdict.RECOVERED:
            tx_log.warning("connector %d: meter plausible again: %s", c.connector_id, why)
            self._fault(p, DeviceRecovered(source), now)
            return True
        tx_log.warning("connector %d: meter reading refused (%s): %s", c.connector_id, verdict, why)
        if verdict is MeterVerdict.FAULTED:
            self._fault(p, DeviceFaulted(source, "PowerMeterFailure", why), now)
        elif c.status is not S.FAULTED:
            c.warn(ChargePointErrorCode.POWER_METER_FAILURE, now, why[:50])
        if ev.request is not None:  # the reading asked for is unusable: as if it failed
            self.readings.failed(p, MeterReadFailed(ev.source, ev.request, why), now)
        return False

    def _plug(self, p: Point, plugged: bool, now: float) -> None:
        p.plugged = plugged
        status = p.connector.status
        if plugged:
            if p.tx is not None and status is S.SUSPENDED_EV:
                self.apply_limit(p, now, force=True)
            elif status is S.AVAILABLE:
                self.move(p, T.USAGE_INITIATED, now)
                p.since = now
            self._try_start(p, now)
            return
        if p.tx is not None:
            if self.host.settings.get_bool("StopTransactionOnEVSideDisconnect"):
                self.stop(p, "EVDisconnected", now)
            else:
                self.relay(p, False)
                self.move(p, T.SUSPENDED_BY_EV, now)
        elif status in (S.PREPARING, S.FINISHING):
            p.auth = None
            self.end_session(p, now)

    def card(self, cid: int, id_tag: str, now: float) -> None:
        """A card was presented (connector 0: the reader serves the whole charge point)."""
        cards.presented(self, cid, id_tag, now)

    def authorized(self, p: Point, id_tag: str, info: IdTagInfo | None, now: float) -> None:
        """`id_tag` may charge on this connector: Preparing, and start once plugged."""
        if p.tx is not None or p.connector.status in (S.FAULTED, S.UNAVAILABLE):
            return
        p.auth = (id_tag, info.parent_id_tag if info else None)
        if p.connector.status in (S.AVAILABLE, S.RESERVED, S.FINISHING):
            self.move(p, T.USAGE_INITIATED, now)
        p.since = now
        self._try_start(p, now)

    # -- transactions -------------------------------------------------------------------------
    def _try_start(self, p: Point, now: float) -> None:
        if p.auth is None or not p.plugged or p.tx is not None or self.blocks_charging:
            return  # §5.19: no new transaction while a firmware image waits to be installed
        if p.connector.status is not S.PREPARING:
            return
        self.readings.want_start(p, now)  # begin() follows with a fresh reading (<= 1 s)

    def begin(self, p: Point, reading: Reading, now: float) -> None:
        """Start the transaction with meterStart `reading` (fresh, OCPP 1.6 §4.8), if it may
        still start."""
        if p.auth is None or not p.plugged or p.tx is not None or self.blocks_charging:
            return
        if p.connector.status is not S.PREPARING:
            return
        cid = p.connector.connector_id
        id_tag, parent = p.auth
        meter = round(reading.energy_wh)
        stamp = self._wire_time(now)
        res = self.reservations.match(cid, id_tag, parent)
        if res is not None:
            self.reservations.consume(res.reservation_id)
            self.store.save_reservations(self.reservations)
        reservation = res.reservation_id if res is not None else None
        local = self.host.transaction_started(cid, id_tag, meter, stamp, reservation, now)
        p.tx = Tx(local, id_tag, parent, now, meter_start_wh=float(meter))
        tx_log.info(
            "connector %d: transaction started (local #%d), idTag %s, meterStart %d Wh",
            cid,
            local,
            mask_id_tag(id_tag),
            meter,
        )
        self.meters.started(p, now)
        begin = sampled_values(
            reading,
            self.host.settings.get_list("StopTxnSampledData"),
            ReadingContext.TRANSACTION_BEGIN,
        )
        if begin:  # the same reading as meterStart (§3.16)
            add_stop_data(p.tx, {"timestamp": stamp, "sampledValue": begin}, now)
        if p.remote_profile is not None:
            self.profiles.set(cid, p.remote_profile, {cid: None})
            self.save_profiles()
            p.remote_profile = None
        self.apply_limit(p, now, force=True)

    def stop(self, p: Point, reason: str, now: float, id_tag: str | None = None) -> None:
        """End the connector's transaction: relay open, StopTransaction queued (once)."""
        tx = p.tx
        if tx is None:
            return
        offer(self.host, p, 0.0)  # the EV stops drawing (no PWM) before the contactor opens
        self.relay(p, False)  # first: the final reading is taken with the relay open
        self.readings.want_stop(p, StopIntent(tx, reason, id_tag, now), now)
        p.tx = None
        p.auth = None
        p.deauthorized, p.energy_cap_wh = False, None
        cid = p.connector.connector_id
        if self.profiles.transaction_ended(cid):
            self.save_profiles()
        if p.limit_a is not None:
            p.limit_a = None
            self.host.command(SetCurrentLimit(cid, None))
        if p.plugged:
            self.move(p, T.STOPPED_AWAITING_USER, now)
        else:
            self.end_session(p, now)

    def apply_limit(self, p: Point, now: float, force: bool = False) -> None:
        """Smart charging: limit in A to the current limiter; 0 A opens the relay."""
        if p.tx is None:
            return
        cid = p.connector.connector_id
        wall = self.host.wall(now)
        running = (
            {c: self.host.wall(q.tx.start_mono) for c, q in self.points.items() if q.tx is not None}
            if wall is not None
            else {}
        )
        limit = None if wall is None else self.profiles.shares_a(wall, running).get(cid)
        if limit != p.limit_a:
            p.limit_a = limit
            self.host.command(SetCurrentLimit(cid, limit))
        elif not force:
            return
        if not p.plugged:
            return
        if p.pilot is not None:  # an EVSE controller: offer min(rating, limit), status by pilot
            refused = p.deauthorized and p.energy_cap_wh is None  # C5, as below
            rating = self.profiles.electrical.rating_a(cid)  # this connector's max_current_a
            offer(self.host, p, current_to_offer(rating, limit, refused))
            self.relay(p, p.offered_a > 0)
            self._pilot_status(p, now)
            return
        if limit == 0 or (p.deauthorized and p.energy_cap_wh is None):
            self.relay(p, False)  # 0 A, or an idTag refused by StartTransaction.conf (C5)
            self.move(p, T.SUSPENDED_BY_EVSE, now)
        elif p.connector.status in (S.PREPARING, S.SUSPENDED_EVSE, S.SUSPENDED_EV):
            self.relay(p, True)
            self.move(p, T.CHARGING, now)

    # -- time ---------------------------------------------------------------------------------
    def registered(self, now: float) -> None:
        """BootNotification accepted: report every connector's status (§4.2)."""
        for p in self.points.values():
            p.connector.request_report()

    def tick(self, now: float) -> None:
        timeout = self.host.settings.get_int("ConnectionTimeOut")
        for p in self.points.values():
            if p.tx is None and p.connector.status is S.PREPARING and now >= p.since + timeout:
                p.auth = None
                if p.plugged:  # B6 (errata 3.20): the cable stays in, so not Available
                    p.connector.apply(T.STOPPED_AWAITING_USER, now)
                else:
                    self.end_session(p, now)  # B1: ConnectionTimeOut (errata 3.21)
        self.meters.tick(self.points.values(), now)
        self.readings.tick(self.points.values(), now)
        wall = self.host.wall(now)
        if wall is None:
            return
        for res in self.reservations.expire(wall):
            self.unreserved(res.connector_id, now)
        for p in self.points.values():
            self.apply_limit(p, now)

    def next_deadline(self) -> float | None:
        times: list[float] = []
        timeout = self.host.settings.get_int("ConnectionTimeOut")
        minimum = self.host.settings.get_int("MinimumStatusDuration")
        for p in self.points.values():
            if p.tx is None and p.connector.status is S.PREPARING:
                times.append(p.since + timeout)
            if self.host.online and (d := p.connector.next_deadline(minimum)) is not None:
                times.append(d)
        offset = self.host.clock_offset_s
        if offset is not None:
            walls = [self.reservations.next_deadline()]
            for p in self.points.values():
                if p.tx is not None:
                    now_wall = self.host.wall(None) or 0.0
                    walls.append(
                        self.profiles.next_change(
                            p.connector.connector_id,
                            now_wall,
                            86400,
                            self.host.wall(p.tx.start_mono),
                        )
                    )
            times += [w - offset for w in walls if w is not None]
        times += self.meters.deadlines(self.points.values())
        times += self.readings.deadlines(self.points.values())
        return min(times, default=None)
