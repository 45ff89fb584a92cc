"""What the charger model needs from the protocol adapter around it, as narrow Protocols."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from cpagent.chargepoint.authorization import AuthorizationCache, IdTagInfo, LocalList
from cpagent.chargepoint.commands import Command
from cpagent.chargepoint.connector import ConnectorStatus
from cpagent.chargepoint.points import Point
from cpagent.chargepoint.reservations import Reservations

OnAnswer = Callable[[dict[str, Any] | None, float], None]
"""What a sender does with a call's answer payload (None: no answer, or offline)."""

OnAuthorized = Callable[[IdTagInfo | None, float], None]
"""What the model does with the central system's word on an idTag (None: no answer)."""


class Options(Protocol):
    """The charger's options by their OCPP 1.6 key names (`settings.Settings`; a 2.0.1 adapter
    answers the same names from its device model)."""

    @property
    def specs(self) -> Any:
        """The keys offered (name -> spec)."""
        ...

    def get_bool(self, name: str) -> bool: ...
    def get_int(self, name: str) -> int: ...
    def get_list(self, name: str) -> tuple[str, ...]: ...


class Host(Protocol):
    """The protocol adapter as the model sees it: time, the link, and the two outputs."""

    @property
    def settings(self) -> Options: ...

    @property
    def online(self) -> bool:
        """Connected and accepted: a request to the central system can be answered now."""
        ...

    @property
    def clock_offset_s(self) -> float | None:
        """Wall minus monotonic seconds, None while the wall clock is unknown."""
        ...

    def wall(self, mono: float | None) -> float | None:
        """Wall seconds for monotonic `mono` (None: the latest known), or None if unknown."""
        ...

    def command(self, cmd: Command) -> None:
        """A command to the hardware (relay, current limit, meter read, restart)."""
        ...

    def transaction_started(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: int,
        stamp: str | None,
        reservation_id: int | None,
        mono: float,
    ) -> int:
        """A transaction began: record it and queue its start message in one commit (the
        protocol's shape); returns its local id. `stamp`: None while the clock is unknown."""
        ...

    def transaction_ended(
        self,
        local_id: int,
        meter_stop_wh: int,
        stamp: str | None,
        reason: str,
        id_tag: str | None,
        transaction_data: list[dict[str, Any]] | None,
        mono: float,
        *,
        held: bool = False,
    ) -> None:
        """A transaction ended: mark it and queue its stop message in one commit (once);
        `held`: not sent until the store's `release_stop` (its final reading is awaited)."""
        ...

    def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        values: list[dict[str, Any]],
        *,
        local_tx: int | None = None,
        mono: float | None = None,
        triggered: bool = False,
    ) -> None:
        """Meter values to report: queued durably with transaction `local_tx` (stamped at
        `mono`), else a plain call (`triggered`: asked for by the central system)."""
        ...

    def authorize(self, id_tag: str, then: OnAuthorized) -> None:
        """Ask the central system about `id_tag` (OCPP 1.6 Authorize); `then` gets its answer."""
        ...

    def request(
        self,
        action: str,
        payload: dict[str, Any],
        on_answer: OnAnswer | None = None,
        *,
        triggered: bool = False,
    ) -> None:
        """A plain call to the central system (not a transaction message)."""
        ...


class Charger(Protocol):
    """The charger model as its card and reading helpers see it (`charging.Charging`)."""

    host: Host
    points: dict[int, Point]
    reservations: Reservations
    local_list: LocalList
    cache: AuthorizationCache

    def statuses(self) -> dict[int, ConnectorStatus]: ...
    def parent_of(self, id_tag: str) -> str | None: ...
    def remember_id_tag(self, id_tag: str, info: IdTagInfo, now: float) -> None: ...
    def choose(self, cid: int, id_tag: str) -> Point | None: ...
    def authorized(self, p: Point, id_tag: str, info: IdTagInfo | None, now: float) -> None: ...
    def stop(self, p: Point, reason: str, now: float, id_tag: str | None = None) -> None: ...
    def end_session(self, p: Point, now: float) -> None: ...
    def apply_limit(self, p: Point, now: float, force: bool = False) -> None: ...
