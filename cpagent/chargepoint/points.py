"""Live per-connector state next to the status machine: plug, relay, authorization, transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cpagent.chargepoint.connector import Connector
from cpagent.chargepoint.metering import Reading


@dataclass(slots=True)
class Tx:
    local_id: int
    id_tag: str
    parent: str | None
    start_mono: float
    transaction_id: int | None = None
    next_sample: float | None = None


@dataclass(slots=True)
class Point:
    """One connector's live state next to its status machine."""

    connector: Connector
    plugged: bool = False
    relay: bool = False
    auth: tuple[str, str | None] | None = None  # (idTag, parentIdTag) allowed to start
    since: float = 0.0  # when Preparing began (ConnectionTimeOut)
    asking: str | None = None  # idTag in an Authorize.req
    tx: Tx | None = None
    sample: Reading | None = None
    persisted_at: float = float("-inf")
    persisted_wh: float = float("-inf")  # the register reading persisted last
    limit_a: float | None = None
    unavailable_later: bool = False
    remote_profile: dict[str, Any] | None = None
    faults: set[str] = field(default_factory=set)
    low_since: float | None = None  # first sample below the SuspendedEV power threshold
    deauthorized: bool = False  # StartTransaction.conf refused the idTag, tx kept (§3.5.4)
    energy_cap_wh: float | None = None  # register value up to which it may still charge then
