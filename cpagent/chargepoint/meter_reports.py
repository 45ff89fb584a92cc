"""When and what MeterValues a charge point sends: periodic, clock-aligned and triggered."""

from __future__ import annotations

from collections.abc import Iterable

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.metering import (
    ReadingContext,
    meter_value,
    next_clock_aligned,
    next_periodic,
    sampled_values,
)
from cpagent.chargepoint.points import Point
from cpagent.chargepoint.ports import Host
from cpagent.chargepoint.smart_charging import Electrical
from cpagent.chargepoint.store import Store
from cpagent.chargepoint.tx_readings import add_stop_data

# The running transaction's register reading is persisted (for the PowerLoss stop after a
# power cut, OCPP 1.6 §4.10 meterStop) whenever it is PERSIST_METER_S old or has grown by
# PERSIST_METER_WH, whichever comes first: a cut loses at most min(P x 10 s, 20 Wh) plus one
# meter poll of energy. One durable commit is one 4 KiB WAL page and an fsync
# (README, "Reliability": the write rate this costs, measured by bench/store_writes.py).
PERSIST_METER_S = 10.0
PERSIST_METER_WH = 20.0


class MeterReports:
    """Periodic values (MeterValueSampleInterval from the transaction's start, §9.1.17),
    clock-aligned ones (ClockAlignedDataInterval, stamped exactly on the boundary, §9.1.7)
    and triggered ones (§5.17). Values of a transaction go into the durable queue
    (transaction-related, §3.16); others are sent only while online. StopTxnSampledData /
    StopTxnAlignedData values are collected at the same moments into the transaction's
    transactionData (§9.1 StopTxnSampledData, errata v4 3.14). A changed interval applies at
    once: the next sample is put on the new grid at the next tick (ChangeConfiguration is
    followed by one), not after the sample already due at the old interval.
    """

    def __init__(self, host: Host, store: Store, electrical: Electrical) -> None:
        self.host, self.store, self.electrical = host, store, electrical
        self.next_aligned: float | None = None  # wall seconds
        self._aligned_interval = 0

    def started(self, p: Point, now: float) -> None:
        if p.tx is not None:
            interval = self.host.settings.get_int("MeterValueSampleInterval")
            p.tx.next_sample = next_periodic(now, now, interval)
            p.tx.sample_interval = interval
            p.persisted_at = now
            p.persisted_wh = p.sample.energy_wh if p.sample is not None else float("-inf")

    def persist_due(self, p: Point, now: float) -> bool:
        """Whether the latest reading should be persisted now (see PERSIST_METER_S/_WH)."""
        if p.tx is None or p.sample is None:
            return False
        return (
            now - p.persisted_at >= PERSIST_METER_S
            or p.sample.energy_wh - p.persisted_wh >= PERSIST_METER_WH
        )

    def persist(self, p: Point, now: float) -> None:
        """Keep the latest register reading for a PowerLoss stop."""
        if p.tx is not None and p.sample is not None:
            self.store.record_meter(p.tx.local_id, p.sample.energy_wh, self.host.wall(now))
            p.persisted_at = now
            p.persisted_wh = p.sample.energy_wh

    def tick(self, points: Iterable[Point], now: float) -> None:
        points = list(points)
        interval = self.host.settings.get_int("MeterValueSampleInterval")
        for p in points:
            if p.tx is not None and p.tx.sample_interval != interval:  # §9.1.17 changed
                p.tx.sample_interval = interval
                p.tx.next_sample = next_periodic(p.tx.start_mono, now, interval)
            if p.tx is not None and p.tx.next_sample is not None and now >= p.tx.next_sample:
                self._sample(p, now, ReadingContext.SAMPLE_PERIODIC, now)
                p.tx.next_sample = next_periodic(p.tx.start_mono, now, interval)
        wall = self.host.wall(now)
        if wall is None:
            return
        interval = self.host.settings.get_int("ClockAlignedDataInterval")
        if interval != self._aligned_interval:  # changed by ChangeConfiguration: new grid
            self._aligned_interval = interval
            self.next_aligned = next_clock_aligned(wall, interval)
        if self.next_aligned is not None and wall >= self.next_aligned:
            boundary = self.next_aligned
            for p in points:
                self._sample(p, now, ReadingContext.SAMPLE_CLOCK, boundary - wall + now)
            self.next_aligned = next_clock_aligned(wall, interval)

    def deadlines(self, points: Iterable[Point]) -> list[float]:
        """Monotonic times at which `tick` has work."""
        times = [
            p.tx.next_sample for p in points if p.tx is not None and p.tx.next_sample is not None
        ]
        offset = self.host.clock_offset_s
        if offset is not None and self.next_aligned is not None:
            times.append(self.next_aligned - offset)
        return times

    def _sample(self, p: Point, now: float, context: ReadingContext, at: float) -> None:
        """Queue MeterValues for connector p stamped at monotonic `at` (the boundary)."""
        if p.sample is None or not p.connector.connector_id:
            return
        clock = context is ReadingContext.SAMPLE_CLOCK
        key = "MeterValuesAlignedData" if clock else "MeterValuesSampledData"
        values = sampled_values(
            p.sample, self.host.settings.get_list(key), context, self._offered_a(p)
        )
        wall = self.host.wall(at)
        stamp = to_wire(wall) if wall is not None else None
        if p.tx is not None:
            stop_key = "StopTxnAlignedData" if clock else "StopTxnSampledData"
            stop_values = sampled_values(
                p.sample, self.host.settings.get_list(stop_key), context, self._offered_a(p)
            )
            if stop_values:
                add_stop_data(p.tx, {"timestamp": stamp, "sampledValue": stop_values}, at)
        if not values:
            return
        mv = {"timestamp": stamp, "sampledValue": values}
        cid = p.connector.connector_id
        if p.tx is not None:
            self.persist(p, now)
            self.host.meter_values(cid, None, [mv], local_tx=p.tx.local_id, mono=at)
        elif self.host.online and wall is not None:
            self.host.meter_values(cid, None, [mv])

    def _offered_a(self, p: Point) -> float:
        """Current.Offered (§7.31, "maximum current offered to EV"): on a pilot connector what
        the pilot offers (0 below 6 A, IEC 61851-1 Table A.8); else the smart-charging limit,
        or the connector's rating without one."""
        if p.pilot is not None:
            return p.offered_a
        rating = self.electrical.rating_a(p.connector.connector_id)
        return rating if p.limit_a is None else min(p.limit_a, rating)

    def trigger(self, points: dict[int, Point], cid: int | None, now: float) -> None:
        """TriggerMessage MeterValues (§5.17): the latest sample, context Trigger."""
        for c, p in points.items():
            if cid in (None, 0, c) and p.sample is not None and c:
                values = sampled_values(
                    p.sample,
                    self.host.settings.get_list("MeterValuesSampledData"),
                    ReadingContext.TRIGGER,
                    self._offered_a(p),
                )
                wall = self.host.wall(now)
                if values and wall is not None:
                    tx_id = p.tx.transaction_id if p.tx is not None else None
                    self.host.meter_values(c, tx_id, [meter_value(wall, values)], triggered=True)
