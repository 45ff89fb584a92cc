"""Reservations (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation) with expiry and connector 0."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cpagent.chargepoint.clock import from_wire, to_wire
from cpagent.chargepoint.connector import OCCUPIED, ConnectorStatus


class ReservationStatus(StrEnum):
    """ReserveNow.conf status (§7.40)."""

    ACCEPTED = "Accepted"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    REJECTED = "Rejected"
    UNAVAILABLE = "Unavailable"


class CancelReservationStatus(StrEnum):
    """CancelReservation.conf status (§7.4)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


@dataclass(frozen=True, slots=True)
class Reservation:
    """One reservation; `expiry_s` is POSIX wall seconds; connector 0 = any connector."""

    reservation_id: int
    connector_id: int
    id_tag: str
    expiry_s: float
    parent_id_tag: str | None = None

    @classmethod
    def from_request(cls, payload: Mapping[str, Any]) -> Reservation:
        return cls(
            int(payload["reservationId"]),
            int(payload["connectorId"]),
            payload["idTag"],
            from_wire(payload["expiryDate"]),
            payload.get("parentIdTag"),
        )

    def to_request(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "connectorId": self.connector_id,
            "expiryDate": to_wire(self.expiry_s),
            "idTag": self.id_tag,
            "reservationId": self.reservation_id,
        }
        if self.parent_id_tag is not None:
            out["parentIdTag"] = self.parent_id_tag
        return out

    def matches(self, id_tag: str, parent_id_tag: str | None) -> bool:
        """The reserved idTag, or any idTag with the reservation's parentIdTag (§5.13)."""
        if id_tag.upper() == self.id_tag.upper():
            return True
        return (
            self.parent_id_tag is not None
            and parent_id_tag is not None
            and parent_id_tag.upper() == self.parent_id_tag.upper()
        )


class Reservations:
    """The reservations in force, keyed by reservationId.

    Theory of operation: a reservation on connector N holds that connector (its status
    becomes Reserved: the caller applies Trigger.RESERVED) until the reserved idTag starts
    a transaction there (`consume`), it expires (`expire`, due at `next_deadline`) or it is
    cancelled. A reservation on connector 0 (only with ReserveConnectorZeroSupported) holds
    no connector in particular: it keeps one Available connector free for its idTag, so
    other idTags may take a connector only while enough stay free (`blocks`).
    """

    def __init__(
        self,
        connector_ids: Iterable[int],
        connector_zero_supported: bool,
        entries: Iterable[Reservation] = (),
    ) -> None:
        self.connector_ids = frozenset(connector_ids)
        self.connector_zero_supported = connector_zero_supported
        self._by_id = {r.reservation_id: r for r in entries}

    def __iter__(self) -> Iterator[Reservation]:
        return iter(list(self._by_id.values()))

    def reserve(
        self, payload: Mapping[str, Any], statuses: Mapping[int, ConnectorStatus], wall_s: float
    ) -> tuple[ReservationStatus, Reservation | None]:
        """ReserveNow.req -> (status, the reservation now in force if Accepted).

        `statuses` maps every connector id (and 0) to its current status. The same
        reservationId replaces the earlier reservation (§5.13).
        """
        new = Reservation.from_request(payload)
        old = self._by_id.get(new.reservation_id)
        others = [r for r in self._by_id.values() if r.reservation_id != new.reservation_id]
        if new.expiry_s <= wall_s:
            return ReservationStatus.REJECTED, None
        if new.connector_id == 0:
            status = self._reserve_any(new, others, statuses)
        elif new.connector_id not in self.connector_ids:
            status = ReservationStatus.REJECTED
        else:
            status = self._reserve_one(new, old, others, statuses)
        if status is not ReservationStatus.ACCEPTED:
            return status, None
        self._by_id[new.reservation_id] = new
        return status, new

    def _reserve_one(
        self,
        new: Reservation,
        old: Reservation | None,
        others: list[Reservation],
        statuses: Mapping[int, ConnectorStatus],
    ) -> ReservationStatus:
        state = statuses.get(new.connector_id, ConnectorStatus.UNAVAILABLE)
        whole = statuses.get(0, ConnectorStatus.AVAILABLE)
        if whole in (ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE):
            state = whole  # §5.13: "if the Charge Point or the connector" is Faulted/Unavailable
        if state is ConnectorStatus.FAULTED:
            return ReservationStatus.FAULTED
        if state is ConnectorStatus.UNAVAILABLE:
            return ReservationStatus.UNAVAILABLE
        held_by_self = old is not None and old.connector_id == new.connector_id
        if (
            state in OCCUPIED
            or any(r.connector_id == new.connector_id for r in others)
            or (state is ConnectorStatus.RESERVED and not held_by_self)
        ):
            return ReservationStatus.OCCUPIED
        return ReservationStatus.ACCEPTED

    def _reserve_any(
        self, new: Reservation, others: list[Reservation], statuses: Mapping[int, ConnectorStatus]
    ) -> ReservationStatus:
        if not self.connector_zero_supported:
            return ReservationStatus.REJECTED
        whole = statuses.get(0, ConnectorStatus.AVAILABLE)
        if whole is ConnectorStatus.FAULTED:
            return ReservationStatus.FAULTED
        if whole is ConnectorStatus.UNAVAILABLE:
            return ReservationStatus.UNAVAILABLE
        own = [statuses.get(c, ConnectorStatus.UNAVAILABLE) for c in self.connector_ids]
        if own and all(s is ConnectorStatus.FAULTED for s in own):
            return ReservationStatus.FAULTED
        if own and all(s is ConnectorStatus.UNAVAILABLE for s in own):
            return ReservationStatus.UNAVAILABLE
        free = self._free(statuses, others)
        return ReservationStatus.ACCEPTED if free >= 1 else ReservationStatus.OCCUPIED

    def _free(self, statuses: Mapping[int, ConnectorStatus], zero: Iterable[Reservation]) -> int:
        """Available connectors not already promised to another connector-0 reservation."""
        available = sum(
            1 for c in self.connector_ids if statuses.get(c) is ConnectorStatus.AVAILABLE
        )
        return available - sum(1 for r in zero if r.connector_id == 0)

    def cancel(self, reservation_id: int) -> tuple[CancelReservationStatus, Reservation | None]:
        """CancelReservation.req (§5.1): Rejected when no such reservation exists."""
        gone = self._by_id.pop(reservation_id, None)
        if gone is None:
            return CancelReservationStatus.REJECTED, None
        return CancelReservationStatus.ACCEPTED, gone

    def on_connector(self, connector_id: int) -> Reservation | None:
        """The reservation holding connector `connector_id` specifically, if any."""
        return next((r for r in self._by_id.values() if r.connector_id == connector_id), None)

    def match(
        self, connector_id: int, id_tag: str, parent_id_tag: str | None
    ) -> Reservation | None:
        """The reservation an idTag uses by starting on this connector (its own, else a
        connector-0 one), to quote as StartTransaction.reservationId."""
        own = self.on_connector(connector_id)
        if own is not None:
            return own if own.matches(id_tag, parent_id_tag) else None
        return next(
            (
                r
                for r in self._by_id.values()
                if r.connector_id == 0 and r.matches(id_tag, parent_id_tag)
            ),
            None,
        )

    def blocks(
        self,
        connector_id: int,
        id_tag: str,
        parent_id_tag: str | None,
        statuses: Mapping[int, ConnectorStatus],
    ) -> bool:
        """Whether a reservation forbids this idTag to start on this connector."""
        own = self.on_connector(connector_id)
        if own is not None:
            return not own.matches(id_tag, parent_id_tag)
        zero = [
            r
            for r in self._by_id.values()
            if r.connector_id == 0 and not r.matches(id_tag, parent_id_tag)
        ]
        if not zero:
            return False
        if any(
            r.connector_id == 0 and r.matches(id_tag, parent_id_tag) for r in self._by_id.values()
        ):
            return False
        taking_free = statuses.get(connector_id) is ConnectorStatus.AVAILABLE
        return self._free(statuses, zero) - (1 if taking_free else 0) < 0

    def wants_parent(self, connector_id: int) -> bool:
        """Whether a reservation that applies here names a parentIdTag (§5.13: then an unknown
        idTag's parent must be learnt, from Authorize.conf, before it is refused)."""
        return any(
            r.parent_id_tag is not None and r.connector_id in (0, connector_id)
            for r in self._by_id.values()
        )

    def drop(self, connector_id: int) -> list[Reservation]:
        """Remove and return the reservations on a connector set Faulted or Unavailable
        (connector 0: the charge point, so all of them), §5.13 "terminated ... (3)"."""
        gone = [r for r in self._by_id.values() if connector_id in (0, r.connector_id)]
        for r in gone:
            del self._by_id[r.reservation_id]
        return gone

    def consume(self, reservation_id: int) -> Reservation | None:
        """The reserved idTag started its transaction: the reservation ends (§5.13)."""
        return self._by_id.pop(reservation_id, None)

    def expire(self, wall_s: float) -> list[Reservation]:
        """Remove and return reservations whose expiryDate has passed."""
        gone = [r for r in self._by_id.values() if r.expiry_s <= wall_s]
        for r in gone:
            del self._by_id[r.reservation_id]
        return gone

    def next_deadline(self) -> float | None:
        """Wall time of the next expiry, or None."""
        return min((r.expiry_s for r in self._by_id.values()), default=None)
