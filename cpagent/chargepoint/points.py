"""Live per-connector state next to the status machine: plug, relay, authorization, transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cpagent.chargepoint.connector import Connector
from cpagent.chargepoint.faults import Faults
from cpagent.chargepoint.meter_check import MeterCheck
from cpagent.chargepoint.metering import Reading


@dataclass(slots=True)
class Tx:
    local_id: int
    id_tag: str
    parent: str | None
    start_mono: float
    transaction_id: int | None = None
    next_sample: float | None = None
    meter_start_wh: float = 0.0
    sample_interval: int = 0  # the MeterValueSampleInterval next_sample was computed with
    stop_data: list[dict[str, Any]] = field(default_factory=list)  # transactionData (§6.49)


@dataclass(frozen=True, slots=True)
class StopIntent:
    """A transaction being stopped: relay open, waiting for the final meter reading."""

    tx: Tx
    reason: str
    id_tag: str | None
    at: float  # monotonic time of the stop (the StopTransaction timestamp)


@dataclass(slots=True)
class PendingRead:
    """A fresh meter reading asked for at a transaction's start (stop None) or stop."""

    request: int
    deadline: float  # monotonic; after it, the best reading at hand is used
    stop: StopIntent | None = None
    warned: bool = False
    power_loss: tuple[int, float] | None = None  # (local id, persisted Wh) of a PowerLoss stop


@dataclass(slots=True)
class Point:
    """One connector's live state next to its status machine."""

    connector: Connector
    plugged: bool = False
    relay: bool = False
    pilot: str | None = None  # the EV's control pilot state letter (IEC 61851-1), if measured
    auth: tuple[str, str | None] | None = None  # (idTag, parentIdTag) allowed to start
    since: float = 0.0  # when Preparing began (ConnectionTimeOut)
    asking: str | None = None  # idTag in an Authorize.req
    tx: Tx | None = None
    sample: Reading | None = None
    sample_at: float = 0.0  # when `sample` arrived (monotonic)
    persisted_at: float = float("-inf")
    persisted_wh: float = float("-inf")  # the register reading persisted last
    limit_a: float | None = None
    offered_a: float = 0.0  # what the EVSE controller was told to offer (pilot connectors)
    unavailable_later: bool = False
    remote_profile: dict[str, Any] | None = None
    faults: Faults = field(default_factory=Faults)  # by source: relay, meter, EVSE, store
    low_since: float | None = None  # first sample below the SuspendedEV power threshold
    deauthorized: bool = False  # StartTransaction.conf refused the idTag, tx kept (§3.5.4)
    energy_cap_wh: float | None = None  # register value up to which it may still charge then
    reading: PendingRead | None = None  # a start waiting for its meterStart reading
    closing: list[PendingRead] = field(default_factory=list)  # stops waiting for meterStop
    meter_check: MeterCheck = field(default_factory=MeterCheck)
