"""The OCPP 1.6 chargepoint as the daemon's application: events in, frames and commands out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cpagent.chargepoint.chargepoint import ChargePoint
from cpagent.chargepoint.commands import (
    Command,
    DeEnergiseRelay,
    EnergiseRelay,
    ReadMeter,
    RestartRequested,
    SetCurrentLimit,
    SetOfferedCurrent,
)
from cpagent.chargepoint.firmware_events import FIRMWARE_EVENTS
from cpagent.chargepoint.store import DATABASE_FILE, RETRY_DISK_S, Store, StoreWriteError
from cpagent.chargepoint.store_history import Retention
from cpagent.core import schemas
from cpagent.daemon import memory
from cpagent.daemon.app_setup import (
    apply_stored_ping_interval,
    boot_payload,
    firmware_worker,
    os_boot_id,
)
from cpagent.daemon.bench import BenchControls
from cpagent.daemon.context import AppContext
from cpagent.daemon.events import ShutdownRequested
from cpagent.daemon.hardware import connector_electrical
from cpagent.daemon.link_status import LinkStatus, Problems, Started, note_link
from cpagent.daemon.status_report import connector_facts, oldest_queued_s, registration_facts
from cpagent.ids import uuid4_hex
from cpagent.redact import mask_id_tag
from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from hw.errors import EvseError
from hw.events import (
    CardPresented,
    DeviceFaulted,
    DeviceRecovered,
    MeterReadFailed,
    MeterSampled,
    PilotChanged,
    PlugChanged,
)

log = logging.getLogger(__name__)

EX_TEMPFAIL = 75  # sysexits.h: Reset.req accepted; non-zero so Restart=on-failure restarts us
STOP_BOUND_S = 5.0  # on SIGTERM, how long StopTransactions may take to be acknowledged
# (below the runner's 10 s grace, and systemd's 90 s TimeoutStopSec)
HW_EVENTS = (
    PlugChanged,
    CardPresented,
    MeterSampled,
    MeterReadFailed,
    DeviceFaulted,
    DeviceRecovered,
    PilotChanged,
)
READER_SOURCE = "rfid"  # wiring's label for the card reader; 0 = the whole charge point


class ChargepointApplication:
    """An `Application` (cpagent.daemon.loop) driving `cpagent.chargepoint.ChargePoint`.

    Theory of operation (docs/chargepoint.md "Seam for the daemon"): every input (transport
    event, hw event, deadline) goes to the ChargePoint with `now`; after each, its frames go to
    the transport in order and its commands to the hardware. The store is opened here, before
    READY=1, and the first commands (open every relay: the power-loss rule) run at once.
    """

    def __init__(
        self,
        ctx: AppContext,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        config, hardware = ctx.config, ctx.hardware
        self._ctx = ctx
        self._bench = BenchControls(hardware)
        self._store = Store.open(
            config.state.dir / DATABASE_FILE, chargepoint_id=config.chargepoint.id
        )
        self._store.retention = Retention(
            config.state.history_days, config.state.history_max_sessions
        )
        apply_stored_ping_interval(self._store, ctx.transport)
        sources = {label: conn.id for conn in hardware.connectors for label in conn.sources}
        sources |= {_store_source(conn.id): conn.id for conn in hardware.connectors}
        sources[READER_SOURCE] = 0
        electrical = connector_electrical(hardware.connectors)
        self._firmware = firmware_worker(config, ctx.post)
        self._cp = ChargePoint(
            store=self._store,
            boot_payload=boot_payload(config),
            connector_ids=[conn.id for conn in hardware.connectors],
            boot_id=os_boot_id(),
            new_id=uuid4_hex,
            now=clock(),
            sources=sources,
            electrical=electrical,
            call_timeout=config.csms.call_timeout_s,
            firmware_management=self._firmware is not None,
        )
        self._clock, self._wall = clock, wall
        self._started = Started(wall(), clock())
        self._restart_bound_s = config.csms.call_timeout_s
        self._validators_seen = 0
        self._exit: _PendingExit | None = None  # Reset or signal: exit once Stops are acked
        self._link = LinkStatus(config.csms.transport, config.csms.protocol, since=wall())
        self._problems = Problems()  # what `last_error` shows until its cause is gone
        self._last_card: str | None = None
        self._flush()

    # -- Application ------------------------------------------------------------------------
    def on_event(self, event: object, now: float) -> None:
        self._guarded(now, self._on_event, event, now)

    def _on_event(self, event: object, now: float) -> None:
        if isinstance(event, TransportUp):
            note_link(self._link, self._problems, event, self._wall())
            log.info("connected to CSMS (%s)", event.subprotocol)
            self._cp.connected(now, event.subprotocol)
        elif isinstance(event, TransportDown):
            if self._link.connected:
                log.warning("CSMS link down: %s", event.reason)
            note_link(self._link, self._problems, event, self._wall())
            self._cp.disconnected(now)
        elif isinstance(event, FrameReceived):
            log.debug("<- %s", event.text)
            self._link.last_received = self._wall()
            self._cp.receive(event.text, now)
        elif isinstance(event, HW_EVENTS):
            self._note(event)
            if (isinstance(event, PlugChanged) and not event.plugged) or (
                isinstance(event, PilotChanged) and event.pilot == "A"
            ):
                # No cable, no power: open at once, before the chargepoint commits the
                # transaction's end to disk (it asks for the same, idempotently).
                self._open_relay_of(event.source)
            self._cp.hw_event(event, now)
        elif isinstance(event, FIRMWARE_EVENTS):
            log.info("firmware: %s", event)
            self._cp.firmware_event(event, now)
        else:
            log.debug("ignored event %r", event)
            return
        self._flush()

    def next_deadline(self) -> float | None:
        deadline = self._cp.next_deadline()
        if self._exit is not None:
            deadline = (
                min(deadline, self._exit.latest) if deadline is not None else (self._exit.latest)
            )
        if self._store.fault is not None:
            retry = self._store.retry_at
            deadline = retry if deadline is None else min(deadline, retry)
        return deadline

    def on_deadline(self, now: float) -> None:
        self._guarded(now, self._on_deadline, now)

    def _on_deadline(self, now: float) -> None:
        self._cp.tick(now)
        self._flush()

    def command(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._bench.handle(request)

    def status(self) -> dict[str, Any]:
        """The answer to `cpagent status` (docs/operations.md lists every field); times are
        the board's clock, RFC 3339 UTC. Card ids are in full: the CLI masks them."""
        now, wall = self._clock(), self._wall()

        def wall_of(mono: float) -> float:
            return wall - (now - mono)

        points, link = self._cp.charging.points, self._link
        connectors = [
            connector_facts(
                conn.id,
                points[conn.id],
                relay=conn.relay.energised,
                offered_current_a=None if conn.evse is None else conn.evse.offered_current_a,
                wall_of=wall_of,
            )
            for conn in self._ctx.hardware.connectors
        ]
        clock = self._cp.clock
        return {
            "application": "chargepoint",
            "chargepoint": self._ctx.config.chargepoint.id,
            **self._started.facts(now),
            **link.facts(),
            **registration_facts(
                self._cp.registration, link.connected, self._cp.next_boot_at, wall_of
            ),
            "status": points[0].connector.status.value,
            "connectors": connectors,
            "queued_messages": self._store.queue_depth(),
            "oldest_queued_s": oldest_queued_s(
                self._store.head(), self._cp.boot_id, now, clock.wall(now) if clock.is_set else None
            ),
            "store": {"ok": self._store.fault is None, "error": self._store.fault},
            "last_card": self._last_card,
            **self._problems.facts(),
        }

    def begin_stop(self, reason: str, now: float) -> bool:
        """Open every relay, end running transactions (reason Reboot: a locally initiated
        restart or stop, OCPP 1.6 §7.28) and exit once their Stops are acknowledged."""
        for conn in self._ctx.hardware.connectors:
            conn.relay.de_energise()
        self._cp.charging.stop_all("Reboot", now)
        self._exit = _PendingExit(reason, 0, now + min(STOP_BOUND_S, self._restart_bound_s))
        self._flush()
        return True

    def shutdown(self, reason: str) -> None:
        log.info("chargepoint stopping: %s", reason)
        if self._firmware is not None:
            self._firmware.stop()
        self._store.close()

    # -- state store write faults -----------------------------------------------------------
    def _guarded(self, now: float, handler: Callable[..., None], *args: object) -> None:
        """Run `handler`; a failing store write becomes a fault, never a crash."""
        try:
            handler(*args)
        except StoreWriteError as exc:
            self._store_failed(str(exc), now)
        if self._store.fault is not None and now >= self._store.retry_at:
            self._retry_store(now)

    def _store_failed(self, reason: str, now: float) -> None:
        """A write failed (disk full, I/O error); the store now works from memory. Open
        every contactor at once, then end each transaction as on any fault (§4.9 Faulted,
        errorCode OtherError, vendorErrorCode below): its StopTransaction carries the
        reading in memory, is queued in memory and sent while online."""
        for conn in self._ctx.hardware.connectors:
            try:
                conn.relay.de_energise()
            except Exception as exc:
                log.critical("%s: could not open contactor: %s", conn.source, exc)
        self._problems.raise_(STORE_ERROR, reason, self._wall())
        self._store.retry_at = now + RETRY_DISK_S
        detail = f"state store: {self._store.fault or 'write failed'}"
        for conn in self._ctx.hardware.connectors:
            fault = DeviceFaulted(
                _store_source(conn.id), "OtherError", detail, vendor_code=STORE_VENDOR_ERROR
            )
            try:
                self._cp.hw_event(fault, now)
            except StoreWriteError:  # memory failing too: the relays are open already
                log.critical("state store: memory fallback failed as well")
        self._flush()

    def _retry_store(self, now: float) -> None:
        if not self._store.retry_disk():
            self._store.retry_at = now + RETRY_DISK_S
            return
        self._problems.clear(STORE_ERROR)
        for conn in self._ctx.hardware.connectors:
            self._cp.hw_event(DeviceRecovered(_store_source(conn.id)), now)
        self._flush()

    # -- helpers ----------------------------------------------------------------------------
    def _note(self, event: object) -> None:
        if isinstance(event, CardPresented):
            self._last_card = event.id_tag
            log.info("card presented on %s: %s", event.source, mask_id_tag(event.id_tag))
        elif isinstance(event, DeviceFaulted):
            message = f"{event.source}: {event.code}: {event.detail}"
            self._problems.raise_(event.source, message, self._wall())
            log.error("%s faulted: %s (%s)", event.source, event.code, event.detail)
        elif isinstance(event, DeviceRecovered):
            self._problems.clear(event.source)
            log.info("%s recovered", event.source)
        elif isinstance(event, PlugChanged):
            log.info("%s: %s", event.source, "plugged" if event.plugged else "unplugged")
        elif isinstance(event, PilotChanged):
            log.info("%s: pilot %s -> %s", event.source, event.previous, event.pilot)

    def _flush(self) -> None:
        """Commands to the hardware first (a contactor opens before any frame is written),
        then frames to the transport in order."""
        for command in self._cp.drain_commands():
            self._apply(command)
        for text in self._cp.drain_frames():
            log.debug("-> %s", text)
            if self._ctx.transport.send(text):
                self._link.last_sent = self._wall()
            else:
                log.debug("frame not sent: link down")  # TransportDown follows
        for job in self._cp.drain_jobs():
            if self._firmware is not None:
                self._firmware.submit(job)
        if schemas.compiled_count() != self._validators_seen:
            # New validators were compiled (first use of an action): return the compiler's
            # freed scratch memory, ~2.5 MiB, to the OS. Rare, and ~1 ms when it happens.
            self._validators_seen = schemas.compiled_count()
            memory.trim()
        self._exit_when_flushed()

    def _exit_when_flushed(self) -> None:
        """Exit (Reset or signal) once the StopTransactions queued for it are acknowledged
        (§5.14: sent before resetting), the link is down, or the bound has passed; whatever
        is left stays queued in the store and goes out after the restart."""
        pending = self._exit
        if pending is None:
            return
        if self._cp.charging.readings.pending():
            return  # a Stop is held for its final meter reading (<= 1 s, then it is released)
        if self._link.connected and self._store.queue_depth() and self._clock() < pending.latest:
            return
        self._exit = None
        log.warning("%s: exiting", pending.reason)
        self._ctx.post(ShutdownRequested(pending.reason, pending.exit_code))

    def _open_relay_of(self, source: str) -> None:
        for conn in self._ctx.hardware.connectors:
            if source in conn.sources and conn.relay.energised:
                log.info("%s: opening contactor (unplugged)", conn.source)
                conn.relay.de_energise()

    def _apply(self, command: Command) -> None:
        if isinstance(command, RestartRequested):
            if self._exit is None:
                self._exit = _PendingExit(
                    f"Reset {command.kind}", EX_TEMPFAIL, self._clock() + self._restart_bound_s
                )
            return
        conn = self._ctx.hardware.connector(command.connector_id)
        if isinstance(command, ReadMeter):
            if conn.poller is not None:  # the answer comes back as an event; never blocks
                conn.poller.read_now(command.request)
        elif isinstance(command, EnergiseRelay):
            log.info("%s: closing contactor", conn.source)
            conn.relay.energise()
        elif isinstance(command, DeEnergiseRelay):
            log.info("%s: opening contactor", conn.source)
            conn.relay.de_energise()
        elif isinstance(command, SetCurrentLimit):
            if conn.limiter is None:
                log.info(
                    "%s: limit %s A not applied (no current limiter)", conn.source, command.amps
                )
            else:
                conn.limiter.set_limit_a(command.amps)
        elif isinstance(command, SetOfferedCurrent):
            if conn.evse is None:
                return
            log.info("%s: offering %g A (control pilot)", conn.source, command.amps)
            if conn.evse_writer is not None:  # the bus write waits off the owner thread
                conn.evse_writer.offer(command.amps)
                return
            try:
                conn.evse.set_current_a(command.amps)
            except (EvseError, ValueError) as exc:  # unreachable: the driver retries each read
                log.error("%s: offering %g A failed: %s", conn.source, command.amps, exc)


STORE_ERROR = "state-store"  # the error key of state store write faults
STORE_VENDOR_ERROR = "StateStoreWrite"  # vendorErrorCode of a store write fault (CiString50)


def _store_source(connector_id: int) -> str:
    """The fault source standing for the state store on one connector."""
    return f"state-store:{connector_id}"


@dataclass(frozen=True, slots=True)
class _PendingExit:
    """An exit waiting for queued StopTransactions: why, with which code, and by when."""

    reason: str
    exit_code: int
    latest: float
