"""Transactions start and stop at a fresh meter reading: ask the poller, wait at most 1 s."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cpagent.chargepoint.clock import to_wire
from cpagent.chargepoint.commands import ReadMeter
from cpagent.chargepoint.meter_check import BACKWARDS_SLACK_WH, POWER_MARGIN, SLACK_WH
from cpagent.chargepoint.metering import Reading, ReadingContext, sampled_values
from cpagent.chargepoint.points import PendingRead, Point, StopIntent, Tx
from cpagent.chargepoint.ports import Host
from cpagent.chargepoint.smart_charging import Electrical
from cpagent.chargepoint.store import Store
from hw.events import MeterReadFailed, MeterSampled

tx_log = logging.getLogger("cpagent.chargepoint.transactions")

READ_BOUND_S = 1.0
"""How long a start or stop waits for its own meter reading (one Modbus request)."""

MAX_STOP_DATA = 96
"""Most MeterValue entries in StopTransaction.transactionData. When full, every second
periodic/clock entry is dropped (Transaction.Begin kept): the span stays whole at half the
resolution. 96 entries of all six measurands on three phases are about 140 kB of JSON;
with Energy + Power (the default MeterValuesSampledData) about 34 kB."""


def add_stop_data(tx: Tx, entry: dict[str, Any], mono: float) -> None:
    """Append one MeterValue taken at monotonic `mono` to the transaction's transactionData,
    within MAX_STOP_DATA."""
    data = tx.stop_data
    if len(data) >= MAX_STOP_DATA:
        data[1:] = data[2::2]  # keep [0] (Transaction.Begin), halve the rest
    data.append({**entry, "_mono": mono})


def _stamped(host: Host, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """transactionData for the wire: entries taken before the clock was known get their time
    now that it may be (else the store back-dates them with the Stop)."""
    out = []
    for entry in data:
        mv = {k: v for k, v in entry.items() if k != "_mono"}
        if mv["timestamp"] is None and (wall := host.wall(entry["_mono"])) is not None:
            mv["timestamp"] = to_wire(wall)
        out.append(mv)
    return out


class TxReadings:
    """meterStart / meterStop are fresh register values (OCPP 1.6 §4.8, §4.10, §3.16).

    Theory of operation: a start (authorized and plugged, relay still open) or a stop (relay
    opened first) posts a ReadMeter command; the poller thread does one read and posts the
    sample tagged with the request. The owner thread never waits: the start or stop completes
    when that event arrives. If it does not within READ_BOUND_S (meter slow or failing), the
    choice that keeps billing data:
    - start: the latest periodic reading. The relay has been open since it was taken, so the
      register has not moved since; with no reading at all yet (just booted, meter silent) the
      transaction waits, relay open, and starts with the first reading that arrives.
    - stop: the latest reading (or the last persisted one): never no StopTransaction.
    Both cases are logged at WARNING. The relay closes only once meterStart is read: on an
    SDM630 at 9600 baud one request (80 registers) takes about 0.2 s on the wire.

    A stop does not wait to be durable: in the step that ends the transaction its
    StopTransaction.req is queued, with its reason, idTag and time and the latest reading as
    meterStop, but held (not sent; §3.7 order: nothing behind it goes either). The reading's
    answer (or the bound) patches meterStop and the Transaction.End value and releases it,
    in one commit (`Store.release_stop`). A crash in that wait leaves it held; at the restart
    the register is read and, when plausible, becomes its meterStop (as for a PowerLoss
    stop, which is queued held too), and it goes with its own reason and idTag.
    """

    def __init__(
        self,
        host: Host,
        store: Store,
        electrical: Electrical,
        points: Mapping[int, Point],
        begin: Callable[[Point, Reading, float], None],
    ) -> None:
        """`points`: the model's connectors; `begin`: starts a transaction at a reading."""
        self.host, self.store = host, store
        self.electrical, self.points, self.begin = electrical, points, begin
        self._ids = itertools.count(1)

    def _ask(self, p: Point, now: float, stop: StopIntent | None = None) -> PendingRead:
        request = next(self._ids)
        self.host.command(ReadMeter(p.connector.connector_id, request))
        return PendingRead(request, now + READ_BOUND_S, stop)

    # -- requests -----------------------------------------------------------------------------
    def want_start(self, p: Point, now: float) -> None:
        if p.reading is None:
            p.reading = self._ask(p, now)

    def want_stop(self, p: Point, intent: StopIntent, now: float) -> None:
        """The transaction ended (relay open): queue its Stop held, then read the meter."""
        self._queue_stop(p, intent)
        p.closing.append(self._ask(p, now, intent))

    def want_restart_read(self, p: Point, local_id: int, queued_wh: float, now: float) -> None:
        """A Stop found held at start (queued as PowerLoss for a transaction cut by a power
        loss or crash, or a stop whose final reading never came) carries the last reading
        known; the relay opened with the power, so the register read now is its true end.
        Ask for it; the queue waits (<= 1 s) so the Stop goes out once."""
        read = self._ask(p, now)
        read.power_loss = (local_id, queued_wh)
        p.closing.append(read)

    def holds_queue(self) -> bool:
        """A PowerLoss stop waits for its boot reading: nothing from the queue goes yet."""
        return any(r.power_loss is not None for p in self.points.values() for r in p.closing)

    def pending(self) -> bool:
        """A stop still waits for its reading (its StopTransaction is queued, held)."""
        return any(p.closing for p in self.points.values())

    # -- answers ------------------------------------------------------------------------------
    def sampled(self, p: Point, ev: MeterSampled, now: float) -> None:
        if ev.request is not None:
            self._answered(p, ev.request, ev.sample, now)
        elif p.reading is not None and p.reading.warned:
            p.reading = None  # the first reading after none at all: the relay is still open
            self.begin(p, ev.sample, now)

    def failed(self, p: Point, ev: MeterReadFailed, now: float) -> None:
        self._answered(p, ev.request, None, now)

    def _answered(self, p: Point, request: int, sample: Reading | None, now: float) -> None:
        if p.reading is not None and p.reading.request == request:
            if sample is None:
                self._start_anyway(p, now)
            else:
                p.reading = None
                self.begin(p, sample, now)
        for read in [r for r in p.closing if r.request == request]:
            p.closing.remove(read)
            self._finish(p, read, sample, now)

    def tick(self, points: Iterable[Point], now: float) -> None:
        for p in points:
            if p.reading is not None and not p.reading.warned and now >= p.reading.deadline:
                self._start_anyway(p, now)
            for read in [r for r in p.closing if now >= r.deadline]:
                p.closing.remove(read)
                self._finish(p, read, None, now)

    def deadlines(self, points: Iterable[Point]) -> list[float]:
        out = []
        for p in points:
            if p.reading is not None and not p.reading.warned:
                out.append(p.reading.deadline)
            out += [r.deadline for r in p.closing]
        return out

    # -- outcomes -----------------------------------------------------------------------------
    def _start_anyway(self, p: Point, now: float) -> None:
        cid = p.connector.connector_id
        if p.sample is not None:
            tx_log.warning(
                "connector %d: no fresh meter reading within %.0f s; meterStart from "
                "the latest one (%.1f s old, relay open since)",
                cid,
                READ_BOUND_S,
                max(now - p.sample_at, 0.0),
            )
            p.reading = None
            self.begin(p, p.sample, now)
        elif p.reading is not None:
            p.reading.warned = True
            tx_log.warning(
                "connector %d: no meter reading yet; the transaction starts, relay "
                "closed, with the first reading that arrives",
                cid,
            )

    def _power_loss(self, p: Point, read: PendingRead, sample: Reading | None) -> None:
        assert read.power_loss is not None
        local_id, persisted = read.power_loss
        cid = p.connector.connector_id
        if sample is None:
            self.store.release_stop(local_id)  # no reading: the value queued stands
            return
        e = self.electrical
        # what can have flowed since the last persist: PERSIST_METER_S plus a poll, at full
        # power (with the plausibility margin); more, or less than persisted, is not this
        # transaction's energy (a replaced meter, a long outage with the relay stuck closed)
        most = e.voltage_v * e.phases * e.max_current_a * POWER_MARGIN * 75.0 / 3600 + SLACK_WH
        if not persisted - BACKWARDS_SLACK_WH <= sample.energy_wh <= persisted + most:
            tx_log.warning(
                "connector %d: register at start %.0f Wh is not plausible after the "
                "last persisted %.0f Wh; the stop keeps the latter",
                cid,
                sample.energy_wh,
                persisted,
            )
            self.store.release_stop(local_id)
            return
        meter = round(max(sample.energy_wh, persisted))
        end: list[dict[str, Any]] = []
        if meter == round(sample.energy_wh):  # Transaction.End equals meterStop (§7.35)
            end = self._end_values(sample)
        self.store.release_stop(local_id, meter, end)
        tx_log.info(
            "connector %d: transaction local #%d ended before this start: meterStop %d Wh "
            "read at start (last known %.0f Wh)",
            cid,
            local_id,
            meter,
            persisted,
        )

    def _end_values(self, sample: Reading) -> list[dict[str, Any]]:
        """The Transaction.End SampledValues of `sample` (StopTxnSampledData, §3.16)."""
        measurands = self.host.settings.get_list("StopTxnSampledData")
        if not measurands:
            return []
        return sampled_values(sample, measurands, ReadingContext.TRANSACTION_END)

    def _queue_stop(self, p: Point, intent: StopIntent) -> None:
        """Queue the StopTransaction.req at once, held, with the latest reading at hand."""
        tx = intent.tx
        # the latest reading; with none this run at all, the last persisted one
        meter = p.sample.energy_wh if p.sample is not None else _persisted_meter(self.store, tx)
        wall = self.host.wall(intent.at)
        stamp = None if wall is None else to_wire(wall)
        if p.sample is not None and (end := self._end_values(p.sample)):
            add_stop_data(tx, {"timestamp": stamp, "sampledValue": end}, intent.at)
        data = _stamped(self.host, tx.stop_data) if tx.stop_data else None
        self.host.transaction_ended(
            tx.local_id,
            round(meter),
            stamp,
            intent.reason,
            intent.id_tag,
            data,
            intent.at,
            held=True,
        )

    def _finish(self, p: Point, read: PendingRead, sample: Reading | None, now: float) -> None:
        if read.power_loss is not None:
            self._power_loss(p, read, sample)
            return
        intent = read.stop
        assert intent is not None
        tx, cid = intent.tx, p.connector.connector_id
        if sample is None:
            sample = p.sample
            if sample is not None:
                tx_log.warning(
                    "connector %d: no fresh meter reading within %.0f s of the stop; "
                    "meterStop from the latest one (%.1f s old)",
                    cid,
                    READ_BOUND_S,
                    max(now - p.sample_at, 0.0),
                )
        if sample is None:  # no reading this run at all: as queued, the last persisted one
            tx_log.warning(
                "connector %d: no meter reading; meterStop from the last persisted register value",
                cid,
            )
            self.store.release_stop(tx.local_id)
            meter_stop = round(_persisted_meter(self.store, tx))  # what it was queued with
        else:
            meter_stop = round(sample.energy_wh)
            self.store.release_stop(tx.local_id, meter_stop, self._end_values(sample))
        tx_log.info(
            "connector %d: transaction %s stopped (%s): %.3f kWh delivered, meterStop %d Wh",
            cid,
            _tx_name(tx),
            intent.reason,
            max(meter_stop - round(tx.meter_start_wh), 0) / 1000.0,
            meter_stop,
        )


def _persisted_meter(store: Store, tx: Tx) -> float:
    """Transaction `tx`'s last persisted register value (running or stopped; meterStart if
    none was persisted): the meterStop its Stop is queued with when no reading is at hand."""
    recs = [r for r in store.transactions(include_stopped=True) if r.local_id == tx.local_id]
    return recs[0].last_meter_wh if recs else tx.meter_start_wh


def _tx_name(tx: Tx) -> str:
    return f"local #{tx.local_id}" if tx.transaction_id is None else str(tx.transaction_id)
