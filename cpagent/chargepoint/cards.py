"""What an idTag does at the charge point: stop its (group's) transaction, or authorize a start."""

from __future__ import annotations

import logging
from typing import Any

from cpagent.chargepoint.authorization import (
    AuthorizationStatus,
    AuthPolicy,
    IdTagInfo,
    Verdict,
    decide,
    describe,
    may_stop,
)
from cpagent.chargepoint.connector import ConnectorStatus
from cpagent.chargepoint.points import Point
from cpagent.chargepoint.ports import Charger
from cpagent.redact import mask_id_tag

_log = logging.getLogger(__name__)
Then = Any  # Callable[[IdTagInfo | None], None]: what an accepted idTag goes on to do


def presented(ch: Charger, cid: int, id_tag: str, now: float) -> None:
    """A card was presented (connector 0: the reader serves the whole charge point).

    Theory of operation: the same idTag, or one of the same group (parentIdTag known from
    the local list or cache), stops the running transaction at once without an Authorize
    (§4.1, §3.10). Otherwise the idTag is authorized (`authorize`); an accepted one stops a
    transaction of its group when Authorize.conf names that parent (so a second card of the
    family stops on the first tap, §4.10), else it may start one. A reservation that names a
    parentIdTag makes an idTag of unknown parent authorize first (§5.13). Every refusal is
    logged at INFO: a rejected card is never silent.
    """
    parent = ch.parent_of(id_tag)
    if _stop_by(ch, id_tag, parent, now):
        return
    p = ch.choose(cid, id_tag)
    if p is None:  # every connector busy: the card can only stop one (§3.10), ask below
        p = next(
            (
                q
                for q in ch.points.values()
                if q.tx is not None and q.tx.parent and (cid in (0, q.connector.connector_id))
            ),
            None,
        )
    if p is None or p.asking is not None:
        _log.info(
            "idTag %s presented on connector %d ignored: %s",
            mask_id_tag(id_tag),
            cid,
            "no connector can take it now"
            if p is None
            else "an Authorize for this connector is still unanswered",
        )
        return
    if p.auth is not None and p.auth[0].upper() == id_tag.upper():
        p.auth = None  # second presentation before start: usage ended (B1)
        if not p.plugged and p.connector.status is ConnectorStatus.PREPARING:
            ch.end_session(p, now)
        return
    c = p.connector.connector_id
    if ch.reservations.blocks(c, id_tag, parent, ch.statuses()):
        if parent is None and ch.reservations.wants_parent(c):
            # §5.13: parentIdTag not known locally: Authorize, then use the answer's
            authorize(ch, p, id_tag, now, lambda info: _reserved(ch, p, id_tag, info, now))
        else:
            _log.info(
                "idTag %s refused on connector %d: reserved for another idTag (OCPP 1.6 §5.13)",
                mask_id_tag(id_tag),
                c,
            )
        return
    authorize(ch, p, id_tag, now, lambda info: _accepted(ch, p, id_tag, info, now))


def authorize(ch: Charger, p: Point, id_tag: str, now: float, then: Then) -> None:
    """Decide locally (`decide`) or ask the central system; call `then(info)` if accepted.

    Each result is one INFO line naming its source, the idTag masked. No answer: decided as
    offline (§3.5.4). Authorize.conf goes into the cache (ChargerState.remember_id_tag).
    """
    policy = AuthPolicy.from_settings(ch.host.settings)
    d = decide(id_tag, ch.host.online, policy, ch.local_list, ch.cache, ch.host.wall(now))
    if d.verdict is not Verdict.ASK_CENTRAL:
        _log.info("Authorize %s", describe(id_tag, d.info, str(d.source)))
    if d.verdict is Verdict.ACCEPT:
        then(d.info)
    elif d.verdict is Verdict.ASK_CENTRAL:
        p.asking = id_tag

        def answered(info: IdTagInfo | None, when: float) -> None:
            p.asking = None
            if info is None:  # no answer: decide as offline (§3.5.4)
                off = decide(id_tag, False, policy, ch.local_list, ch.cache, ch.host.wall(when))
                _log.info(
                    "Authorize %s; the central system did not answer",
                    describe(id_tag, off.info, str(off.source)),
                )
                if off.verdict is Verdict.ACCEPT:
                    then(off.info)
                return
            _log.info("Authorize %s", describe(id_tag, info, "central system"))
            ch.remember_id_tag(id_tag, info, when)
            if info.status is AuthorizationStatus.ACCEPTED:
                then(info)

        ch.host.authorize(id_tag, answered)


def invalidated(ch: Charger, p: Point, info: IdTagInfo, meter_start: Any, now: float) -> None:
    """StartTransaction.conf refused the idTag (§3.5.4, §4.8 errata 3.17, §9.1
    StopTransactionOnInvalidId): true: stop, reason DeAuthorized; false: only stop energy
    delivery (relay open, SuspendedEVSE, C5) with the transaction left open, after at most
    MaxEnergyOnInvalidId Wh in all (0: at once)."""
    tag = mask_id_tag(p.tx.id_tag) if p.tx is not None else "?"
    if ch.host.settings.get_bool("StopTransactionOnInvalidId"):
        _log.info("StartTransaction: idTag %s %s: stopping (DeAuthorized)", tag, info.status)
        ch.stop(p, "DeAuthorized", now)
        return
    p.deauthorized = True
    allowance = ch.host.settings.get_int("MaxEnergyOnInvalidId")
    known = isinstance(meter_start, int | float)
    used = p.sample.energy_wh - float(meter_start) if known and p.sample is not None else 0.0
    if known and allowance > used:
        p.energy_cap_wh = float(meter_start) + allowance
    _log.info(
        "StartTransaction: idTag %s %s: energy delivery %s, transaction kept open "
        "(StopTransactionOnInvalidId false)",
        tag,
        info.status,
        f"stops after {allowance} Wh" if p.energy_cap_wh is not None else "stopped",
    )
    ch.apply_limit(p, now, force=True)


def _stop_by(ch: Charger, id_tag: str, parent: str | None, now: float) -> bool:
    """Stop the transaction this card may stop (same idTag, or same parentIdTag, §3.10)."""
    for running in ch.points.values():
        tx = running.tx
        if tx is not None and may_stop(tx.id_tag, tx.parent, id_tag, parent):
            ch.stop(running, "Local", now, id_tag)
            return True
    return False


def _accepted(ch: Charger, p: Point, id_tag: str, info: IdTagInfo | None, now: float) -> None:
    """An accepted card: it stops a transaction of its group (§4.10, §3.10: parentIdTag learnt
    from Authorize.conf, so the first tap stops), else it may start one."""
    if info is not None and info.parent_id_tag and _stop_by(ch, id_tag, info.parent_id_tag, now):
        return
    ch.authorized(p, id_tag, info, now)


def _reserved(ch: Charger, p: Point, id_tag: str, info: IdTagInfo | None, now: float) -> None:
    """Authorize.conf gave the parentIdTag: start only if the reservation admits it (§5.13)."""
    parent = info.parent_id_tag if info is not None else None
    if ch.reservations.blocks(p.connector.connector_id, id_tag, parent, ch.statuses()):
        _log.info(
            "idTag %s refused on connector %d: reserved for another idTag (OCPP 1.6 §5.13)",
            mask_id_tag(id_tag),
            p.connector.connector_id,
        )
        return
    ch.authorized(p, id_tag, info, now)
