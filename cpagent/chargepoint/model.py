"""The charger model's intents: what a protocol adapter may ask of it, whatever its version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpagent.chargepoint import cards
from cpagent.chargepoint.authorization import AuthorizationStatus, IdTagInfo
from cpagent.chargepoint.charging import Charging
from cpagent.chargepoint.connector import ConnectorStatus, StatusReport, Trigger
from cpagent.chargepoint.reservations import ReservationStatus
from cpagent.chargepoint.smart_charging import ProfileStatus
from cpagent.chargepoint.tx_readings import tx_log

S = ConnectorStatus
T = Trigger


class ChargerModel(Charging):
    """The charger model with its intents (each one a request a central system can make).

    Theory of operation: the protocol adapter turns a request into one intent call and the
    intent's result into its answer; the model changes its own state, the hardware commands
    and notifications follow through the `Host`. Nothing outside the model changes a
    connector, a transaction, a reservation or a profile.
    """

    # -- availability (OCPP 1.6 §5.2, §4.9) -----------------------------------------------------
    def change_availability(self, cid: int, operative: bool, now: float) -> str:
        """Accepted, Scheduled (a transaction runs: at its end) or Rejected (no such id);
        connector 0 means all of them. Kept in the store across restarts."""
        if cid not in self.points:
            return "Rejected"
        targets = list(self.points) if cid == 0 else [cid]
        scheduled = False
        for c in targets:
            p = self.points[c]
            self.store.set_meta(f"inoperative:{c}", "0" if operative else "1")
            if operative:
                p.unavailable_later = False
                if self.state(p) is S.UNAVAILABLE:  # H1; any other state is operative already
                    self.move(p, T.BECOME_AVAILABLE, now)
                if p.plugged and p.tx is None and p.connector.status is S.AVAILABLE:
                    self.move(p, T.USAGE_INITIATED, now)  # §4.9 H2: already plugged in
                    p.since = now  # ConnectionTimeOut runs from here
            elif p.tx is not None:
                p.unavailable_later = scheduled = True
            else:
                self.drop_reservations(c, now, release=False)  # §5.13 (3); Reserved -> G8
                if self.state(p) in (S.PREPARING, S.FINISHING):  # B1/F1, then A8
                    p.auth = None
                    self.move(p, T.SESSION_ENDED, now)
                self.move(p, T.BECOME_UNAVAILABLE, now)
        return "Scheduled" if scheduled else "Accepted"

    def hold_for_install(self, now: float) -> set[int]:
        """A firmware image waits (§5.19): no new transaction; idle connectors Unavailable now,
        busy ones when their session ends. Returns the connectors held."""
        self.blocks_charging = True
        held: set[int] = set()
        for cid, p in self.points.items():
            if p.connector.status is S.UNAVAILABLE:
                continue
            held.add(cid)
            if p.tx is not None or self.state(p) in (S.PREPARING, S.FINISHING):
                p.unavailable_later = True
            else:
                self.move(p, T.BECOME_UNAVAILABLE, now)
        return held

    def release_install(self, held: set[int], now: float) -> None:
        """The installation failed: the held connectors are Available again, unless made
        Inoperative by ChangeAvailability meanwhile."""
        self.blocks_charging = False
        for cid in sorted(held):
            p = self.points[cid]
            if self.store.get_meta(f"inoperative:{cid}") == "1":
                continue  # ChangeAvailability Inoperative meanwhile: it stays so
            p.unavailable_later = False
            if self.state(p) is S.UNAVAILABLE:  # H1 (a held session may still be running)
                self.move(p, T.BECOME_AVAILABLE, now)

    def install_done(self) -> None:
        """The image is installed (a restart follows): charging is no longer blocked."""
        self.blocks_charging = False

    # -- transactions (§5.11, §5.12, §5.14) -----------------------------------------------------
    def remote_start(
        self, cid: int, id_tag: str, profile: Mapping[str, Any] | None, now: float
    ) -> bool:
        """Start on `cid` (0: the model chooses) for `id_tag`, authorizing first if
        AuthorizeRemoteTxRequests; the plug may come later. False: refused."""
        if self.blocks_charging:
            return False
        p = self.choose(cid, id_tag)
        if (
            p is None
            or p.tx is not None
            or p.connector.connector_id == 0
            or (p.connector.status in (S.FAULTED, S.UNAVAILABLE))
            or (
                self.reservations.blocks(
                    p.connector.connector_id, id_tag, self.parent_of(id_tag), self.statuses()
                )
            )
        ):
            return False  # §5.13: the reservation's group may use it too
        p.remote_profile = dict(profile) if profile is not None else None
        if self.host.settings.get_bool("AuthorizeRemoteTxRequests"):
            cards.authorize(
                self, p, id_tag, now, lambda info: self.authorized(p, id_tag, info, now)
            )
        else:
            self.authorized(p, id_tag, None, now)
        return True

    def remote_stop(self, transaction_id: int, now: float) -> bool:
        """Stop the transaction known by `transaction_id`; False: none is."""
        for p in self.points.values():
            if p.tx is not None and p.tx.transaction_id == transaction_id:
                self.stop(p, "Remote", now)
                return True
        return False

    def transaction_answered(
        self,
        local_tx: int | None,
        started: bool,
        transaction_id: int | None,
        id_tag: str | None,
        info: IdTagInfo | None,
        meter_start: Any,
        now: float,
    ) -> None:
        """A transaction message was answered or given up: for a start (`started`), what its
        transaction is known by from now on (-1: errata 3.18); `info`: the idTag's status in
        the answer, if it had a usable one."""
        p = next(
            (q for q in self.points.values() if q.tx is not None and q.tx.local_id == local_tx),
            None,
        )
        if started and p is not None and p.tx is not None:
            p.tx.transaction_id = transaction_id
            tx_log.info(
                "connector %d: transaction local #%d is transactionId %s",
                p.connector.connector_id,
                p.tx.local_id,
                transaction_id,
            )
        if info is None:
            return
        if id_tag:
            self.remember_id_tag(id_tag, info, now)
        if not started or p is None or p.tx is None:
            return
        if info.parent_id_tag and not p.tx.parent:
            p.tx.parent = info.parent_id_tag  # §3.10: group members may now stop it
        if info.status is not AuthorizationStatus.ACCEPTED:
            cards.invalidated(self, p, info, meter_start, now)

    def stop_all(self, reason: str, now: float) -> None:
        """Stop every transaction with `reason` (a reset)."""
        for p in self.points.values():
            self.stop(p, reason, now)

    # -- reservations (§5.13) -------------------------------------------------------------------
    def reserve(self, req: Mapping[str, Any], now: float) -> ReservationStatus:
        wall = self.host.wall(now)
        if wall is None:
            return ReservationStatus.REJECTED
        before = {r.reservation_id: r.connector_id for r in self.reservations}
        status, res = self.reservations.reserve(req, self.statuses(), wall)
        if status is ReservationStatus.ACCEPTED and res is not None:
            old = before.get(res.reservation_id)
            if old is not None and old != res.connector_id:
                self.unreserved(old, now)
            p = self.points.get(res.connector_id)
            if res.connector_id and p is not None and p.connector.status is S.AVAILABLE:
                self.move(p, T.RESERVED, now)
            self.store.save_reservations(self.reservations)
        return status

    def cancel_reservation(self, reservation_id: int, now: float) -> str:
        status, gone = self.reservations.cancel(reservation_id)
        if gone is not None:
            self.unreserved(gone.connector_id, now)
            self.store.save_reservations(self.reservations)
        return str(status)

    # -- smart charging (§5.16, §5.5, §5.7) -----------------------------------------------------
    def set_profile(self, cid: int, raw: Mapping[str, Any]) -> ProfileStatus:
        active = {c: p.tx.transaction_id for c, p in self.points.items() if p.tx is not None}
        status, _ = self.profiles.set(cid, raw, active)
        if status is ProfileStatus.ACCEPTED:
            self.save_profiles()
        return status

    def clear_profiles(self, req: Mapping[str, Any]) -> str:
        status, gone = self.profiles.clear(req)
        if gone:
            self.save_profiles()
        return str(status)

    def composite(self, req: Mapping[str, Any], now: float) -> dict[str, Any] | None:
        """The composite schedule asked for; None if the clock or the connector is unknown."""
        wall = self.host.wall(now)
        p = self.points.get(req["connectorId"])
        if wall is None or p is None:
            return None
        start = self.host.wall(p.tx.start_mono) if p.tx is not None else None
        running = {
            c: self.host.wall(q.tx.start_mono) for c, q in self.points.items() if q.tx is not None
        }
        return self.profiles.composite(req, wall, start, p.tx is not None, running)

    # -- authorization (§5.3, §5.10, §5.15) -----------------------------------------------------
    def clear_cache(self) -> None:
        self.cache.clear()
        self.store.save_cache([])

    def send_local_list(self, req: dict[str, Any], enabled: bool) -> str:
        status = self.local_list.update(req, enabled=enabled)
        if status == "Accepted":
            self.store.save_local_list(self.local_list.version, self.local_list.entries())
        return str(status)

    # -- reports (§4.9, §5.17) ------------------------------------------------------------------
    def request_status(self, cid: int | None) -> None:
        """Report `cid`'s status (None: every connector's) at the next chance."""
        for c, p in self.points.items():
            if cid is None or cid == c:
                p.connector.request_report()

    def status_reports(
        self, now: float, minimum_s: int, requested_only: bool
    ) -> list[StatusReport]:
        """Status changes due to be reported (MinimumStatusDuration); `requested_only`: only
        those asked for (by a trigger, or after a boot)."""
        out = []
        for p in self.points.values():
            if requested_only and not p.connector.report_requested:
                continue
            report = p.connector.due(now, minimum_s)
            if report is not None:
                out.append(report)
        return out

    def trigger_meter_values(self, cid: int | None, now: float) -> None:
        self.meters.trigger(self.points, cid, now)
